"""The close-range walk: a camera at eye height over the ground (0.8-1.2 m) that weaves
between trunks, bushes and rocks, passes within a metre of a tree and never enters an
obstacle's box (bpy-free).

The route is planned before anything is placed, like every path, but its keep-out corridor
is ``SQUEEZE`` metres narrower than the other paths' (trees may stand a metre from it). Once
the scene stands, :func:`clear_walk` moves each blocked position sideways to the nearest
free spot instead of lifting it over the obstacle, then bends the route past the nearest
of what the biome has to walk past (``Biome.walk_past``: trunks in a forest, cacti in the
desert, corals on a reef)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # biomes.py imports WalkStyle, and the height field imports the config, which imports biomes
    from ..terrain.heightfield import Heightfield

WALK_HEIGHT = (0.8, 1.2)  # eye height above the ground (m), drawn per scene
WALK_GAP = 0.25           # metres between the camera and the box of anything it passes
TRUNK_GAP = -0.25         # a trunk's box is 0.3 m wider than its bark (``object_obstacles``): come closer
SQUEEZE = 2.5             # the walk's keep-out corridor is this much narrower than other paths' (m)
SEARCH = 4.0              # farthest a blocked position moves sideways (m)
LOOK_AHEAD = 8.0          # metres ahead along the route the camera looks
SHORE_WALK = (0.3, 1.2)   # on a sea shore the walk keeps to ground this high over the water (m): the beach


@dataclass(frozen=True)
class WalkStyle:
    """How a biome's walk goes (``Biome.walk``)."""
    eye: tuple[float, float] = WALK_HEIGHT  # the range its eye height over the ground is drawn from (m)
    steady: bool = False  # look along the planned heading, not along the cleared route (which weaves
    #                       between tall grass clumps, or along a narrow beach)
    look: tuple[str, ...] = ()  # classes its view turns towards (empty: the subject and ``walk_past``)


PLAIN_WALK = WalkStyle()


def plan_walk(hf: Heightfield, focus: np.ndarray, rng: np.random.Generator, frames: int, height: float,
              side: float | None, style: WalkStyle = PLAIN_WALK) -> dict:
    """A gently curving route of ``frames`` positions [F, 3] beside the focus (whose open disc
    holds no trees), ``height`` (<= 0: drawn) above the ground, looking ahead along it. ``side``:
    the direction (radians) from the focus towards which cameras stay (a cliff's open side);
    ``style``: the biome's eye heights and whether it looks along the planned heading."""
    size = hf.size
    lift = height if height > 0 else float(rng.uniform(*style.eye))
    heading = rng.uniform(0, 2 * np.pi) if side is None else side + np.pi / 2 * rng.choice([-1, 1])
    away = heading + np.pi / 2 * rng.choice([-1, 1]) if side is None else side
    length = size * rng.uniform(0.06, 0.1)
    curve = rng.uniform(-0.8, 0.8)
    t = np.linspace(-0.5, 0.5, frames)
    head = heading + curve * t
    mid = focus[:2] + 0.08 * size * np.array([np.cos(away), np.sin(away)])
    step = np.stack([np.cos(head), np.sin(head)], 1) * (length / max(frames - 1, 1))
    xy = np.concatenate([[[0.0, 0.0]], np.cumsum(step[:-1], axis=0)])
    xy = mid[None] + xy - xy.mean(axis=0)
    xy = np.clip(xy, -0.42 * size, 0.42 * size)
    out = {"kind": "walk", "lift": lift, "corridor": -SQUEEZE}
    if "shore" in hf.features and side is not None:  # a sea shore: along the beach, the surf beside it
        xy = _onto_beach(hf, xy, np.array([np.cos(side), np.sin(side)]))
    if style.steady:
        out["heading"] = head
    out["pos"], out["target"] = at_eye_height(hf, xy, lift, head)
    return out


