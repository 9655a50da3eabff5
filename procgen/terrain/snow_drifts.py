"""Wind-blown snow on a height field (bpy-free): drifts in the lee of rises, hollows filled.

Wind strips snow from exposed ground and drops it where the ground shelters it. How sheltered
a point is is measured as in snow-redistribution models: the steepest upward angle to the
ground upwind of it within ``REACH`` (positive behind a rise, negative on a windward crest).
Snow piles up with that angle, and settles into hollows (the ground under a wide blur of
itself). Applied to the height field before anything stands on it, so rocks, trees,
animals and cameras all meet the drifted surface.
"""
from __future__ import annotations

import numpy as np

REACH = (1.5, 30.0)   # metres upwind over which a rise shelters a point
DEPTH = 0.9           # metres of snow at full shelter (an angle of SHELTERED)
SHELTERED = 0.35      # tan of the upwind angle that gives the full drift depth
SCOUR = 0.25          # metres of snow at most blown off an exposed crest
FILL = 0.6            # share of a hollow's depth (under the blurred ground) that snow fills
FILL_MAX = 1.2        # metres: the deepest fill
HOLD = (0.25, 0.4)    # slope (1 - normal.z) over which snow stops holding: about 41 to 53 degrees


def shelter(z: np.ndarray, cell: float, wind: np.ndarray) -> np.ndarray:
    """tan of the steepest angle up to the ground upwind [N, N] of each grid point of heights
    ``z`` [N, N] (spacing ``cell``; row j = y) with the wind blowing towards unit ``wind`` [2]."""
    n = z.shape[0]
    jj, ii = np.mgrid[0:n, 0:n].astype(float)
    best = np.full(z.shape, -np.inf)
    for d in np.arange(REACH[0], REACH[1] + 1e-9, cell):
        u = np.clip(ii - d * wind[0] / cell, 0, n - 1 - 1e-9)
        v = np.clip(jj - d * wind[1] / cell, 0, n - 1 - 1e-9)
        best = np.maximum(best, (_bilinear(z, u, v) - z) / d)
    return best


def _bilinear(z: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    i, j = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = u - i, v - j
    top = z[j, i] * (1 - fu) + z[j, i + 1] * fu
    return top * (1 - fv) + (z[j + 1, i] * (1 - fu) + z[j + 1, i + 1] * fu) * fv


def blur(z: np.ndarray, cell: float, radius: float) -> np.ndarray:
    """A smooth version of ``z``: three box blurs of about ``radius`` metres (edges repeated)."""
    k = max(1, int(round(radius / cell / 1.7)))
    out = z
    for _ in range(3):
        for axis in (0, 1):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (k, k)
            c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
            c = np.concatenate([np.zeros_like(c.take([0], axis=axis)), c], axis=axis)
            hi = c.take(np.arange(2 * k + 1, c.shape[axis]), axis=axis)
            lo = c.take(np.arange(0, c.shape[axis] - 2 * k - 1), axis=axis)
            out = (hi - lo) / (2 * k + 1)
    return out


def drift(z: np.ndarray, cell: float, wind, water_level: float | None = None) -> np.ndarray:
    """Heights ``z`` [N, N] (spacing ``cell`` metres) with snow drifted by the wind blowing
    towards ``wind`` [2]: deeper behind rises, thinner on windward crests, hollows filled;
    none where it is too steep to hold or under ``water_level``."""
    w = np.asarray(wind, float) / np.linalg.norm(wind)
    s = shelter(z, cell, w)
    dz = np.where(s > 0, DEPTH * np.minimum(s / SHELTERED, 1.0), SCOUR * np.maximum(s / SHELTERED, -1.0))
    dz = dz + np.minimum(FILL * np.maximum(blur(z, cell, 6.0) - z, 0.0), FILL_MAX)
    dz = blur(dz, cell, 1.5)  # wind-smoothed: no step where the shelter starts
    return z + dz * holds(z, cell, water_level)


def holds(z: np.ndarray, cell: float, water_level: float | None = None) -> np.ndarray:
    """How much of a drift the ground of heights ``z`` [N, N] holds [N, N]: 1 up to HOLD's
    slopes, easing to 0 where it is steeper; 0 at and under the water."""
    dzdy, dzdx = np.gradient(z, cell)
    slope = 1.0 - 1.0 / np.sqrt(1.0 + dzdx ** 2 + dzdy ** 2)
    hold = np.clip((HOLD[1] - slope) / (HOLD[1] - HOLD[0]), 0.0, 1.0)
    if water_level is not None:  # the shore and the lake stay as they are
        hold = np.where(z > water_level + SCOUR + 0.05, hold, 0.0)
    return hold
