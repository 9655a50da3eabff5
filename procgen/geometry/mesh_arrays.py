"""Mesh geometry as numpy arrays (bpy-free): what every asset factory returns before it
becomes a Blender mesh, so that copies can be merged into clumps without Blender.

Faces may have any number of corners: ``loops`` holds the vertex indices of all faces one
after the other and ``sizes`` the corner count of each face.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Geo:
    verts: np.ndarray                      # [V, 3] float64
    loops: np.ndarray                      # [L] int32, vertex index of each face corner
    sizes: np.ndarray                      # [F] int32, corners per face
    mat: np.ndarray                        # [F] int32, material slot of each face
    smooth: np.ndarray                     # [F] bool
    attrs: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [V] float32 per-vertex values

    @staticmethod
    def from_faces(verts: np.ndarray, faces, mat: int | np.ndarray = 0, smooth: bool = False,
                   attrs: dict | None = None) -> "Geo":
        """From vertices [V, 3] and faces: an int array [F, k] or a list of index arrays."""
        verts = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
        if isinstance(faces, np.ndarray):
            faces = faces.reshape(len(faces), -1) if faces.size else faces.reshape(0, 3)
            loops = faces.reshape(-1).astype(np.int32)
            sizes = np.full(len(faces), faces.shape[1], np.int32)
        else:
            loops = np.concatenate([np.asarray(f, np.int32) for f in faces]) if faces else np.zeros(0, np.int32)
            sizes = np.array([len(f) for f in faces], np.int32)
        nf = len(sizes)
        mat = np.broadcast_to(np.asarray(mat, np.int32), (nf,)).copy()
        sm = np.full(nf, bool(smooth))
        out = {k: np.broadcast_to(np.asarray(v, np.float32), (len(verts),)).copy() for k, v in (attrs or {}).items()}
        return Geo(verts, loops, sizes, mat, sm, out)

    @staticmethod
    def empty() -> "Geo":
        return Geo(np.zeros((0, 3)), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32),
                   np.zeros(0, bool))

    @property
    def n_verts(self) -> int:
        return len(self.verts)

    @property
    def n_faces(self) -> int:
        return len(self.sizes)

    def transformed(self, rot: np.ndarray, offset: np.ndarray, scale: float | np.ndarray = 1.0) -> "Geo":
        """A copy moved by ``verts * scale @ rot.T + offset`` (rot [3, 3], offset [3])."""
        v = (self.verts * scale) @ np.asarray(rot).T + np.asarray(offset)
        return Geo(v, self.loops, self.sizes, self.mat, self.smooth, dict(self.attrs))


def concat(parts: list[Geo]) -> Geo:
    """One geometry holding all ``parts`` (attributes missing from a part are 0 there)."""
    parts = [p for p in parts if p.n_verts]
    if not parts:
        return Geo.empty()
    offsets = np.cumsum([0] + [p.n_verts for p in parts[:-1]])
    names = sorted({k for p in parts for k in p.attrs})
    attrs = {k: np.concatenate([p.attrs.get(k, np.zeros(p.n_verts, np.float32)) for p in parts]) for k in names}
    return Geo(np.concatenate([p.verts for p in parts]),
               np.concatenate([p.loops + o for p, o in zip(parts, offsets)]).astype(np.int32),
               np.concatenate([p.sizes for p in parts]), np.concatenate([p.mat for p in parts]),
               np.concatenate([p.smooth for p in parts]), attrs)


def frames(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each direction d [S, 3] and to each other."""
    ref = np.where(np.abs(d[:, 2:3]) < 0.9, np.array([[0, 0, 1.0]]), np.array([[1.0, 0, 0]]))
    u = np.cross(d, ref)
    u /= np.linalg.norm(u, axis=1, keepdims=True) + 1e-12
    v = np.cross(d, u)
    return u, v


def unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)


def rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def euler_xyz(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation matrix of Blender's XYZ Euler angles (x first, then y, then z)."""
    cx, sx, cy, sy = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry)
    rx_m = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry_m = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rotation_z(rz) @ ry_m @ rx_m


# --- shapes shared by many factories -----------------------------------------------------

LEAF_T = np.array([0.12, 0.32, 0.55, 0.78])  # where the outline points sit along the midrib