def _onto_beach(hf: Heightfield, xy: np.ndarray, inland: np.ndarray) -> np.ndarray:
    """Positions [F, 2] moved along ``inland`` [2] (the land side of a sea shore) onto the
    beach: the ground in the middle of ``SHORE_WALK`` over the water, nearest where they were."""
    t = np.arange(-40.0, 40.0, 0.25)
    q = xy[:, None] + t[None, :, None] * inland  # [F, T, 2]
    ground = hf.height(q[..., 0], q[..., 1]) - hf.shore_level
    best = np.argmin(np.abs(ground - np.mean(SHORE_WALK)) + 0.01 * np.abs(t), axis=1)
    return q[np.arange(len(xy)), best]


def at_eye_height(hf: Heightfield, xy: np.ndarray, lift: float, heading: np.ndarray | None = None):
    """Positions [F, 3] ``lift`` above the ground at ``xy`` [F, 2] and targets [F, 3] ``LOOK_AHEAD``
    ahead along the route (or along ``heading`` [F] radians where given), at eye height too."""
    if heading is None:
        d = np.gradient(xy, axis=0) if len(xy) > 1 else np.array([[1.0, 0.0]])
        d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    else:
        d = np.stack([np.cos(heading), np.sin(heading)], 1)
    ahead = xy + LOOK_AHEAD * d
    z = hf.height(xy[:, 0], xy[:, 1]) + lift
    tz = hf.height(ahead[:, 0], ahead[:, 1]) + lift
    return np.concatenate([xy, z[:, None]], 1), np.concatenate([ahead, tz[:, None]], 1)


def _blocked(hf: Heightfield, xy: np.ndarray, lift: float, lo: np.ndarray, hi: np.ndarray,
             under: np.ndarray, trunk: np.ndarray, under_gap: float) -> np.ndarray:
    """Whether a camera ``lift`` above the ground at each of ``xy`` [K, 2] would be within
    ``WALK_GAP`` of an obstacle box (lo, hi [M, 3]; ``under`` [M]: a crown it may pass
    ``under_gap`` below; ``trunk`` [M]: a trunk, ``TRUNK_GAP``), over the water, off the
    terrain, or out of a cave. Returns bool [K]."""
    x, y = xy[:, 0:1], xy[:, 1:2]
    ground = hf.height(xy[:, 0], xy[:, 1])
    z = (ground + lift)[:, None]
    g = np.where(trunk, TRUNK_GAP, WALK_GAP)
    inside = (x > lo[:, 0] - g) & (x < hi[:, 0] + g) & (y > lo[:, 1] - g) & (y < hi[:, 1] + g)
    span = np.where(under, z > lo[:, 2] - under_gap, (z > lo[:, 2] - g) & (z < hi[:, 2] + g))
    out = (inside & span).any(axis=1) | (np.abs(xy).max(axis=1) > 0.45 * hf.size)
    if hf.shore_level is not None:
        out |= ground < hf.shore_level + 0.1
    if "shore" in hf.features:  # a sea shore's: along the beach, the surf beside it
        out |= ground > hf.shore_level + SHORE_WALK[1]
    if "roof" in hf.features:  # a cave's walk stays inside, half a metre under the roof
        roof = hf.roof_at(xy[:, 0], xy[:, 1])
        out |= ~(np.isfinite(roof) & (roof - z[:, 0] > 0.5))
    return out


_RINGS = np.arange(0.1, SEARCH + 1e-9, 0.1)
_ANGLES = np.linspace(0, 2 * np.pi, 24, endpoint=False)
_OFFSETS = (_RINGS[:, None, None] * np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], 1)[None]).reshape(-1, 2)


def _nearest_free(xy: np.ndarray, blocked) -> np.ndarray | None:
    """The free spot [2] nearest to ``xy`` [2] within ``SEARCH`` m (None if there is none)."""
    cand = xy[None] + _OFFSETS
    free = np.nonzero(~blocked(cand))[0]
    return cand[free[0]] if len(free) else None


def _push_out(xy: np.ndarray, blocked) -> np.ndarray:
    xy = xy.copy()
    for f in np.nonzero(blocked(xy))[0]:
        spot = _nearest_free(xy[f], blocked)
        if spot is not None:
            xy[f] = spot
    return xy


