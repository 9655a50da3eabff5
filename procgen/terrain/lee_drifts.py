"""Snow piled by the wind behind single obstacles (bpy-free): a tail downwind of each rock or
tree, a scour hollow in front of it.

Wind speeds up round an obstacle and strips the snow on its windward side; in the slack air
behind it the snow drops in a tail that tapers downwind over several times the obstacle's
height. Each obstacle ``k`` at (x, y) of footprint radius ``r`` and height ``h`` above the
ground, with ``s`` the distance downwind of it and ``t`` across the wind, adds

    tail(s, t)  = A * rise(s / 1.5r) * (1 - s / L)^1.5 * exp(-(t / w(s))^2)   for 0 < s < L
    scour(s, t) = S * exp(-((s + 1.5r) / 0.7r)^2) * exp(-(t / 1.3r)^2)

with ``L = min(TAIL * h, TAIL_MAX)``, ``A = solidity * min(HEAP * h, HEAP_MAX)``,
``S = solidity * min(SCOUR * h, SCOUR_MAX)``, ``w(s) = r (1 - 0.6 s / L)`` and ``rise`` a
smoothstep from 0 at the obstacle's centre (so the obstacle's own footing stays where it was).
Where tails cross, the deeper one holds; where scours cross, the deeper one.
"""
from __future__ import annotations

import numpy as np

TAIL = 5.0          # tail length per metre of obstacle height
TAIL_MAX = 30.0     # metres: the longest tail
HEAP = 0.3          # metres of snow at the tail's deepest per metre of height
HEAP_MAX = 1.0      # metres: the deepest tail
SCOUR = 0.1         # metres of snow blown out in front per metre of height
SCOUR_MAX = 0.25    # metres: the deepest scour
EDGE = 6            # grid cells along the border left as they are (the land beyond meets it there)


def reach(height) -> np.ndarray:
    """Length (m) of the tail behind obstacles of ``height`` (m)."""
    return np.minimum(TAIL * np.asarray(height, float), TAIL_MAX)


def tails(size: float, n: int, obstacles: np.ndarray, wind) -> np.ndarray:
    """Change of snow depth [N, N] on a grid of ``n`` x ``n`` points over a square of side
    ``size`` centred on the origin (row j = y) from ``obstacles`` [K, 5] (x, y, radius, height,
    solidity 0..1) with the wind blowing towards ``wind`` [2]; zero on the border's ``EDGE`` cells."""
    w = np.asarray(wind, float) / np.linalg.norm(wind)
    c = np.linspace(-size / 2, size / 2, n)
    cell = c[1] - c[0]
    heap, scour = np.zeros((n, n)), np.zeros((n, n))
    for x, y, r, h, solid in np.asarray(obstacles, float).reshape(-1, 5):
        r = max(r, cell)
        ext = reach(h) + 3.0 * r
        i0, i1 = np.searchsorted(c, [x - ext, x + ext])
        j0, j1 = np.searchsorted(c, [y - ext, y + ext])
        if i1 <= i0 or j1 <= j0:
            continue
        dx, dy = np.meshgrid(c[i0:i1] - x, c[j0:j1] - y)
        s, t = dx * w[0] + dy * w[1], dy * w[0] - dx * w[1]
        win = (slice(j0, j1), slice(i0, i1))
        heap[win] = np.maximum(heap[win], solid * min(HEAP * h, HEAP_MAX) * _tail(s, t, r, float(reach(h))))
        scour[win] = np.maximum(scour[win], solid * min(SCOUR * h, SCOUR_MAX) * _scour(s, t, r))
    return (heap - scour) * _inside(n)


def _tail(s: np.ndarray, t: np.ndarray, r: float, length: float) -> np.ndarray:
    """The tail's shape (peak 1) at downwind ``s`` and across ``t`` [...] of an obstacle of radius ``r``."""
    u = np.clip(s / (1.5 * r), 0.0, 1.0)
    along = u * u * (3 - 2 * u) * np.clip(1 - s / length, 0.0, 1.0) ** 1.5
    half = r * (1 - 0.6 * np.clip(s / length, 0.0, 1.0))
    return np.where(np.abs(t) < 3 * half, along * np.exp(-(t / half) ** 2), 0.0)


def _scour(s: np.ndarray, t: np.ndarray, r: float) -> np.ndarray:
    """The scour's shape (peak 1): a hollow 1.5 radii upwind of the obstacle's centre."""
    near = (np.abs(s + 1.5 * r) < 1.4 * r) & (np.abs(t) < 2.6 * r)  # (two widths each way)
    return np.where(near, np.exp(-((s + 1.5 * r) / (0.7 * r)) ** 2 - (t / (1.3 * r)) ** 2), 0.0)


def _inside(n: int) -> np.ndarray:
    """1 inside, easing to 0 over ``EDGE`` cells at the border [N, N]."""
    k = np.arange(n)
    d = np.minimum(k, n - 1 - k)
    f = np.clip(d / EDGE, 0.0, 1.0)
    return f[:, None] * f[None, :]