def leaf_outline(width: float, fold: float, droop: float, pointed: float = 0.8) -> np.ndarray:
    """A unit-length leaf in its own frame [2 + 2 * 4, 3]: base, tip, then the left and right
    edge points. The midrib runs along +x, the blade faces +z, folded up along the midrib
    by ``fold`` and bent down towards the tip by ``droop``."""
    t = LEAF_T
    w = width * np.sin(np.pi * t) ** pointed
    mid = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    left = np.stack([t, w, fold * w], 1)
    right = np.stack([t, -w, fold * w], 1)
    pts = np.concatenate([mid, left, right])
    pts[:, 2] -= droop * pts[:, 0] ** 2
    return pts


def leaf_faces(n_leaves: int) -> list[np.ndarray]:
    """Two faces per leaf of ``leaf_outline`` (left half, right half), 10 vertices per leaf."""
    base = np.arange(n_leaves)[:, None] * 10
    left = np.concatenate([[0], 2 + np.arange(4), [1]])          # base, left edge, tip
    right = np.concatenate([[0], [1], 6 + np.arange(4)[::-1]])    # base, tip, right edge back
    faces = np.empty((2 * n_leaves, 6), np.int32)
    faces[0::2] = base + left
    faces[1::2] = base + right
    return faces


def place_leaves(outline: np.ndarray, centres: np.ndarray, axes: np.ndarray, normals: np.ndarray,
                 sizes: np.ndarray) -> np.ndarray:
    """Vertices [L * K, 3] of leaves of shape ``outline`` [K, 3], each based at a centre [L, 3],
    its midrib along an axis [L, 3], its blade facing a normal [L, 3], ``sizes`` [L] long."""
    a = unit(axes)
    n = unit(normals - a * np.sum(normals * a, axis=1, keepdims=True))
    b = np.cross(n, a)
    o = outline[None]  # [1, K, 3]
    v = (o[..., :1] * a[:, None] + o[..., 1:2] * b[:, None] + o[..., 2:3] * n[:, None]) * sizes[:, None, None]
    return (v + centres[:, None]).reshape(-1, 3)


def leaves_geo(rng: np.random.Generator, centres: np.ndarray, axes: np.ndarray, normals: np.ndarray,
               sizes: np.ndarray, width: float, fold: float = 0.25, droop: float = 0.15, mat: int = 1,
               closed: bool = False, **body) -> Geo:
    """Leaf blades at the given frames, each with a slightly different outline: two folded faces
    per leaf, or with ``closed`` a thin body with a raised midrib (``blades.leaf_body``, which
    takes ``body``'s shape options: cup, pointed, notch, rib)."""
    if len(centres) == 0:
        return Geo.empty()
    from .blades import closed_blades, leaf_body  # blades builds on this module
    k = 4  # a few outline variants per call, so leaves are not clones
    shapes = [(width * rng.uniform(0.8, 1.2), fold, droop * rng.uniform(0.5, 1.5)) for _ in range(k)]
    if closed:
        bodies = [leaf_body(*a, **body) for a in shapes]
        sections = bodies[0][2].shape[:2]
        outlines = [np.concatenate([np.stack(b[:2]), np.concatenate(b[2:], 1).reshape(-1, 3)]) for b in bodies]
    else:
        outlines = [leaf_outline(*a) for a in shapes]
    per = len(outlines[0])
    pick = rng.integers(k, size=len(centres))
    verts = np.empty((len(centres), per, 3))
    for i in range(k):
        sel = np.nonzero(pick == i)[0]
        if len(sel):
            placed = place_leaves(outlines[i], centres[sel], axes[sel], normals[sel], sizes[sel])
            verts[sel] = placed.reshape(-1, per, 3)
    if not closed:
        return Geo.from_faces(verts.reshape(-1, 3), leaf_faces(len(centres)), mat=mat)
    rings = verts[:, 2:].reshape(len(centres), sections[0], -1, 3)
    c = sections[1]
    return closed_blades(verts[:, 0], verts[:, 1], rings[:, :, :c], rings[:, :, c:], mat=mat)


