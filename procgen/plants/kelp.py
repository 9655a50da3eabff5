"""Kelp (bpy-free): a holdfast of several thin stipes rising in slow curves towards the
light, each carrying long wavy blades on alternate sides along its length; the tallest stipes
reach the plant's full height and run on along it, level, as a canopy of floating blades."""
from __future__ import annotations

import numpy as np

from ..geometry.mesh_arrays import Geo, concat, strips, tube, unit

BLADE_STEP = 0.24  # metres of stipe between two blades
CANOPY = (0.1, 0.25)  # of the plant's height: how far a stipe that reaches the top runs on, level


def kelp(rng: np.random.Generator, height: float, stipes: int | None = None) -> Geo:
    """A kelp plant about ``height`` tall with its holdfast at the origin (slot 0 stipe, 1 blade)."""
    n = int(stipes or rng.integers(4, 9))
    parts = []
    for i in range(n):
        path = _stipe_path(rng, height * (1.0 if i % 2 == 0 else rng.uniform(0.65, 1.0)))
        if i % 2 == 0:  # every other stipe reaches the top and spreads there
            path = _canopy_run(rng, path, height)
        parts.append(tube(path, np.linspace(0.014, 0.006, len(path)), sides=5, mat=0, cap=False))
        parts.append(_blades(rng, path))
    return concat(parts)


def _stipe_path(rng: np.random.Generator, h: float) -> np.ndarray:
    """Points [P, 3] of one stipe: from near the holdfast up, drifting to one side and
    wandering in a slow sine, as a current leaves it."""
    t = np.linspace(0.0, 1.0, max(int(h / 0.5), 6))
    base = rng.normal(scale=0.08, size=2)
    drift = rng.normal(scale=0.07 * h, size=2)
    turn, freq = rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 2.5)
    wander = 0.04 * h * np.stack([np.sin(2 * np.pi * freq * t + turn), np.cos(2 * np.pi * freq * t + turn)], 1)
    xy = base[None] + drift[None] * t[:, None] ** 1.5 + wander * t[:, None]
    return np.concatenate([xy, (h * t)[:, None]], 1)


def _canopy_run(rng: np.random.Generator, path: np.ndarray, height: float) -> np.ndarray:
    """The stipe [P, 3] continued from its top, level at ``height``, in the direction it leans
    (floating stipes lie along the surface); [P + Q, 3]."""
    lean = path[-1, :2] - path[0, :2]
    lean = lean / max(np.linalg.norm(lean), 1e-6)
    run = height * rng.uniform(*CANOPY)
    t = np.linspace(0.0, 1.0, max(int(run / 0.4), 3) + 1)[1:]
    side = rng.normal(scale=0.15)
    xy = path[-1, :2] + run * t[:, None] * (lean + side * t[:, None] * lean[::-1] * [1, -1])
    z = height - 0.03 * height * np.sin(np.pi * t)
    return np.concatenate([path, np.column_stack([xy, z])], 0)


def _blades(rng: np.random.Generator, path: np.ndarray) -> Geo:
    """Blades along a stipe [P, 3] from a sixth of its height to its top, on alternate sides,
    rising at a slant (they float) and longest in the middle of the plant."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.arange(s[-1] / 6, s[-1], BLADE_STEP) + rng.uniform(0, BLADE_STEP)
    at = at[at < s[-1]]
    if len(at) == 0:
        return Geo.empty()
    starts = np.stack([np.interp(at, s, path[:, k]) for k in range(3)], 1)
    u = at / s[-1]
    side = np.arange(len(at)) * np.pi + rng.uniform(0, 2 * np.pi) + rng.normal(scale=0.4, size=len(at))
    out = np.stack([np.cos(side), np.sin(side), np.zeros_like(side)], 1)
    rise = rng.uniform(0.9, 1.8, len(at)) * np.where(starts[:, 2] > 0.97 * path[:, 2].max(), 0.15, 1.0)
    dirs = unit(out + rise[:, None] * np.array([0, 0, 1.0]))
    lengths = rng.uniform(0.5, 0.9, len(at)) * (0.55 + 0.9 * u * (1 - u) * 2)
    widths = rng.uniform(0.05, 0.09, len(at))
    across = np.cross(dirs, np.array([0, 0, 1.0])) + 0.3 * rng.normal(size=(len(at), 3))
    return strips(starts, dirs, lengths, widths, across, segments=4, droop=rng.uniform(0.2, 0.6, len(at)), mat=1)
