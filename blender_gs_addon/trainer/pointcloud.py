"""Read a coloured point cloud from a PLY file (binary little/big endian or ASCII).

Only the `vertex` element's x, y, z and optional red/green/blue (uchar 0..255 or float 0..1)
are used; this is the initial point cloud of a dataset, not a splat file.
"""
from __future__ import annotations

import numpy as np

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


def read_points_ply(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (points [P, 3] float32, colours [P, 3] float32 in [0, 1] or None)."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise ValueError(f"{path}: not a PLY file (missing 'ply' magic or 'end_header')")
    body_start = data.index(b"\n", end) + 1
    header = data[:end].decode("ascii", "replace").splitlines()
    fmt = None
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    for line in header:
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "format":
            fmt = tok[1]
        elif tok[0] == "element":
            elements.append((tok[1], int(tok[2]), []))
        elif tok[0] == "property":
            if tok[1] == "list":
                raise ValueError(f"{path}: list properties before the vertex data are not supported")
            if tok[1] not in _TYPES:
                raise ValueError(f"{path}: unknown PLY property type '{tok[1]}'")
            elements[-1][2].append((tok[2], tok[1]))
    if not elements or elements[0][0] != "vertex":
        raise ValueError(f"{path}: the first PLY element must be 'vertex'")
    _, count, props = elements[0]
    names = [p[0] for p in props]
    for axis in "xyz":
        if axis not in names:
            raise ValueError(f"{path}: vertex element has no '{axis}' property")
    if fmt == "ascii":
        rows = data[body_start:].decode("ascii").split("\n")
        values = np.array([r.split()[: len(props)] for r in rows[:count]], dtype=np.float64)
        cols = {n: values[:, i] for i, n in enumerate(names)}
    elif fmt in ("binary_little_endian", "binary_big_endian"):
        order = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(n, order + _TYPES[t]) for n, t in props])
        if len(data) - body_start < count * dtype.itemsize:
            raise ValueError(f"{path}: file is shorter than its header says ({count} vertices)")
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=body_start)
        cols = {n: arr[n].astype(np.float64) for n in names}
    else:
        raise ValueError(f"{path}: unknown PLY format '{fmt}'")
    pts = np.stack([cols["x"], cols["y"], cols["z"]], -1).astype(np.float32)
    rgb = None
    for keys in (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue")):
        if all(k in cols for k in keys):
            rgb = np.stack([cols[k] for k in keys], -1)
            kind = dict(props)[keys[0]]
            if _TYPES[kind].startswith("u1"):
                rgb = rgb / 255.0
            elif _TYPES[kind].startswith("u2"):
                rgb = rgb / 65535.0
            rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
            break
    return pts, rgb
