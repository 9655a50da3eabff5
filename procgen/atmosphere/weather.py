"""Falling rain and snow: one object of many thin streaks (rain) or small flakes (snow) in a
box around the camera path, moving at a constant velocity (linear keyframes, extrapolated),
so each drop's motion is in the vector pass and the drops have their own semantic class.
No drop comes closer than ``NEAR`` to the camera at any frame."""
from __future__ import annotations

import numpy as np

from ..geometry.blender_mesh import mesh_from_geo, new_object
from ..geometry.mesh_arrays import Geo, concat, unit
from ..terrain.heightfield import Heightfield

STYLES = {  # fall speed (m/s), drift (m/s), size range (m), semantic class
    "rain": ((6.5, 9.0), (0.3, 1.5), (0.25, 0.5), "rain"),
    "snow": ((0.7, 1.4), (0.3, 1.8), (0.01, 0.022), "snowfall"),
}
NEAR = 1.2


def build_precipitation(style: str, count: int, cameras: np.ndarray, hf: Heightfield, frames: int, fps: float,
                        rng: np.random.Generator, material=None):
    """The falling rain or snow for a camera path ``cameras`` [F, 3]; None for no particles."""
    if style not in STYLES or count <= 0:
        return None
    speed, drift, size, gs_class = STYLES[style]
    heading = rng.uniform(0, 2 * np.pi)
    vel = np.array([np.cos(heading), np.sin(heading), 0.0]) * rng.uniform(*drift) + \
        np.array([0, 0, -rng.uniform(*speed)])
    duration = frames / fps
    lo = cameras.min(axis=0) - np.array([25.0, 25.0, 0.0])
    hi = cameras.max(axis=0) + np.array([25.0, 25.0, 10.0])
    lo[2] = float(hf.z.min())
    lo[:2] -= np.maximum(vel[:2], 0) * duration  # so the box still surrounds the path at the end
    hi[:2] -= np.minimum(vel[:2], 0) * duration
    hi[2] += -vel[2] * duration
    p = rng.uniform(lo, hi, size=(count, 3))
    times = np.arange(frames) / fps
    near = np.full(count, np.inf)
    for f, t in enumerate(times):
        near = np.minimum(near, np.linalg.norm(p + vel * t - cameras[f], axis=1))
    p = p[near > NEAR]
    geo = _streaks(rng, p, vel, size) if style == "rain" else _flakes(rng, p, size)
    me = mesh_from_geo(f"{style}_particles", geo, [material] if material is not None else [])
    ob = new_object(style, me, gs_class)
    ob["gs_moving"] = True
    ob.visible_shadow = False
    _animate(ob, vel, frames, fps)
    return ob


def _streaks(rng: np.random.Generator, p: np.ndarray, vel: np.ndarray, size) -> Geo:
    """Rain: two crossed narrow quads per drop along its velocity (a drop blurred over a frame or two)."""
    n = len(p)
    d = np.tile(unit(vel[None]), (n, 1))
    length = rng.uniform(*size, n)
    a = rng.uniform(0, np.pi, n)
    side1 = unit(np.cross(d, np.stack([np.cos(a), np.sin(a), np.zeros(n)], 1)))
    side2 = np.cross(d, side1)
    parts = []
    for side in (side1, side2):
        g = Geo.from_faces(_quad_strip(p, d, length, side, 0.0025), np.arange(4 * n).reshape(n, 4), mat=0)
        parts.append(g)
    return concat(parts)


def _quad_strip(p, d, length, side, width) -> np.ndarray:
    a, b = p - d * (length / 2)[:, None], p + d * (length / 2)[:, None]
    return np.stack([a - side * width, a + side * width, b + side * width, b - side * width], 1).reshape(-1, 3)


def _flakes(rng: np.random.Generator, p: np.ndarray, size) -> Geo:
    """Snow: a small octahedron per flake, turned at random."""
    n = len(p)
    base = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    tris = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    r = rng.uniform(*size, n)
    verts = (base @ q.T)[None] * r[:, None, None] * np.array([1.0, 1.0, 0.5]) + p[:, None]
    faces = (np.arange(n)[:, None, None] * 6 + tris[None]).reshape(-1, 3)
    return Geo.from_faces(verts.reshape(-1, 3), faces, mat=0)


def _animate(ob, vel: np.ndarray, frames: int, fps: float) -> None:
    """Constant velocity: keys at the first and last frame, linear and extrapolated beyond."""
    for f in (1, max(frames, 2)):
        ob.location = tuple(float(v) for v in vel * (f - 1) / fps)
        ob.keyframe_insert("location", frame=f)
    action = ob.animation_data.action
    for fc in _fcurves(action):
        fc.extrapolation = "LINEAR"
        for k in fc.keyframe_points:
            k.interpolation = "LINEAR"
    ob.location = (0.0, 0.0, 0.0)


def _fcurves(action):
    """The action's F-curves (Blender 5 keeps them in layers, strips and channel bags)."""
    if hasattr(action, "fcurves") and len(action.fcurves):
        return list(action.fcurves)
    out = []
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                out.extend(bag.fcurves)
    return out
