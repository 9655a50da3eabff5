"""Cameras inside a cave (``terrain/cave.py``): they move along the tunnel's course, within a
fifth of its half width of the middle, at 35-50 % of the free height, and look along it, mostly
out towards the lit mouth; independent views (``multiview``) stand anywhere along the course
and look either way; the close-range walk keeps 0.8-1.2 m over the floor, past the rocks.
``clamp_under_roof`` keeps every position under the roof after the obstacle clearance has
lifted it."""
from __future__ import annotations

import numpy as np

from ..terrain.heightfield import Heightfield
from .camera_walk import WALK_HEIGHT, at_eye_height

ROOF_GAP = 1.0   # metres between a camera and the roof over it
LOOK_AHEAD = 8.0  # metres along the course to the point a moving camera looks at


def _course(hf: Heightfield) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course [P + 1, 2] with a point 30 m out of the mouth first, its arc length [P + 1]
    from that point, and its half widths [P + 1]."""
    cave = hf.features["cave"]
    course = np.asarray(cave["course"])
    out = np.asarray(cave["mouth_at"]) + 30.0 * np.asarray(cave["mouth"])
    pts = np.concatenate([out[None], course])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    w = np.concatenate([[cave["half_width"][0]], cave["half_width"]])
    return pts, s, w


def _at(pts: np.ndarray, s: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Points [K, 2] at arc lengths ``where`` [K] along the polyline ``pts`` [P, 2] (``s`` [P])."""
    return np.stack([np.interp(where, s, pts[:, j]) for j in range(2)], 1)


def plan_cave(hf: Heightfield, rng: np.random.Generator, frames: int, kind: str) -> dict:
    """Positions [F, 3] and targets [F, 3] in the tunnel (``camera_paths.plan``'s result)."""
    pts, s, w = _course(hf)
    inner = (s[1] + 3.0, s[-1] - 4.0)  # from just inside the mouth to short of the dead end
    if kind == "multiview":
        where = rng.uniform(*inner, frames)
        look = np.where(rng.uniform(size=frames) < 0.6, -1.0, 1.0)  # mostly towards the mouth
    else:
        travel = min(rng.uniform(0.3, 0.5) * frames, 0.6 * (inner[1] - inner[0]))
        start = rng.uniform(inner[0] + travel, inner[1])
        outwards = rng.uniform() < 0.7 or kind == "walk"  # the walk faces the lit mouth (``look_out``)
        steps = np.linspace(0.0, travel, frames)
        where = start - steps if outwards else start - travel + steps
        look = np.full(frames, -1.0 if outwards else 1.0)
    centre = _at(pts, s, where)
    ahead = _at(pts, s, np.clip(where + look * LOOK_AHEAD, 0.0, s[-1]))
    tangent = ahead - centre
    side = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / np.maximum(np.linalg.norm(tangent, axis=1), 1e-9)[:, None]
    offset = 0.2 * np.interp(where, s, w) * np.sin(rng.uniform(0, 2 * np.pi) + where / rng.uniform(4.0, 8.0))
    xy = centre + side * offset[:, None]
    if kind == "walk":  # low over the floor, past the rocks (``camera_walk.clear_walk``)
        lift = float(rng.uniform(*WALK_HEIGHT))
        pos, target = at_eye_height(hf, xy, lift)
        return {"kind": kind, "pos": pos, "target": target, "lift": lift, "corridor": 0.0}
    floor = hf.height(xy[:, 0], xy[:, 1])
    free = hf.roof_at(xy[:, 0], xy[:, 1]) - floor
    z = floor + np.clip(rng.uniform(0.35, 0.5) * free, 1.5, np.maximum(free - ROOF_GAP, 1.5))
    tz = hf.height(ahead[:, 0], ahead[:, 1]) + 0.8 * (z - floor)
    return {"kind": kind, "pos": np.concatenate([xy, z[:, None]], 1),
            "target": np.concatenate([ahead, tz[:, None]], 1), "corridor": 0.0}


def look_out(hf: Heightfield, pos: np.ndarray) -> np.ndarray:
    """Targets [F, 3] for the walk's positions [F, 3]: the middle of the passage ``LOOK_AHEAD``
    metres nearer the mouth than each position's nearest point of the course, at its height.
    Clearance moves the walk past a boulder and so to the side of the passage; looking along its
    own shifted route would look into the wall at point-blank range, this looks down the passage
    with the rock close on one side."""
    pts, s, _ = _course(hf)
    fine = np.linspace(0.0, s[-1], max(2, int(s[-1] / 0.25)))
    line = _at(pts, s, fine)
    near = fine[np.argmin(np.linalg.norm(pos[:, None, :2] - line[None], axis=2), axis=1)]
    ahead = _at(pts, s, np.maximum(near - LOOK_AHEAD, 0.0))
    return np.concatenate([ahead, pos[:, 2:3]], 1)


def clamp_under_roof(pos: np.ndarray, hf: Heightfield) -> np.ndarray:
    """Positions [F, 3] no higher than ``ROOF_GAP`` under the rock overhead (unchanged in the open)."""
    pos = pos.copy()
    pos[:, 2] = np.minimum(pos[:, 2], hf.roof_at(pos[:, 0], pos[:, 1]) - ROOF_GAP)
    return pos
