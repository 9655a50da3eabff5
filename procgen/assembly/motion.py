"""Moving things, so optical flow is not only camera motion: plants that bend and flutter in
the scene's wind (``wind``; geometry nodes on the scene time, ``wind_nodes``) and boulders
rolling over the ground."""
from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ..geometry.blender_mesh import mesh_from_arrays, new_object
from ..terrain.heightfield import Heightfield
from ..terrain.rocks import rock_shape
from .camera_paths import Obstacle
from .wind import SWAY, Wind
from .wind_nodes import add_instance_shear, bend_group, flutter_group, set_bend_inputs

CROWNS = ("tree", "bush")  # their flutter grows away from the trunk (leaves at the branch tips)
# Vertices of plants that bend (each its own deformed mesh, rebuilt by Cycles every frame and
# three times for the vector pass: about 1.2 us a vertex a frame on 2 cores, measured on the
# autumn forest); plants beyond it lean rigidly.
BEND_BUDGET = 300_000
# Copies of instanced cover that gusts shear (each one an instance whose transform Cycles
# moves between frames: about 0.2 ms a copy a frame, measured on the autumn forest); farther
# copies only flutter with their shared mesh.
SHEAR_BUDGET = 2_000
SHEARED = "gs_wind_sheared"  # the carriers' point attribute: this copy is sheared

def _linear_keys():
    """Context manager-ish pair: set LINEAR interpolation for new keys, return the old value."""
    prefs = bpy.context.preferences.edit
    old = prefs.keyframe_new_interpolation_type
    prefs.keyframe_new_interpolation_type = "LINEAR"
    return prefs, old


def add_wind(objects, wind: Wind, frames: int, near: np.ndarray | None = None, budget: int = BEND_BUDGET,
             copy_budget: int = SHEAR_BUDGET, fps: float = 24.0) -> dict:
    """Sway every plant of ``objects`` whose class answers the wind (``wind.SWAY``).

    Plants with their own object bend (a modifier: ``wind_nodes.bend_group``), nearest to the
    points ``near`` [N, 3] (the camera path) first, while their vertices fit in ``budget``; the
    others lean rigidly about their base by the same angle (keyframes), which moves their tops
    as far. Carriers of instanced cover shear their ``copy_budget`` copies nearest to ``near``
    (the others stand), and the meshes the copies share flutter. Returns counts for scene.json."""
    own, carriers = [], []
    for ob in objects:
        if ob.type == "MESH" and ob.get("gs_class") in SWAY and not ob.hide_render:
            (carriers if "gs_instances" in ob else own).append(ob)
    bending = _nearest_within(own, near, budget)
    groups: dict[str, bpy.types.GeometryNodeTree] = {}
    for ob in own:
        cls, height = ob["gs_class"], max(c[2] for c in ob.bound_box)
        ob["gs_wind"] = True
        if ob.name not in bending:
            _lean(ob, wind, SWAY[cls], frames, fps)
            continue
        if cls not in groups:
            groups[cls] = bend_group(f"wind_{cls}", wind, SWAY[cls], crown=cls in CROWNS)
        mod = ob.modifiers.new("wind", "NODES")
        mod.node_group = groups[cls]
        set_bend_inputs(mod, ob, wind, height)
    sheared = _mark_nearest_copies(carriers, near, copy_budget)
    for carrier in carriers:
        sway = SWAY[carrier["gs_class"]]
        ng = carrier.modifiers["instances"].node_group
        for i, src in enumerate(_sources(ng)):
            src.modifiers.new("wind", "NODES").node_group = flutter_group(
                f"wind_{src.name}", wind, sway, max(c[2] for c in src.bound_box), phase=2.4 * i)
        add_instance_shear(ng, wind, sway, SHEARED)
        carrier["gs_wind"] = True
    return {"bending": len(bending), "leaning": len(own) - len(bending), "carriers": len(carriers),
            "instances": sum(int(c["gs_instances"]) for c in carriers), "sheared": sheared}


def _mark_nearest_copies(carriers: list, near: np.ndarray | None, budget: int) -> int:
    """Set the point attribute ``SHEARED`` on the ``budget`` copies of all ``carriers`` nearest to the
    points ``near`` [N, 3] (all copies when ``near`` is None); returns how many."""
    if not carriers:
        return 0
    where = []
    for carrier in carriers:
        co = np.empty(len(carrier.data.vertices) * 3, np.float64)
        carrier.data.vertices.foreach_get("co", co)
        where.append(co.reshape(-1, 3))
    if near is None or not len(near):
        chosen = [np.ones(len(w), bool) for w in where]
    else:
        pts = np.asarray(near, np.float64)[:, :2]
        dist = [np.min([np.linalg.norm(w[:, :2] - p, axis=1) for p in pts], axis=0) if len(w) else np.zeros(0)
                for w in where]
        flat = np.concatenate(dist)
        cut = np.sort(flat)[min(budget, len(flat)) - 1] if budget > 0 and len(flat) else -1.0
        chosen = [d <= cut for d in dist]
    for carrier, sel in zip(carriers, chosen):
        carrier.data.attributes.new(SHEARED, "BOOLEAN", "POINT").data.foreach_set("value", sel)
    return int(sum(c.sum() for c in chosen))


