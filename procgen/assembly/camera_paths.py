"""Camera trajectories (orbit, flythrough, random views, the close-range walk) kept above the
ground and out of every obstacle, turned towards the biome's signature feature
(``camera_aim``), keyframed on ``scene.camera`` once per frame."""
from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Euler, Vector

from ..geometry.blender_mesh import new_object
from ..terrain.heightfield import Heightfield
from .camera_aim import aim
from .camera_cave import clamp_under_roof, look_out, plan_cave
from .camera_walk import PLAIN_WALK, WalkStyle, clear_walk, plan_walk
from .config import TRAJECTORIES, CameraConfig


@dataclass
class Obstacle:
    """An axis-aligned box the camera must stay out of (world units). A camera may pass under
    an ``under`` box (a tree's crown) when it stays ``UNDER_GAP`` below it."""
    lo: np.ndarray  # [3]
    hi: np.ndarray  # [3]
    under: bool = False
    trunk: bool = False  # a tree's trunk (the walk passes close to one)
    cls: str = ""        # the semantic class of what it holds (the walk passes close to ``Biome.walk_past``)


UNDER_GAP = 0.5  # metres between a camera and the lowest leaves above it
SURFACE_GAP = 1.2  # metres between a camera under water and the still water level: below the highest crest


def object_obstacles(objects) -> list[Obstacle]:
    """World-space bounding boxes of ``objects`` (the view layer must be up to date). A mesh
    that records its crown's base (``gs_crown_base``, trees) gives two: its trunk, and its
    crown, under which cameras may pass."""
    out = []
    for ob in objects:
        corners = np.array([ob.matrix_world @ Vector(c) for c in ob.bound_box])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        crown = ob.data.get("gs_crown_base") if ob.type == "MESH" else None
        cls = str(ob.get("gs_class", ""))
        if crown is None or cls != "tree":
            out.append(Obstacle(lo, hi, cls=cls))
            continue
        base = np.array(ob.matrix_world.translation)
        z_crown = float((ob.matrix_world @ Vector((0.0, 0.0, float(crown)))).z)
        trunk = 0.4 * max(ob.scale) + 0.3
        out.append(Obstacle(np.array([base[0] - trunk, base[1] - trunk, lo[2]]),
                            np.array([base[0] + trunk, base[1] + trunk, max(z_crown, lo[2])]), trunk=True, cls=cls))
        out.append(Obstacle(np.array([lo[0], lo[1], min(z_crown, hi[2])]), hi, under=True, cls=cls))
    return out


def instance_obstacles(tall: float = 0.5) -> list[Obstacle]:
    """World-space boxes of the instanced copies (reeds, ferns, flowers) at least ``tall`` metres
    high: the walk keeps out of them, where the other paths fly over."""
    out = []
    for inst in bpy.context.evaluated_depsgraph_get().object_instances:
        if not inst.is_instance or inst.object.type != "MESH":
            continue
        m = np.array(inst.matrix_world)
        c = np.array(inst.object.bound_box) @ m[:3, :3].T + m[:3, 3]
        lo, hi = c.min(axis=0), c.max(axis=0)
        if hi[2] - lo[2] >= tall:
            out.append(Obstacle(lo, hi, cls=str(inst.object.original.get("gs_class", ""))))
    return out


