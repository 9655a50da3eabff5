"""The terrain object from a :class:`~procgen.terrain.heightfield.Heightfield`."""
from __future__ import annotations

import numpy as np

from ..geometry.blender_mesh import mesh_from_arrays, new_object
from .heightfield import Heightfield


def grid_faces(n: int) -> np.ndarray:
    """Quad faces of an n x n vertex grid, counter-clockwise seen from +z. [(n-1)^2, 4]"""
    idx = np.arange(n * n, dtype=np.int32).reshape(n, n)
    return np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1).reshape(-1, 4)


def build_terrain(hf: Heightfield, material=None, name: str = "terrain"):
    """The terrain mesh object (smooth shaded) at the origin."""
    c = hf.coords
    x, y = np.meshgrid(c, c)
    verts = np.stack([x, y, hf.z], axis=-1).reshape(-1, 3)
    me = mesh_from_arrays(name, verts, grid_faces(hf.n), smooth=True)
    if material is not None:
        me.materials.append(material)
    ob = new_object(name, me, "terrain")
    ob["gs_kind"] = hf.kind
    return ob
