"""Points on the copies of instanced meshes (needs bpy): the geometry-node instances of a
carrier (``geometry.instancing``: grass, flowers, ferns scattered as copies of a few hidden
``<carrier>_source_NN`` meshes), each copy with its own world matrix, which the wind shears per
frame (``assembly.wind_nodes.add_instance_shear``), and meshes that flutter (their
``flutter_group`` modifier), so the copies neither move with their carrier's matrix nor keep
their shape.

``InstancedCopies`` reads every copy of the carriers in each frame ``dataset.sample_track``
steps through (``Copies``: its persistent id, world matrix and shared mesh, and the shared
meshes' evaluated vertices), and keeps the carriers whose copies change. A point with a
carrier's instance id is anchored to the copy it lies on (``anchor_on_carriers``): the copies
whose world box holds the point are the candidates (a grid over x and y finds them among 10^5
copies), and a ray from the camera onto each candidate's mesh, in the copy's own axes
(``mesh_anchors.anchor_points`` with one matrix per candidate), gives the copy that holds the
point at the depth's point, the triangle and the barycentric coordinates. In another frame the
point is the same combination of that triangle's evaluated vertices there, through that copy's
matrix there (``carry_on_carriers``).

A copy is the same copy in every frame by its persistent id, the key by which Cycles pairs an
instance with itself across frames for its motion (the vector pass of the optical flow), so
the points follow the copy the flow follows, whatever moves its base (the shear keeps a copy's
translation, but nothing here relies on it).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .mesh_anchors import HIT_TOLERANCE, anchor_points, anchored_points, mesh_arrays, mesh_bvh, vertex_coords


@dataclass
class SharedMeshes:
    """The meshes a carrier's copies draw, by name, with what stays the same over frames."""
    index: dict = field(default_factory=dict)           # mesh name -> j
    triangles: list = field(default_factory=list)       # j -> [F, 3] int32 loop triangles
    triangle_lists: list = field(default_factory=list)  # the same as lists, for BVH trees
    counts: list = field(default_factory=list)          # j -> vertex count where first seen

    def add(self, me) -> int:
        """j of the evaluated mesh ``me`` (its triangles read when first seen)."""
        j = self.index.get(me.name)
        if j is None:
            coords, tris = mesh_arrays(me)
            j = self.index[me.name] = len(self.triangles)
            self.triangles.append(tris)
            self.triangle_lists.append(tris.tolist())
            self.counts.append(len(coords))
        return j


@dataclass
class Copies:
    """The geometry-node copies of one carrier in one frame."""
    pids: np.ndarray      # [K, 8] int32 persistent id of each copy (the same copy in every frame)
    matrices: np.ndarray  # [K, 3, 4] float32 world matrix (top rows) of each copy
    mesh: np.ndarray      # [K] int: which shared mesh each copy draws
    coords: list          # j -> [V, 3] float32 evaluated object-space vertices (None: no copy draws it)
    shared: SharedMeshes
    _rows: dict = field(default_factory=dict)  # persistent id -> row, filled when first asked

    def rows(self, pids: np.ndarray) -> np.ndarray:
        """[M] the row of each persistent id [M, 8] in this frame, -1 where no copy has it."""
        if not self._rows:
            self._rows.update((p, k) for k, p in enumerate(map(tuple, self.pids.tolist())))
        return np.array([self._rows.get(p, -1) for p in map(tuple, pids.tolist())], np.int64)

    def square(self, rows: np.ndarray) -> np.ndarray:
        """[M, 4, 4] float64 world matrices of the copies ``rows`` [M]."""
        m = np.zeros((len(rows), 4, 4))
        m[:, :3] = self.matrices[rows]
        m[:, 3, 3] = 1.0
        return m

    def usable(self, j: int) -> bool:
        """Whether shared mesh j has its vertices here, as many as its triangles index."""
        return self.coords[j] is not None and len(self.coords[j]) == self.shared.counts[j]

    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """(min [K, 3], max [K, 3]) world box of each copy."""
        lo, hi = np.zeros((len(self.mesh), 3)), np.zeros((len(self.mesh), 3))
        for j in np.unique(self.mesh):
            c = np.asarray(self.coords[j], np.float64)
            corners = np.array(list(itertools.product(*zip(c.min(0), c.max(0)))))  # [8, 3]
            sel = self.mesh == j
            m = self.matrices[sel].astype(np.float64)
            world = np.einsum("kij,cj->kci", m[:, :, :3], corners) + m[:, None, :, 3]  # [k, 8, 3]
            lo[sel], hi[sel] = world.min(1), world.max(1)
        return lo, hi


def _same(a: Copies, b: Copies) -> bool:
    return (np.array_equal(a.pids, b.pids) and np.array_equal(a.matrices, b.matrices)
            and np.array_equal(a.mesh, b.mesh)
            and all(x is y or (x is not None and y is not None and np.array_equal(x, y))
                    for x, y in zip(a.coords, b.coords)))


