"""Read a coloured point cloud from a PLY file (any PLY the shared reader takes).

Only the `vertex` element's x, y, z and optional red/green/blue (integer 0..max or float 0..1)
are used; this is the initial point cloud of a dataset, not a splat file.
"""
from __future__ import annotations

import numpy as np

from procgen.core.ply import read_ply_element

from ..splats.errors import SplatFormatError

COLOUR_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))


def read_points_ply(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (points [P, 3] float32, colours [P, 3] float32 in [0, 1] or None)."""
    v = read_ply_element(path, "vertex")
    for axis in "xyz":
        if axis not in v:
            raise SplatFormatError(path, f"vertex element has no '{axis}' property")
    pts = np.stack([v["x"], v["y"], v["z"]], -1).astype(np.float32)
    for keys in COLOUR_NAMES:
        if all(k in v for k in keys):
            rgb = np.stack([v[k] for k in keys], -1).astype(np.float64)
            kind = v.data.dtype.fields[keys[0]][0]
            if kind.kind == "u":  # integer colours span their type's range
                rgb /= np.iinfo(kind).max
            return pts, np.clip(rgb, 0.0, 1.0).astype(np.float32)
    return pts, None
