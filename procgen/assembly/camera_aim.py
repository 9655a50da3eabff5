"""Cameras that find the subject: each biome names its signature feature (``Biome.subject``, a
semantic class: the cliff wall, the sea, the trees, ...), and once the scene stands the
camera path turns its view about the vertical towards where that feature lies.

The feature is a cloud of sample points on its surfaces ([N, 3]: the objects' own vertices,
or height-field cells for terrain and water). For each frame and each candidate turn the
score adds up the points in the camera's frustum that the ground does not hide, each
weighted by 1/distance^2 (the solid angle of a patch of surface). A path turns only
where that shows clearly more of the feature (``GAIN``); independent views turn one by
one, other paths all by the same angle so they stay smooth.

Water is known before anything is placed, so a path whose subject is water is also
planned around the water's nearest point (:func:`plan_centre`) rather than the focus."""
from __future__ import annotations

import numpy as np

from ..terrain.heightfield import Heightfield

TURNS = np.radians([0, -15, 15, -30, 30, -45, 45, -60, 60, -75, 75, -90, 90])  # nearest first
GAIN = 2.0            # a turn must show twice as much of the feature as the planned view
MAX_POINTS = 4000     # sample points of the feature (a deterministic stride through them)
NEAR = 2.0            # metres: closer points weigh as much as points this far


def plan_centre(hf: Heightfield, focus: np.ndarray, subject: str) -> np.ndarray:
    """The point [3] a camera path is planned around: for a water subject the water cell
    nearest to the ``focus`` (at the water level), else the focus."""
    if subject != "water" or hf.shore_level is None:
        return focus
    c = hf.coords
    x, y = np.meshgrid(c, c)
    wet = hf.z < hf.shore_level
    if not wet.any():
        return focus
    d = (x - focus[0]) ** 2 + (y - focus[1]) ** 2
    k = np.argmin(np.where(wet, d, np.inf))
    return np.array([x.flat[k], y.flat[k], hf.shore_level])


def subject_points(objects, cls: str, hf: Heightfield, min_slope: float = 0.0) -> np.ndarray:
    """Sample points [N, 3] of the semantic class ``cls``: terrain cells at least ``min_slope``
    steep (1 - normal.z), water cells at the water level, or the world-space vertices of
    the rendered objects of that class (a carrier's vertices are its copies' points)."""
    if cls in ("terrain", "water"):
        c = hf.coords
        x, y = np.meshgrid(c, c)
        if cls == "water":
            if hf.water_level is None:
                return np.zeros((0, 3))
            keep = hf.z < hf.water_level
            pts = np.stack([x[keep], y[keep], np.full(keep.sum(), float(hf.water_level))], 1)
        else:
            keep = (1.0 - hf.normals()[..., 2]) >= min_slope
            if "roof" in hf.features:  # a cave's: only its floor under the roof, not the rock around it
                roof = hf.roof_at(x, y)
                keep &= np.isfinite(roof) & (roof - hf.z > 0.5)
            pts = np.stack([x[keep], y[keep], hf.z[keep]], 1)
        return _thin(pts)
    parts = []
    for ob in objects:
        if ob.get("gs_class") != cls or ob.hide_render or ob.type != "MESH" or not len(ob.data.vertices):
            continue
        co = np.empty(len(ob.data.vertices) * 3, np.float32)
        ob.data.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)[:: max(1, len(co) // 3 // 500)]
        m = np.array(ob.matrix_world)
        parts.append(co @ m[:3, :3].T + m[:3, 3])
    return _thin(np.concatenate(parts)) if parts else np.zeros((0, 3))


def _thin(pts: np.ndarray) -> np.ndarray:
    return pts[:: max(1, len(pts) // MAX_POINTS)].astype(np.float64)


def _unhidden(pos: np.ndarray, pts: np.ndarray, hf: Heightfield, steps: int = 12) -> np.ndarray:
    """Whether the ground leaves the line from each camera [F, 3] to each point [N, 3] open:
    bool [F, N]."""
    s = np.linspace(0.08, 0.92, steps)[:, None, None, None]
    line = pos[None, :, None] * (1 - s) + pts[None, None] * s  # [S, F, N, 3]
    below = hf.height(line[..., 0], line[..., 1]) > line[..., 2] + 0.05
    return ~below.any(axis=0)


def view_scores(pos: np.ndarray, target: np.ndarray, pts: np.ndarray, hf: Heightfield,
                tan_x: float, tan_y: float, turns: np.ndarray = TURNS) -> np.ndarray:
    """How much of the feature (points [N, 3]) each camera [F, 3] sees looking at ``target``
    [F, 3] turned about the vertical by each of ``turns`` [T] (radians): [F, T]."""
    v = pts[None] - pos[:, None]  # [F, N, 3]
    dist = np.linalg.norm(v, axis=2)
    weight = _unhidden(pos, pts, hf) / np.maximum(dist, NEAR) ** 2
    d = target - pos
    out = np.zeros((len(pos), len(turns)))
    for k, a in enumerate(turns):
        c, s = np.cos(a), np.sin(a)
        fwd = np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1], d[:, 2]], 1)
        fwd /= np.maximum(np.linalg.norm(fwd, axis=1, keepdims=True), 1e-9)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.maximum(np.linalg.norm(right, axis=1, keepdims=True), 1e-9)
        up = np.cross(right, fwd)
        cz = np.einsum("fnk,fk->fn", v, fwd)
        cx = np.abs(np.einsum("fnk,fk->fn", v, right))
        cy = np.abs(np.einsum("fnk,fk->fn", v, up))
        seen = (cz > 0.3) & (cx < tan_x * cz) & (cy < tan_y * cz)
        out[:, k] = (weight * seen).sum(axis=1)
    return out


def choose_turns(scores: np.ndarray, independent: bool) -> np.ndarray:
    """The turn index per frame [F] from ``scores`` [F, T]: per frame for independent views,
    else one for the whole path; the planned view (0) unless a turn gains ``GAIN``."""
    if independent:
        best = scores.argmax(axis=1)
        keep = scores[np.arange(len(scores)), best] > GAIN * scores[:, 0]
        return np.where(keep, best, 0)
    total = scores.sum(axis=0)
    best = int(total.argmax())
    return np.full(len(scores), best if total[best] > GAIN * total[0] else 0)


def aim(pos: np.ndarray, target: np.ndarray, pts: np.ndarray, hf: Heightfield, tan_x: float, tan_y: float,
        independent: bool) -> tuple[np.ndarray, np.ndarray]:
    """Targets [F, 3] turned towards the feature's points [N, 3], and the turns [F] (radians)."""
    if not len(pts) or not len(pos):
        return target, np.zeros(len(pos))
    turn = TURNS[choose_turns(view_scores(pos, target, pts, hf, tan_x, tan_y), independent)]
    d = target - pos
    c, s = np.cos(turn), np.sin(turn)
    turned = np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1], d[:, 2]], 1)
    return pos + turned, turn