def strips(starts: np.ndarray, dirs: np.ndarray, lengths: np.ndarray, widths: np.ndarray, sides: np.ndarray,
           segments: int = 1, droop: np.ndarray | float = 0.0, mat: int = 1, taper: bool = True) -> Geo:
    """Narrow blades (needles, leaflets, grass): from each start [N, 3] along a direction [N, 3],
    ``widths`` [N] across ``sides`` [N, 3], bending down by ``droop`` times length^2; tapered to a
    point. Vertex attribute ``tip`` is 0 at the base and 1 at the tip."""
    n = len(starts)
    if n == 0:
        return Geo.empty()
    d = unit(dirs)
    s = unit(sides)
    t = np.linspace(0.0, 1.0, segments + 1)                       # [S+1]
    along = t[None, :, None] * lengths[:, None, None] * d[:, None]  # [N, S+1, 3]
    bend = np.asarray(droop, float).reshape(-1, 1) * (t[None] * lengths[:, None]) ** 2
    centre = starts[:, None] + along - np.array([0, 0, 1.0]) * bend[..., None]
    w = widths[:, None] * ((1.0 - t[None]) * 0.9 + 0.1 if taper else np.ones_like(t)[None])
    left, right = centre - s[:, None] * w[..., None], centre + s[:, None] * w[..., None]
    verts = np.stack([left, right], axis=2).reshape(-1, 3)     # per blade: (S+1) * 2 vertices
    base = np.arange(n)[:, None] * (segments + 1) * 2
    k = np.arange(segments)[None] * 2
    quads = np.stack([base + k, base + k + 1, base + k + 3, base + k + 2], -1).reshape(-1, 4)
    tip = np.repeat(np.tile(t, n), 2).astype(np.float32)
    return Geo.from_faces(verts, quads, mat=mat, attrs={"tip": tip})


def spikes(starts: np.ndarray, dirs: np.ndarray, lengths: np.ndarray, widths: np.ndarray,
           thickness: np.ndarray, sides: np.ndarray, mat: int = 1) -> Geo:
    """Closed three-sided needles with as many vertices as ``strips(segments=1)``: at each start [N, 3]
    a flattened triangle ``2 * widths`` [N] across ``sides`` [N, 3] and ``thickness`` [N] along
    dirs x sides (its flat face on the sides' line, the ridge above; centred on the axis), and one
    vertex ``lengths`` [N] along ``dirs`` [N, 3]. Four outward triangles each: the base and three
    long sides. Vertex attribute ``tip`` is 0 at the base and 1 at the tip."""
    n = len(starts)
    if n == 0:
        return Geo.empty()
    d = unit(dirs)
    s = unit(sides)
    up = np.cross(d, s)                                           # [N, 3] across the flat face
    w, h = widths[:, None], thickness[:, None]
    flat = starts - up * h / 3
    verts = np.stack([flat - s * w, flat + s * w, starts + up * h * 2 / 3,
                      starts + d * lengths[:, None]], 1).reshape(-1, 3)  # [N * 4, 3]
    # In the frame (sides, up, dirs): base faces -dirs, then the flat face, the right, the left side.
    tris = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]])
    faces = (np.arange(n)[:, None, None] * 4 + tris[None]).reshape(-1, 3)
    tip = np.tile(np.array([0, 0, 0, 1], np.float32), n)
    return Geo.from_faces(verts, faces, mat=mat, attrs={"tip": tip})


def tube(path: np.ndarray, radii: np.ndarray, sides: int = 8, mat: int = 0, cap: bool = True) -> Geo:
    """A smooth tube along ``path`` [P, 3] with radius ``radii`` [P] (rings share vertices);
    closed at the far end when ``cap``."""
    p = np.asarray(path, float)
    d = np.gradient(p, axis=0)
    d = unit(d)
    u, v = frames(d[:1])
    # Parallel transport of the first frame keeps the tube from twisting.
    us, vs = [u[0]], [v[0]]
    for k in range(1, len(p)):
        uu = us[-1] - d[k] * np.dot(us[-1], d[k])
        uu /= np.linalg.norm(uu) + 1e-12
        us.append(uu)
        vs.append(np.cross(d[k], uu))
    us, vs = np.array(us), np.array(vs)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.cos(ang)[None, :, None] * us[:, None] + np.sin(ang)[None, :, None] * vs[:, None]  # [P, k, 3]
    verts = (p[:, None] + ring * np.asarray(radii, float)[:, None, None]).reshape(-1, 3)
    i = np.arange(len(p) - 1)[:, None] * sides
    j = np.arange(sides)[None]
    quads = np.stack([i + j, i + (j + 1) % sides, i + sides + (j + 1) % sides, i + sides + j], -1).reshape(-1, 4)
    faces: list = list(quads)
    if cap:
        verts = np.concatenate([verts, p[-1:]])
        last = (len(p) - 1) * sides
        faces += [np.array([last + a, last + (a + 1) % sides, len(verts) - 1]) for a in range(sides)]
    return Geo.from_faces(verts, faces, mat=mat, smooth=True)
