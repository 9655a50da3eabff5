"""Kelp (bpy-free): a holdfast of several thin stipes rising in slow curves towards the
light, each carrying long blades on alternate sides along its length (thin bodies a few
millimetres thick, pinched at the stipe, their edges ruffled in waves); the tallest stipes
reach the plant's full height and run on along it, level, as a canopy of floating blades."""
from __future__ import annotations

import numpy as np

from ..geometry.blades import closed_blades
from ..geometry.mesh_arrays import Geo, concat, tube, unit

BLADE_STEP = 0.24  # metres of stipe between two blades
CANOPY = (0.1, 0.25)  # of the plant's height: how far a stipe that reaches the top runs on, level
BLADE_SECTIONS = 14  # cross-sections along a blade: 3-5 per ruffle, so the waves are not aliased
RUFFLES = (3.0, 4.5)  # waves along each edge of a blade
RUFFLE_HEIGHT = 0.3  # ruffle amplitude / the blade's half-width there
BLADE_THICKNESS = 0.003  # metres through the blade's middle; nothing at its edges


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
    return ruffled_blades(rng, starts, dirs, lengths, widths, across, rng.uniform(0.2, 0.6, len(at)))


def ruffled_blades(rng: np.random.Generator, starts: np.ndarray, dirs: np.ndarray, lengths: np.ndarray,
                   widths: np.ndarray, sides: np.ndarray, droop: np.ndarray) -> Geo:
    """Closed blades from each start [N, 3] along a direction [N, 3], ``widths`` [N] the
    greatest half-width across ``sides`` [N, 3], sagging by ``droop`` [N] times length^2:
    pinched at the stipe, widest at a third, tapering to the tip; each edge rises and falls
    in ruffles of its own phase; vertex attribute ``tip`` runs 0..1 along the blade."""
    n = len(starts)
    if n == 0:
        return Geo.empty()
    d, s = unit(dirs), unit(sides - dirs * np.sum(sides * unit(dirs), axis=1, keepdims=True))
    normal = np.cross(d, s)
    t = np.linspace(0.0, 1.0, BLADE_SECTIONS + 2)                          # [S + 2] base .. tip
    along = t[None] * lengths[:, None]                                      # [N, S + 2]
    centre = starts[:, None] + along[..., None] * d[:, None] - (droop[:, None] * along ** 2)[..., None] * [0, 0, 1.0]
    w = widths[:, None] * np.sin(np.pi * np.minimum(t / 0.35, 1.0) / 2) ** 0.7 * (1.0 - 0.85 * np.maximum(t - 0.35, 0))
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1))
    wave = 2 * np.pi * t[None, None] * rng.uniform(*RUFFLES, (n, 1, 1)) + phase  # [N, 2, S + 2]
    lift = RUFFLE_HEIGHT * w[:, None] * np.sin(wave)                        # [N, 2, S + 2] left, right
    half = BLADE_THICKNESS / 2 * np.sin(np.pi * t)[None] ** 0.5              # [1, S + 2]
    left = centre + w[..., None] * s[:, None] + lift[:, 0, :, None] * normal[:, None]
    right = centre - w[..., None] * s[:, None] + lift[:, 1, :, None] * normal[:, None]
    mid_top = centre + half[..., None] * normal[:, None]
    mid_bottom = centre - half[..., None] * normal[:, None]
    top = np.stack([left, mid_top, right], 2)[:, 1:-1]                      # [N, S, 3, 3]
    ring_t = np.tile(np.repeat(t[1:-1], 4)[None], (n, 1))
    tip = np.concatenate([np.zeros((n, 1)), np.ones((n, 1)), ring_t], 1)
    return closed_blades(centre[:, 0], centre[:, -1], top, mid_bottom[:, 1:-1, None], mat=1, attrs={"tip": tip})