class InstancedCopies:
    """Reads the copies of ``carriers`` (instance id -> object) in each frame and keeps, for the
    carriers whose copies move or deform in some frame, every frame's ``Copies``."""

    def __init__(self, carriers: dict[int, object]):
        self.ids = {ob.name: i for i, ob in carriers.items()}  # carrier name -> instance id
        self.shared: dict[int, SharedMeshes] = {}
        self.first: dict[int, Copies] = {}
        self.frames: dict[int, dict[int, Copies]] = {}  # frame -> id -> copies that differ from the first

    def sample(self, frame: int, depsgraph) -> None:
        """Read the copies in the current (already set) ``frame``."""
        here = {}
        for i, copies in self._read(depsgraph).items():
            first = self.first.setdefault(i, copies)
            if copies is first or _same(copies, first):
                continue
            if np.array_equal(copies.pids, first.pids) and np.array_equal(copies.mesh, first.mesh):
                copies.pids, copies.mesh, copies._rows = first.pids, first.mesh, first._rows  # kept once
            here[i] = copies
        self.frames[frame] = here

    def of_frame(self, frame: int) -> dict[int, Copies]:
        """Instance id -> ``Copies`` in a sampled ``frame``, for the carriers whose copies change."""
        moving = set().union(*self.frames.values())
        here = self.frames.get(frame, {})
        return {i: here.get(i, self.first[i]) for i in moving}

    def _read(self, depsgraph) -> dict[int, Copies]:
        found: dict[str, _Rows] = {}  # carrier name -> its copies so far
        for inst in depsgraph.object_instances:  # ~10^5 copies: as few attribute reads per copy as can be
            if not inst.is_instance or inst.parent is None:
                continue
            name = inst.parent.name  # an evaluated object keeps its original's name
            rows = found.get(name)
            if rows is None:
                if name not in self.ids:
                    continue
                rows = found[name] = _Rows(self.shared.setdefault(self.ids[name], SharedMeshes()))
            ob = inst.object
            if ob.type == "MESH" and ob.name == name:  # not a collection instance (it moves with its instancer)
                rows.add(inst, ob.data)
        return {self.ids[name]: rows.copies() for name, rows in found.items() if rows.mesh}


class _Rows:
    """The copies of one carrier while ``InstancedCopies`` reads a frame."""

    def __init__(self, shared: SharedMeshes):
        self.shared, self.coords = shared, {}
        self.pid, self.matrix, self.mesh = [], [], []

    def add(self, inst, me) -> None:
        j = self.shared.add(me)
        if j not in self.coords:
            self.coords[j] = vertex_coords(me)
        m = inst.matrix_world
        self.pid.append(tuple(inst.persistent_id))
        self.matrix.append((*m[0], *m[1], *m[2]))  # 5x faster than np.array(m)
        self.mesh.append(j)

    def copies(self) -> Copies:
        flat = lambda rows, dtype: np.fromiter(itertools.chain.from_iterable(rows), dtype)  # noqa: E731
        n = len(self.mesh)
        return Copies(flat(self.pid, np.int32).reshape(n, -1), flat(self.matrix, np.float32).reshape(n, 3, 4),
                      np.array(self.mesh, np.int64), [self.coords.get(j) for j in range(len(self.shared.counts))],
                      self.shared)


