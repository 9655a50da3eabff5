"""Where a surface point is in other frames (needs bpy): anchors on the evaluated meshes, for the
point tracks and for the 3D scene flow and occlusion masks on deforming meshes and moving copies.

A pixel's surface point (its depth unprojected through the camera) is anchored to the object
its instance id names: a ray from the camera through the point onto that object's evaluated
mesh (``mesh_anchors.anchor_points``: a BVH tree of its loop triangles) gives the triangle and
the barycentric coordinates of the point. In any frame the point is then the same barycentric
combination of that triangle's evaluated vertices, through the object's evaluated world matrix
(``mesh_anchors.anchored_points``): it follows moving and turning objects and deforming surfaces
alike (the water's wave grid, an animal's moving parts, a plant's bend in the wind, armatures,
shape keys). The tracks anchor on the meshes of the current frame; the scene flow anchors every
surface pixel of a deforming mesh on the vertices ``DeformingMeshes`` sampled with the camera
track (``anchor_pixels``, ``carry_pixels``). Points on a carrier's geometry-node copies that
move or deform (instanced cover in the wind) are anchored to their own copy the same way
(``instance_anchors``), for the tracks and the scene flow alike.

Where no such anchor can be made (the object is drawn through collection instances, or is not
a mesh, or the ray lands elsewhere than the depth says), and in frames where the evaluated mesh
has another vertex count than in the anchoring frame, the point moves rigidly with the world
matrix of its object or instancer (``camera_motion.object_motions``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .camera_motion import object_motions
from .instance_anchors import anchor_on_carriers, carry_on_carriers
from .mesh_anchors import anchor_points, anchored_points, mesh_arrays, vertex_coords
from .scene_flow import surface_points


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
    copies: dict = field(default_factory=dict)  # instance id -> instance_anchors.CopyAnchors (instanced copies)


def anchor_queries(anchors: Anchors, picks: np.ndarray, view_layer, names: dict[int, str],
                   origin: np.ndarray, copies: dict | None = None) -> None:
    """Anchor the tracks ``picks`` [M] (their points and instance ids already in ``anchors``) on the
    evaluated meshes of the current frame; ``names``: instance id -> object name; ``origin`` [3]: the
    camera's position; ``copies``: the frame's instanced copies that move (``CameraSample.copies``)."""
    import bpy

    on_copies = anchor_on_carriers(copies or {}, anchors.instance[picks], anchors.points[picks], picks, origin)
    for i, a in on_copies.items():
        anchors.copies[i] = anchors.copies[i].joined(a) if i in anchors.copies else a
    depsgraph = view_layer.depsgraph
    for i in np.unique(anchors.instance[picks]):
        name = names.get(int(i))
        ob = bpy.data.objects.get(name) if name else None
        if ob is None or ob.type != "MESH" or ob.name not in depsgraph.objects:
            continue  # not a mesh, or drawn only through instances: rigid
        ob_eval = ob.evaluated_get(depsgraph)
        coords, tris = mesh_arrays(ob_eval.data)
        index = picks[anchors.instance[picks] == i]
        found, tri, bary = anchor_points(coords, tris, np.array(ob_eval.matrix_world), origin, anchors.points[index])
        if not found.any():
            continue
        index, tri, bary = index[found], tri[found], bary[found]
        old = anchors.meshes.get(name)
        if old is not None and old.n_vertices == len(coords):
            index, tri, bary = (np.concatenate([a, b]) for a, b in
                                ((old.index, index), (old.vertices, tri), (old.bary, bary)))
        elif old is not None:  # another topology in another query frame: those stay rigid
            continue
        anchors.meshes[name] = MeshAnchors(index, tri, bary, len(coords))


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
        coords, _ = mesh_arrays(ob_eval.data)
        if len(coords) != a.n_vertices:
            continue  # the mesh changed its topology: rigid for this frame
        out[a.index] = anchored_points(coords, np.array(ob_eval.matrix_world), a.vertices, a.bary)
    index, points = carry_on_carriers(anchors.copies, track[frame].copies)
    out[index] = points
    return out


class DeformingMeshes:
    """Finds the directly drawn meshes whose evaluated vertices move in object space (waves, moving
    parts, wind sway) while ``dataset.sample_track`` steps through the frames, and keeps their
    vertices in every frame (the others are read once and dropped)."""

    def __init__(self, objects: dict[int, object]):
        self.objects = {i: ob for i, ob in objects.items() if ob.type == "MESH"}  # instance id -> object
        self.first: dict[int, np.ndarray] = {}     # id -> [V, 3] vertices in the first sampled frame
        self.frames: dict[int, dict[int, np.ndarray]] = {}  # frame -> id -> [V, 3] vertices that differ
        self.triangles: dict[int, np.ndarray] = {}  # id -> [F, 3] loop triangles of the deforming ones
        self.triangle_lists: dict[int, list] = {}   # the same as lists, for building BVH trees
        self.unchanged: dict[int, set] = {}         # frame -> ids whose vertices are as in the first frame

    def sample(self, frame: int, depsgraph) -> None:
        """Read the meshes in the current (already set) ``frame``."""
        here, same = {}, set()
        for i, ob in self.objects.items():
            if ob.name not in depsgraph.objects:
                continue  # drawn only through instances
            me = ob.evaluated_get(depsgraph).data
            co = vertex_coords(me)
            first = self.first.setdefault(i, co)
            if len(co) != len(first):
                continue  # another topology: not anchored in this frame
            if np.array_equal(co, first):
                same.add(i)
                continue
            if i not in self.triangles:
                self.triangles[i] = mesh_arrays(me)[1]
                self.triangle_lists[i] = self.triangles[i].tolist()
            here[i] = co
        self.frames[frame], self.unchanged[frame] = here, same

    def of_frame(self, frame: int) -> dict[int, tuple[np.ndarray, np.ndarray, list]]:
        """id -> (vertices [V, 3] object space, loop triangles [F, 3], the same as lists) of the deforming
        meshes in a sampled ``frame`` (left out where the mesh has another vertex count than in the first)."""
        here, same = self.frames.get(frame, {}), self.unchanged.get(frame, set())
        return {i: (here[i] if i in here else self.first[i], tris, self.triangle_lists[i])
                for i, tris in self.triangles.items() if i in here or i in same}


@dataclass
class PixelAnchors:
    """A frame's surface pixels on deforming meshes, anchored to their triangles."""
    instance: np.ndarray  # [K] instance id
    pixel: np.ndarray     # [K] flat pixel index
    vertices: np.ndarray  # [K, 3] vertex indices of each pixel's triangle
    bary: np.ndarray      # [K, 3] barycentric coordinates in it
    counts: dict          # id -> the mesh's vertex count in the anchoring frame