def _smooth_xy(xy: np.ndarray, w: int) -> np.ndarray:
    pad = np.pad(xy, ((w, w), (0, 0)), mode="edge")
    k = np.ones(2 * w + 1) / (2 * w + 1)
    return np.stack([np.convolve(pad[:, i], k, mode="valid") for i in range(2)], 1)


def _graze(xy: np.ndarray, axes: np.ndarray, blocked, eye) -> np.ndarray:
    """Move the route [F, 2] so that one frame comes as close to a subject's axis (a vertical
    segment at the middle of its box: x, y, bottom, top [T, 4]) as the obstacles allow: of each
    subject's nearest frame, the one that can come closest (a trunk under a high crown, not a
    spruce whose branches reach the ground; a rock beside the camera, not one sunk below it on a
    slope). ``eye``: the camera's height [K] at ``xy`` [K, 2]. The whole route shifts so that its
    middle frame passes it: the frames before walk up to it, with the subject ahead (trees may
    stand farther from the planned route where the forest is sparse)."""
    if not len(axes) or not len(xy):
        return xy
    best, shift = np.inf, None
    for t in range(len(axes)):
        spot = _nearest_free(axes[t, :2], blocked)  # the free spot closest to the axis, on any side
        if spot is None:
            continue
        z = float(eye(spot[None])[0])
        gap = float(np.hypot(np.linalg.norm(spot - axes[t, :2]), max(axes[t, 2] - z, z - axes[t, 3], 0.0)))
        if gap < best - 1e-6:
            best, shift = gap, spot - xy[len(xy) // 2]
    return xy if shift is None else xy + shift[None]


def _subjects(obstacles: list, past: tuple[str, ...]) -> np.ndarray:
    """Axes [K, 4] (x, y, bottom, top) of the obstacles of the classes ``past`` (a tree's trunk,
    never its crown), or of every obstacle but a crown where the scene has none of those."""
    near = [o for o in obstacles if not o.under and o.cls in past] or [o for o in obstacles if not o.under]
    return np.array([[*(0.5 * (o.lo[:2] + o.hi[:2])), o.lo[2], o.hi[2]] for o in near]).reshape(-1, 4)


def clear_walk(p: dict, hf: Heightfield, obstacles: list, under_gap: float,
               past: tuple[str, ...] = ("tree",)) -> tuple[np.ndarray, np.ndarray]:
    """Positions [F, 3] and targets [F, 3] of the planned walk ``p`` moved sideways out of every
    obstacle (``camera_paths.Obstacle``; it passes ``under_gap`` below a crown) and bent past
    the nearest obstacle of the classes ``past`` (a tree's trunk, a cactus, a coral)."""
    lift = float(p["lift"])
    if obstacles:
        lo = np.array([o.lo for o in obstacles])
        hi = np.array([o.hi for o in obstacles])
        under = np.array([o.under for o in obstacles])
        trunk = np.array([o.trunk for o in obstacles])
    else:
        lo = hi = np.zeros((0, 3))
        under = trunk = np.zeros(0, bool)

    def blocked(q):  # only the boxes near the points asked about (thousands of reeds on a river)
        a, b = q.min(axis=0) - 2 * WALK_GAP, q.max(axis=0) + 2 * WALK_GAP
        k = (hi[:, 0] > a[0]) & (lo[:, 0] < b[0]) & (hi[:, 1] > a[1]) & (lo[:, 1] < b[1])
        return _blocked(hf, q, lift, lo[k], hi[k], under[k], trunk[k], under_gap)

    xy = p["pos"][:, :2].copy()
    w = max(1, len(xy) // 8)
    for _ in range(3):
        xy = _push_out(xy, blocked)
        if len(xy) > 2:
            xy = _smooth_xy(xy, w)
    def eye(q):
        return hf.height(q[:, 0], q[:, 1]) + lift

    xy = _push_out(_graze(_push_out(xy, blocked), _subjects(obstacles, past), blocked, eye), blocked)
    return at_eye_height(hf, xy, lift, p.get("heading"))
