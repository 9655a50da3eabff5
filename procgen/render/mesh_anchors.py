"""A world point anchored on a triangle of an evaluated mesh (needs bpy's mathutils): the
triangle a ray from the camera meets at the point and the point's barycentric coordinates in
it (``anchor_points``), and the same combination of that triangle's vertices in another frame
(``anchored_points``). The world matrix may be one for all points (an object) or one per point
(the copies of an instanced mesh, each with its own matrix). ``track_anchors`` and
``instance_anchors`` build the point tracks' and the scene flow's anchors from these.
"""
from __future__ import annotations

import numpy as np
from mathutils import Vector

HIT_TOLERANCE = 1e-3  # a ray hit this far from the depth's point (relative to its depth) is another surface


def triangle_anchor(me, polygon: int, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vertex indices [3], barycentric coordinates [3]) of the loop triangle of ``polygon`` that
    holds the local point [3] (the most inside one: a non-planar quad's point lies on one of two)."""
    poly = me.polygons[polygon]
    first = poly.loop_start - 2 * polygon  # loop triangles are laid out polygon by polygon
    best = None
    for k in range(first, first + poly.loop_total - 2):
        tri = np.array(me.loop_triangles[k].vertices[:])
        a, b, c = (np.array(me.vertices[i].co[:], np.float64) for i in tri)
        bary = _barycentric(a, b, c, local)
        if best is None or bary.min() > best[1].min():
            best = (tri, bary)
    return best


def _barycentric(a: np.ndarray, b: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Barycentric coordinates [..., 3] of points p [..., 3] projected on the planes of triangles a, b, c
    [..., 3] (a degenerate triangle gives its first corner)."""
    v0, v1, v2 = b - a, c - a, p - a
    dot = lambda x, y: np.sum(x * y, axis=-1)  # noqa: E731
    d00, d01, d11, d20, d21 = dot(v0, v0), dot(v0, v1), dot(v1, v1), dot(v2, v0), dot(v2, v1)
    den = d00 * d11 - d01 * d01
    flat = np.abs(den) < 1e-30
    den = np.where(flat, 1.0, den)
    v = np.where(flat, 0.0, (d11 * d20 - d01 * d21) / den)
    w = np.where(flat, 0.0, (d00 * d21 - d01 * d20) / den)
    return np.stack([1.0 - v - w, v, w], axis=-1)


def mesh_arrays(me) -> tuple[np.ndarray, np.ndarray]:
    """(vertex coordinates [V, 3] float32 object space, loop triangles [F, 3] int32) of a mesh."""
    me.calc_loop_triangles()
    tris = np.empty(len(me.loop_triangles) * 3, np.int32)
    me.loop_triangles.foreach_get("vertices", tris)
    return vertex_coords(me), tris.reshape(-1, 3)


def vertex_coords(me) -> np.ndarray:
    """[V, 3] float32 object-space vertex coordinates of a mesh."""
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _transform(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Points [M, 3] through matrices [4, 4] or [M, 4, 4]."""
    if m.ndim == 2:
        return p @ m[:3, :3].T + m[:3, 3]
    return np.einsum("mij,mj->mi", m[:, :3, :3], p) + m[:, :3, 3]


def affine_inverse(m: np.ndarray) -> np.ndarray:
    """Inverses [..., 4, 4] of affine matrices [..., 4, 4] (last row 0 0 0 1), in closed form: the
    3x3 part by its adjugate (rows' cross products over the determinant). Batched LAPACK inverses
    of many 4x4 matrices spend seconds in thread hand-offs on a loaded machine."""
    r0, r1, r2 = m[..., 0, :3], m[..., 1, :3], m[..., 2, :3]
    adj = np.stack([np.cross(r1, r2), np.cross(r2, r0), np.cross(r0, r1)], -1)  # columns
    inv3 = adj / np.sum(r0 * adj[..., :, 0], -1)[..., None, None]
    out = np.zeros(m.shape)
    out[..., :3, :3] = inv3
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", inv3, m[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def mesh_bvh(coords: np.ndarray, triangle_list: list):
    """A BVH tree of a triangle mesh (object-space ``coords`` [V, 3], triangles as lists)."""
    from mathutils.bvhtree import BVHTree

    return BVHTree.FromPolygons(coords.astype(np.float64).tolist(), triangle_list, all_triangles=True)


def anchor_points(coords: np.ndarray, triangles: np.ndarray, matrix: np.ndarray, origin: np.ndarray,
                  points: np.ndarray, triangle_list: list | None = None,
                  bvh=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(found [M] bool, vertex indices [M, 3], barycentric coordinates [M, 3]) of world ``points``
    [M, 3] on a triangle mesh (object-space ``coords`` [V, 3], ``triangles`` [F, 3]) placed by the
    world ``matrix`` [4, 4] (or one per point, [M, 4, 4]: copies of the mesh), seen along rays from
    ``origin`` [3]: the triangle each ray meets first and the point's coordinates in it. Not found:
    the ray misses, or meets the mesh farther than HIT_TOLERANCE (relative to the distance) from
    the point (another surface is in front of it there). ``triangle_list``: ``triangles`` as
    Python lists, when the caller keeps them over frames (the conversion costs as much as
    building the tree); ``bvh``: the tree (``mesh_bvh``), when the caller casts on the mesh again."""
    found = np.zeros(len(points), bool)
    which = np.zeros(len(points), np.int64)
    if not len(triangles) or not len(points):  # no faces (an empty host of instances): nothing to anchor on
        return found, np.zeros((len(points), 3), np.int64), np.zeros((len(points), 3))
    m = np.asarray(matrix, np.float64)
    inv = affine_inverse(m)
    o = _transform(inv, np.broadcast_to(origin, points.shape))
    local = _transform(inv, points)
    if bvh is None:
        bvh = mesh_bvh(coords, triangle_list if triangle_list is not None else triangles.tolist())
    hits = local.copy()  # where each ray meets the mesh, object space
    for k, (a, d) in enumerate(zip(o.tolist(), (local - o).tolist())):
        hit, _, index, _ = bvh.ray_cast(Vector(a), Vector(d))
        if hit is not None:
            found[k], which[k], hits[k] = True, index, hit
    distance = np.linalg.norm(points - origin, axis=1)
    found &= np.linalg.norm(_transform(m, hits) - points, axis=1) <= HIT_TOLERANCE * np.maximum(distance, 1.0)
    tri = triangles[which]
    corners = np.asarray(coords, np.float64)[tri]  # [M, 3 corners, 3]
    return found, tri, _barycentric(corners[:, 0], corners[:, 1], corners[:, 2], local)


def anchored_points(coords: np.ndarray, matrix: np.ndarray, vertices: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """[K, 3] world points: the barycentric combinations ``bary`` [K, 3] of the triangles ``vertices``
    [K, 3] of object-space ``coords`` [V, 3], through the world ``matrix`` [4, 4] (or one per point,
    [K, 4, 4])."""
    local = np.einsum("kj,kjc->kc", bary, np.asarray(coords, np.float64)[vertices])
    return _transform(np.asarray(matrix, np.float64), local)