def _candidates(copies: Copies, points: np.ndarray, pad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point index [Q], copy row [Q]): the pairs where a point [M, 3] lies in the copy's world box
    grown by the point's ``pad`` [M]. A grid over x, y with cells as wide as the widest grown box:
    a box that holds p has its lower corner between p + pad - cell and p + pad, so in the cell of
    p + pad or the one before it along each axis; only those four cells are tested."""
    lo, hi = copies.boxes()
    cell = max(float((hi - lo)[:, :2].max(initial=0.0) + 2 * pad.max(initial=0.0)), 1e-6)
    grid = lambda xy: np.floor(xy / cell).astype(np.int64)  # noqa: E731
    key = lambda g: (g[:, 0] << 32) + g[:, 1]  # noqa: E731
    order = np.argsort(key(grid(lo[:, :2])), kind="stable")
    keys = key(grid(lo[:, :2]))[order]
    here = grid(points[:, :2] + pad[:, None])
    pix, rows = [], []
    for step in itertools.product((-1, 0), repeat=2):
        q = key(here + np.array(step))
        a, b = np.searchsorted(keys, q, "left"), np.searchsorted(keys, q, "right")
        n = b - a
        pix.append(np.repeat(np.arange(len(points)), n))
        rows.append(order[np.repeat(a, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)])
    pix, rows = np.concatenate(pix), np.concatenate(rows)
    grow = pad[pix, None]
    inside = np.all((points[pix] >= lo[rows] - grow) & (points[pix] <= hi[rows] + grow), axis=1)
    return pix[inside], rows[inside]


@dataclass
class CopyAnchors:
    """Points anchored on the copies of one carrier."""
    index: np.ndarray     # [K] which points (tracks, or flat pixel indices)
    pids: np.ndarray      # [K, 8] persistent id of the copy each lies on
    mesh: np.ndarray      # [K] its shared mesh
    vertices: np.ndarray  # [K, 3] vertex indices of the point's loop triangle
    bary: np.ndarray      # [K, 3] barycentric coordinates in it

    def joined(self, other: CopyAnchors) -> CopyAnchors:
        return CopyAnchors(*(np.concatenate([getattr(self, k), getattr(other, k)])
                             for k in ("index", "pids", "mesh", "vertices", "bary")))


def anchor_on_copies(copies: Copies, origin: np.ndarray, points: np.ndarray, index: np.ndarray) -> CopyAnchors:
    """Anchor world ``points`` [M, 3] (named ``index`` [M]) seen from ``origin`` [3] on the copies
    that hold them; points no copy holds at their place are left out."""
    pad = HIT_TOLERANCE * np.maximum(np.linalg.norm(points - origin, axis=1), 1.0)
    pix, rows = _candidates(copies, points, pad)
    # each point's candidates nearest first (by the copy's base), tried one round at a time: most
    # points are found on their first candidate, so few rays are cast
    order = np.lexsort((np.linalg.norm(points[pix] - copies.matrices[rows, :, 3], axis=1), pix))
    pix, rows = pix[order], rows[order]
    rank = np.arange(len(pix)) - np.searchsorted(pix, pix)
    found = np.zeros(len(points), bool)
    row, mesh = np.zeros(len(points), np.int64), np.zeros(len(points), np.int64)
    tri, bary = np.zeros((len(points), 3), np.int64), np.zeros((len(points), 3))
    trees: dict[int, object] = {}
    for r in range(rank.max(initial=-1) + 1):
        pending = np.flatnonzero((rank == r) & ~found[pix])
        for j in np.unique(copies.mesh[rows[pending]]):
            if not copies.usable(j):
                continue
            sel = pending[copies.mesh[rows[pending]] == j]
            tree = trees.get(j) or trees.setdefault(j, mesh_bvh(copies.coords[j], copies.shared.triangle_lists[j]))
            ok, t, b = anchor_points(copies.coords[j], copies.shared.triangles[j], copies.square(rows[sel]), origin,
                                     points[pix[sel]], bvh=tree)
            p = pix[sel][ok]
            found[p], row[p], mesh[p], tri[p], bary[p] = True, rows[sel][ok], j, t[ok], b[ok]
    return CopyAnchors(index[found], copies.pids[row[found]], mesh[found], tri[found], bary[found])


def carry_on_copies(anchors: CopyAnchors, copies: Copies) -> tuple[np.ndarray, np.ndarray]:
    """(point index [K'], world points [K', 3]): the anchored points rebuilt on the same copies in
    another frame's ``copies``; points whose copy is gone or whose mesh changed its vertex count are left out."""
    rows = copies.rows(anchors.pids)
    ok = np.zeros(len(rows), bool)
    out = np.zeros((len(rows), 3))
    for j in np.unique(anchors.mesh):
        sel = (anchors.mesh == j) & (rows >= 0)
        sel[sel] = copies.mesh[rows[sel]] == j
        if not sel.any() or not copies.usable(j):
            continue
        out[sel] = anchored_points(copies.coords[j], copies.square(rows[sel]), anchors.vertices[sel], anchors.bary[sel])
        ok |= sel
    return anchors.index[ok], out[ok]


def anchor_on_carriers(copies: dict[int, Copies], ids: np.ndarray, points: np.ndarray, index: np.ndarray,
                       origin: np.ndarray) -> dict[int, CopyAnchors]:
    """Instance id -> ``CopyAnchors`` of the points [M, 3] (instance ``ids`` [M], named ``index`` [M])
    on carriers of ``copies`` (``InstancedCopies.of_frame``) seen from ``origin`` [3]."""
    out = {}
    for i, of_carrier in copies.items():
        sel = ids == i
        if sel.any():
            out[i] = anchor_on_copies(of_carrier, origin, points[sel], index[sel])
    return out


def carry_on_carriers(anchors: dict[int, CopyAnchors], copies: dict[int, Copies]) -> tuple[np.ndarray, np.ndarray]:
    """(point index [K], world points [K, 3]) of ``anchor_on_carriers``'s points in the frame of ``copies``."""
    parts = [carry_on_copies(a, copies[i]) for i, a in anchors.items() if i in copies]
    if not parts:
        return np.zeros(0, np.int64), np.zeros((0, 3))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