def plan(cfg: CameraConfig, hf: Heightfield, focus: np.ndarray, rng: np.random.Generator,
         height: tuple[float, float] = (2.5, 5.5), view_from: np.ndarray | None = None, look: float = 0.0,
         walk: WalkStyle = PLAIN_WALK) -> dict:
    """Positions [F, 3] and look-at targets [F, 3] before obstacle clearance. ``height``: the
    range of flying heights above the ground; ``look``: how high above the ground the targets
    are (0: 1 m, under the sea 3 m); ``walk``: the biome's walk style; ``view_from``: a direction
    [2] from the focus on whose side the camera should stay (the open side of a cliff). ``corridor`` (added to
    the radius of the path's keep-out discs): 0, or negative for the walk, which trees may
    stand close to."""
    F = cfg.frames
    kind = cfg.trajectory
    if kind not in TRAJECTORIES:
        kind = str(rng.choice(TRAJECTORIES[:2] if F > 1 else ("orbit",)))
    size = hf.size
    side = None if view_from is None else float(np.arctan2(view_from[1], view_from[0]))
    if "cave" in hf.features:
        return plan_cave(hf, rng, F, kind)
    if kind == "walk":
        return plan_walk(hf, focus, rng, F, cfg.height, side, walk)
    t = np.linspace(0.0, 1.0, F)
    fly = cfg.height if cfg.height > 0 else float(rng.uniform(*height))
    if kind == "orbit":
        radius = size * rng.uniform(0.16, 0.24)
        a0 = rng.uniform(0, 2 * np.pi) if side is None else side + rng.uniform(-0.5, 0.5)
        sweep = math.radians(rng.uniform(30, 60)) * rng.choice([-1, 1])
        ang = a0 + sweep * t
        xy = focus[None, :2] + radius * np.stack([np.cos(ang), np.sin(ang)], 1)
        target = np.tile(focus[None, :2], (F, 1))
        lift = np.full(F, fly + 0.5)
    elif kind == "flythrough":
        heading = rng.uniform(0, 2 * np.pi)
        if side is not None:  # along the cliff, on its open side
            heading = side + np.pi / 2 * rng.choice([-1, 1])
        length = size * rng.uniform(0.12, 0.22)
        curve = rng.uniform(-0.6, 0.6)
        head = heading + curve * t
        start = focus[:2] - 0.5 * length * np.array([np.cos(heading), np.sin(heading)])
        if side is not None:
            start = start + size * 0.12 * np.array([np.cos(side), np.sin(side)])
        step = np.stack([np.cos(head), np.sin(head)], 1) * (length / max(F - 1, 1))
        xy = start[None] + np.concatenate([[[0, 0]], np.cumsum(step[:-1], axis=0)])
        ahead = rng.uniform(12, 20)
        target = xy + ahead * np.stack([np.cos(head), np.sin(head)], 1)
        lift = np.full(F, fly)
    else:  # independent views around the focus
        ang = rng.uniform(0, 2 * np.pi, F) if side is None else side + rng.uniform(-0.8, 0.8, F)
        dist = size * rng.uniform(0.1, 0.25, F)
        xy = focus[None, :2] + dist[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
        target = focus[None, :2] + rng.normal(scale=0.04 * size, size=(F, 2))
        lift = rng.uniform(2.0, 8.0, F)
    lim = 0.42 * size
    xy = np.clip(xy, -lim, lim)
    target = np.clip(target, -0.48 * size, 0.48 * size)
    ground = np.array([hf.max_height_in_disc(x, y, 2.0) for x, y in xy])
    if hf.shore_level is not None:
        ground = np.maximum(ground, hf.shore_level)
    # Under the sea look out level, into the kelp and up at the waves, not down at the sand.
    tz = hf.height(target[:, 0], target[:, 1]) + (look if look > 0 else 3.0 if hf.submerged else 1.0)
    if hf.shore_level is not None:
        tz = np.maximum(tz, hf.shore_level + 1.0)
    pos = np.concatenate([xy, (ground + lift)[:, None]], axis=1)
    # A smooth path should not copy every bump of the ground: ease the heights.
    if kind != "multiview" and F > 2:
        pos[:, 2] = _smooth(pos[:, 2], max(1, F // 6))
    if hf.submerged:
        pos[:, 2] = np.minimum(pos[:, 2], ceiling(hf))
    return {"kind": kind, "pos": pos, "target": np.concatenate([target, tz[:, None]], axis=1), "corridor": 0.0}


def ceiling(hf: Heightfield) -> float:
    """The highest a camera may fly over a sea floor: below the troughs of the waves above it."""
    return float(hf.water_level) - SURFACE_GAP


def _smooth(z: np.ndarray, w: int) -> np.ndarray:
    pad = np.pad(z, w, mode="edge")
    return np.convolve(pad, np.ones(2 * w + 1) / (2 * w + 1), mode="valid")


def clear_path(pos: np.ndarray, hf: Heightfield, obstacles: list[Obstacle], clearance: float,
               smooth: bool) -> np.ndarray:
    """Raise positions [F, 3] so each is ``clearance`` above the ground around it and
    above every obstacle box it would otherwise enter (boxes grown by ``clearance``)."""
    pos = pos.copy()
    for _ in range(3):
        need = np.array([hf.max_height_in_disc(x, y, clearance) for x, y in pos[:, :2]]) + clearance
        if hf.shore_level is not None:
            need = np.maximum(need, hf.shore_level + clearance)
        for ob in obstacles:
            inside_xy = ((pos[:, 0] > ob.lo[0] - clearance) & (pos[:, 0] < ob.hi[0] + clearance)
                         & (pos[:, 1] > ob.lo[1] - clearance) & (pos[:, 1] < ob.hi[1] + clearance))
            if ob.under:  # a crown: fine to pass below it, else go over it
                inside_xy &= pos[:, 2] > ob.lo[2] - UNDER_GAP
            need = np.where(inside_xy, np.maximum(need, ob.hi[2] + clearance), need)
        if smooth and len(pos) > 2:
            # Ease the rises so the path has no jumps, then make sure every frame is clear.
            need_s = np.maximum(need, _smooth(need, max(1, len(pos) // 6)))
            need = np.maximum(need, need_s)
        pos[:, 2] = np.maximum(pos[:, 2], need)
    if hf.submerged:  # never through the surface; the floor is far enough below it to keep clear of
        pos[:, 2] = np.minimum(pos[:, 2], ceiling(hf))
    return pos


def build_camera(cfg: CameraConfig, hf: Heightfield, p: dict, obstacles: list[Obstacle],
                 reach: float = 0.0, subject: np.ndarray | None = None,
                 walk_past: tuple[str, ...] = ("tree",)) -> tuple["bpy.types.Object", dict]:
    """The keyframed scene camera (frames 1..F) on the planned path ``p`` (``plan``), cleared of
    the obstacles (the walk sideways, the others upwards), turned towards the ``subject``'s
    sample points [N, 3] (``camera_aim``), and a summary of its path. ``reach``: the farthest
    surface (m), for the clipping distance; ``walk_past``: the classes the walk passes close to."""
    if p["kind"] == "walk":
        pos, target = clear_walk(p, hf, obstacles, UNDER_GAP, walk_past)
        if hf.submerged:
            pos[:, 2] = np.minimum(pos[:, 2], ceiling(hf))
    else:
        pos = clear_path(p["pos"], hf, obstacles, cfg.min_clearance, smooth=p["kind"] != "multiview")
        target = p["target"]
    if "roof" in hf.features:
        pos = clamp_under_roof(pos, hf)
        if p["kind"] == "walk":
            target = look_out(hf, pos)
    turn = np.zeros(len(pos))
    if subject is not None:
        tan_x = 0.5 * cfg.sensor_mm / cfg.focal_mm
        target, turn = aim(pos, target, subject, hf, tan_x, tan_x * cfg.resolution[1] / cfg.resolution[0],
                           independent=p["kind"] == "multiview")
    scene = bpy.context.scene
    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens = cfg.focal_mm
    cam_data.sensor_width = cfg.sensor_mm
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.clip_start = 0.05
    cam_data.clip_end = max(2.0 * hf.size + 500.0, 1.5 * reach)
    cam = new_object("camera", cam_data, "camera")
    scene.camera = cam
    scene.render.resolution_x, scene.render.resolution_y = (int(v) for v in cfg.resolution)
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = 1, cfg.frames
    scene.frame_current = 1
    prefs = bpy.context.preferences.edit
    old = prefs.keyframe_new_interpolation_type
    prefs.keyframe_new_interpolation_type = "LINEAR"  # no overshoot between frames, on every version
    try:
        prev = Euler((0.0, 0.0, 0.0))
        for f in range(cfg.frames):
            d = Vector((target[f] - pos[f]).tolist())
            if d.length < 1e-6:
                d = Vector((0.0, 1.0, -0.2))
            rot = d.to_track_quat("-Z", "Y").to_euler("XYZ", prev)
            prev = rot
            cam.location = pos[f].tolist()
            cam.rotation_euler = rot
            cam.keyframe_insert("location", frame=f + 1)
            cam.keyframe_insert("rotation_euler", frame=f + 1)
    finally:
        prefs.keyframe_new_interpolation_type = old
    scene.frame_set(1)
    return cam, {"trajectory": p["kind"], "frames": cfg.frames, "resolution": list(cfg.resolution),
                 "positions": pos.round(4).tolist(), "turn_deg": np.degrees(turn).round(1).tolist()}