def _nearest_within(plants: list, near: np.ndarray | None, budget: int) -> set[str]:
    """Names of the plants nearest to any of the points ``near`` whose vertices add up to at most ``budget``."""
    if near is None or not len(near):
        order = plants
    else:
        pts = np.asarray(near, np.float64)[:, :3]
        dist = [float(np.min(np.linalg.norm(pts - np.array(ob.matrix_world.translation[:]), axis=1))) for ob in plants]
        order = [plants[i] for i in np.argsort(dist, kind="stable")]
    chosen, used = set(), 0
    for ob in order:
        n = len(ob.data.vertices)
        if used + n <= budget:
            chosen.add(ob.name)
            used += n
    return chosen


def _lean(ob, wind: Wind, sway, frames: int, fps: float) -> None:
    """Keyframe ``ob`` turning about the horizontal axis across the wind, through its base, by
    theta(t, s) (``wind``): its top moves downwind as far as a bending plant's."""
    base = ob.matrix_world.copy()
    axis = Vector((-wind.vector[1], wind.vector[0], 0.0))
    s = float(np.array(base.translation[:2]) @ wind.vector)
    theta = wind.strength * (sway.lean + sway.gust * wind.gust(np.arange(1, frames + 1) / fps, s))
    rest = ob.rotation_euler.copy()
    prefs, old = _linear_keys()
    try:
        for f, angle in enumerate(theta, start=1):
            turned = Matrix.Translation(base.translation) @ Matrix.Rotation(float(angle), 4, axis) @ \
                Matrix.Translation(-base.translation) @ base
            ob.rotation_euler = turned.to_euler(ob.rotation_mode, ob.rotation_euler)
            ob.keyframe_insert("rotation_euler", frame=f)
        ob.rotation_euler = rest
    finally:
        prefs.keyframe_new_interpolation_type = old


def _sources(ng) -> list:
    """The objects whose geometry a carrier's node group instances."""
    return [n.inputs["Object"].default_value for n in ng.nodes
            if n.type == "OBJECT_INFO" and n.inputs["Object"].default_value is not None]


def add_rolling_rock(index: int, hf: Heightfield, focus: np.ndarray, frames: int, rng: np.random.Generator,
                     material=None, fps: float = 24.0) -> tuple["bpy.types.Object", list[Obstacle]]:
    """A boulder rolling without slipping over the ground near ``focus``; returns it and the
    boxes it sweeps through (so cameras keep clear of its whole path)."""
    v, f = rock_shape(rng, subdivisions=4)
    v[:, 2] -= v[:, 2].max() / 2  # origin at the centre, for rolling
    size = rng.uniform(0.8, 1.4)
    v = v * size
    radius = float(np.abs(v[:, 2]).max())
    me = mesh_from_arrays(f"rock_rolling_{index:03d}", v, f, smooth=True)
    if material is not None:
        me.materials.append(material)
    ob = new_object(f"rock_rolling_{index:03d}", me, "rock")
    ob["gs_moving"] = True
    heading = rng.uniform(0, 2 * np.pi)
    d = np.array([math.cos(heading), math.sin(heading)])
    speed = rng.uniform(1.5, 3.0) / fps  # metres per frame
    start = focus[:2] + rng.normal(scale=3.0, size=2)
    dist = speed * np.arange(frames)
    xy = start[None] + dist[:, None] * d[None]
    z = hf.height(xy[:, 0], xy[:, 1]) + radius * 0.9
    if hf.shore_level is not None:
        z = np.maximum(z, hf.shore_level + radius * 0.9)
    axis = (-d[1], d[0], 0.0)  # rolling forward along d turns about z x d
    ob.rotation_mode = "AXIS_ANGLE"
    prefs, old = _linear_keys()
    try:
        for k in range(frames):
            ob.location = (float(xy[k, 0]), float(xy[k, 1]), float(z[k]))
            ob.rotation_axis_angle = (float(dist[k] / radius), *axis)
            ob.keyframe_insert("location", frame=k + 1)
            ob.keyframe_insert("rotation_axis_angle", frame=k + 1)
    finally:
        prefs.keyframe_new_interpolation_type = old
    r = float(np.linalg.norm(v, axis=1).max())
    lo = np.array([xy[:, 0].min() - r, xy[:, 1].min() - r, z.min() - r])
    hi = np.array([xy[:, 0].max() + r, xy[:, 1].max() + r, z.max() + r])
    return ob, [Obstacle(lo, hi)]
