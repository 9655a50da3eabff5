"""Moving things, so optical flow is not only camera motion: plants that sway in the
wind (keyframed rotation about their base) and boulders rolling over the ground."""
from __future__ import annotations

import math

import bpy
import numpy as np

from ..geometry.blender_mesh import mesh_from_arrays, new_object
from ..terrain.heightfield import Heightfield
from ..terrain.rocks import rock_shape
from .camera_paths import Obstacle

SWAY_DEG = {"tree": 1.2, "bush": 3.0, "flower": 7.0, "grass": 6.0, "plant": 4.0}


def _linear_keys():
    """Context manager-ish pair: set LINEAR interpolation for new keys, return the old value."""
    prefs = bpy.context.preferences.edit
    old = prefs.keyframe_new_interpolation_type
    prefs.keyframe_new_interpolation_type = "LINEAR"
    return prefs, old


def add_wind(objects, frames: int, rng: np.random.Generator, strength: float = 1.0, fps: float = 24.0) -> int:
    """Keyframe a gentle sway on every object whose class has an amplitude; returns how many."""
    prefs, old = _linear_keys()
    n = 0
    try:
        gust_dir = rng.uniform(0, 2 * np.pi)
        t = np.arange(frames) / fps
        for ob in objects:
            amp = SWAY_DEG.get(ob.get("gs_class", ""), 0.0) * strength
            if amp <= 0:
                continue
            freq = rng.uniform(0.3, 0.8) * (3.0 if ob["gs_class"] in ("flower", "grass") else 1.0)
            phase = rng.uniform(0, 2 * np.pi)
            a = math.radians(amp) * np.sin(2 * np.pi * freq * t + phase)
            base = tuple(ob.rotation_euler)
            for f in range(frames):
                ob.rotation_euler = (base[0] + a[f] * math.cos(gust_dir), base[1] + a[f] * math.sin(gust_dir), base[2])
                ob.keyframe_insert("rotation_euler", frame=f + 1)
            ob.rotation_euler = base
            n += 1
    finally:
        prefs.keyframe_new_interpolation_type = old
    return n


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
