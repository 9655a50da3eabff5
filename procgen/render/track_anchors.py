"""Where a tracked surface point is in every frame (needs bpy): anchors on the evaluated meshes.

A query pixel's surface point (its depth unprojected through the camera) is anchored to the
object its instance id names: a ray from the camera through the point onto that object's
evaluated mesh gives the loop triangle and the barycentric coordinates of the point. In any
frame the point is then the same barycentric combination of that triangle's evaluated vertices,
through the object's evaluated world matrix: it follows moving and turning objects and
deforming surfaces alike (the water's wave grid, an armature, shape keys).

Where no such anchor can be made (the object is drawn only through instances, or is not a
mesh, or the ray lands elsewhere than the depth says), and in frames where the evaluated mesh
has another vertex count than in the query frame, the point moves rigidly with the world matrix
of its object or instancer (``camera_motion.object_motions``, as the 3D scene flow moves it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mathutils import Vector

HIT_TOLERANCE = 1e-3  # a ray hit this far from the depth's point (relative to its depth) is another surface


@dataclass
class MeshAnchors:
    """The tracks anchored on one object's evaluated mesh."""
    index: np.ndarray      # [K] which tracks
    vertices: np.ndarray   # [K, 3] vertex indices of each point's loop triangle
    bary: np.ndarray       # [K, 3] barycentric coordinates in it
    n_vertices: int        # the evaluated mesh's vertex count in the query frames


@dataclass
class Anchors:
    """Every track's surface point at its query frame, and what carries it to other frames."""
    query_frame: np.ndarray  # [N] Blender frame number of each track's query
    instance: np.ndarray     # [N] instance id
    points: np.ndarray       # [N, 3] world point at the query frame
    meshes: dict             # object name -> MeshAnchors


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
    """Barycentric coordinates [3] of p's projection on the plane of triangle a, b, c."""
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = v0 @ v0, v0 @ v1, v1 @ v1
    d20, d21 = v2 @ v0, v2 @ v1
    den = d00 * d11 - d01 * d01
    if abs(den) < 1e-30:
        return np.array([1.0, 0.0, 0.0])
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    return np.array([1.0 - v - w, v, w])


def _mesh_hit(ob, depsgraph, origin: np.ndarray, point: np.ndarray, depth: float):
    """(vertex indices, barycentric) of the world ``point`` on ``ob``'s evaluated mesh, seen along the ray
    from ``origin``; None where the object has no such surface there."""
    if ob is None or ob.type != "MESH":
        return None
    ob_eval = ob.evaluated_get(depsgraph)
    m = np.array(ob_eval.matrix_world, np.float64)
    inv = np.linalg.inv(m)
    o = inv[:3, :3] @ origin + inv[:3, 3]
    d = inv[:3, :3] @ (point - origin)
    try:
        hit, loc, _, polygon = ob.ray_cast(Vector(o), Vector(d / np.linalg.norm(d)), depsgraph=depsgraph)
    except RuntimeError:  # not in this view layer's depsgraph: drawn only through instances
        return None
    if not hit or polygon < 0:
        return None
    local = np.array(loc[:], np.float64)
    if np.linalg.norm(m[:3, :3] @ local + m[:3, 3] - point) > HIT_TOLERANCE * max(depth, 1.0):
        return None
    return triangle_anchor(ob_eval.data, polygon, local)


def anchor_queries(anchors: Anchors, picks: np.ndarray, view_layer, names: dict[int, str], origin: np.ndarray,
                   distances: np.ndarray) -> None:
    """Anchor the tracks ``picks`` [M] (their points and instance ids already in ``anchors``) on the
    evaluated meshes of the current frame; ``names``: instance id -> object name; ``origin`` [3]: the
    camera's position; ``distances`` [M] the points' distances from it."""
    import bpy

    depsgraph = view_layer.depsgraph
    found: dict[str, list] = {}
    for n, depth in zip(picks, distances):
        name = names.get(int(anchors.instance[n]))
        ob = bpy.data.objects.get(name) if name else None
        anchor = _mesh_hit(ob, depsgraph, origin, anchors.points[n], float(depth))
        if anchor is not None:
            found.setdefault(name, []).append((n, *anchor))
    for name, rows in found.items():
        count = len(bpy.data.objects[name].evaluated_get(depsgraph).data.vertices)
        index, tris, bary = (np.array(x) for x in zip(*rows))
        old = anchors.meshes.get(name)
        if old is not None and old.n_vertices == count:
            index, tris, bary = (np.concatenate([a, b]) for a, b in
                                 ((old.index, index), (old.vertices, tris), (old.bary, bary)))
        elif old is not None:  # another topology in another query frame: those stay rigid
            continue
        anchors.meshes[name] = MeshAnchors(index, tris, bary, count)


def _rigid_positions(anchors: Anchors, track: dict, frame: int) -> np.ndarray:
    """[N, 3]: every point moved with its object's (or instancer's) world matrix from its query frame."""
    out = anchors.points.copy()
    for q in np.unique(anchors.query_frame):
        a, b = track[int(q)].matrices, track[frame].matrices
        of_q = anchors.query_frame == q
        for i in np.unique(anchors.instance[of_q]):
            i = int(i)
            if i in a and i in b and not np.allclose(a[i], b[i], rtol=0, atol=1e-9):
                m = b[i] @ np.linalg.inv(a[i])
                sel = of_q & (anchors.instance == i)
                out[sel] = out[sel] @ m[:3, :3].T + m[:3, 3]
    return out


def positions(anchors: Anchors, view_layer, track: dict, frame: int) -> np.ndarray:
    """[N, 3] world points of every track in the current (already set) Blender ``frame``."""
    import bpy

    out = _rigid_positions(anchors, track, frame)
    depsgraph = view_layer.depsgraph
    for name, a in anchors.meshes.items():
        ob_eval = bpy.data.objects[name].evaluated_get(depsgraph)
        me = ob_eval.data
        if len(me.vertices) != a.n_vertices:
            continue  # the mesh changed its topology: rigid for this frame
        used, inverse = np.unique(a.vertices, return_inverse=True)
        co = np.array([me.vertices[int(i)].co[:] for i in used], np.float64)[inverse.reshape(a.vertices.shape)]
        local = np.einsum("kj,kjc->kc", a.bary, co)
        m = np.array(ob_eval.matrix_world, np.float64)
        out[a.index] = local @ m[:3, :3].T + m[:3, 3]
    return out