def anchor_pixels(sample, points: np.ndarray, surface: np.ndarray, instance: np.ndarray,
                  origin: np.ndarray) -> PixelAnchors:
    """Anchor the surface pixels of the deforming meshes of ``sample`` (a ``CameraSample`` whose
    ``meshes`` are ``DeformingMeshes.of_frame``) to their triangles: world ``points`` [H, W, 3],
    ``surface`` [H, W] bool, ``instance`` [H, W] ids, ``origin`` [3] the camera's position."""
    rows = []
    flat_ids, flat_points = instance.ravel(), points.reshape(-1, 3)
    for i, (coords, tris, tri_list) in sample.meshes.items():
        pixel = np.flatnonzero(surface.ravel() & (flat_ids == i))
        if not len(pixel) or i not in sample.matrices:
            continue
        found, tri, bary = anchor_points(coords, tris, sample.matrices[i], origin, flat_points[pixel], tri_list)
        rows.append((np.full(found.sum(), i), pixel[found], tri[found], bary[found]))
    if not rows:
        return PixelAnchors(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3), int), np.zeros((0, 3)), {})
    counts = {i: len(mesh[0]) for i, mesh in sample.meshes.items()}
    return PixelAnchors(*(np.concatenate(x) for x in zip(*rows)), counts)


def carry_pixels(anchors: PixelAnchors, sample) -> tuple[np.ndarray, np.ndarray]:
    """(flat pixel indices [K], world points [K, 3]): the anchored pixels' points rebuilt from their
    triangles in another frame's ``sample``; pixels whose mesh changed its vertex count are left out."""
    keep, out = [], []
    for i in np.unique(anchors.instance):
        sel = np.flatnonzero(anchors.instance == i)
        mesh = sample.meshes.get(int(i))
        if mesh is None or int(i) not in sample.matrices or len(mesh[0]) != anchors.counts[int(i)]:
            continue
        keep.append(anchors.pixel[sel])
        out.append(anchored_points(mesh[0], sample.matrices[int(i)], anchors.vertices[sel], anchors.bary[sel]))
    if not keep:
        return np.zeros(0, int), np.zeros((0, 3))
    return np.concatenate(keep), np.concatenate(out)


def surface_motions(track: dict, t: int, depth: np.ndarray, instance: np.ndarray,
                    targets: tuple[int, ...]) -> dict[int, tuple[dict, tuple]]:
    """Frame s -> (``camera_motion.object_motions`` from t to s, t's pixels on deforming meshes and on
    moving copies carried into s (``carry_pixels``, ``instance_anchors.carry_on_carriers``)): what
    ``scene_flow.moved_surface_points`` needs to move frame t's surface points (``depth`` [H, W],
    ``instance`` [H, W]) to each of the frames ``targets``."""
    here = track[t]
    if not here.meshes and not here.copies:
        return {s: (object_motions(track, t, s), None) for s in targets}
    points, surface = surface_points(depth, here.K, here.c2w)
    anchors = anchor_pixels(here, points, surface, instance, here.c2w[:3, 3])
    pixel = np.flatnonzero(surface.ravel() & np.isin(instance.ravel(), list(here.copies)))
    on_copies = anchor_on_carriers(here.copies, instance.ravel()[pixel], points.reshape(-1, 3)[pixel], pixel,
                                   here.c2w[:3, 3])
    return {s: (object_motions(track, t, s), _joined(carry_pixels(anchors, track[s]),
                                                     carry_on_carriers(on_copies, track[s].copies)))
            for s in targets}


def _joined(*carried: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(indices [K], points [K, 3]) of several carried sets, one after the other."""
    return np.concatenate([c[0] for c in carried]), np.concatenate([c[1] for c in carried])
