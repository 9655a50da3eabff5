"""The moving foam of an ocean's waves, bpy-free: the height of the wave grid at (x, y, t) and
the foam it carries there. The wave grid's geometry nodes (``water.wave_nodes``) compute the same
formula per vertex from the scene time, so the foam rides the crests and comes and goes with
each wave as it shallows and peaks towards the shore."""
from __future__ import annotations

import numpy as np

FOAM_ATTRIBUTE = "gs_foam"  # per vertex of an ocean's wave grid: 0 .. 1, moving with the waves
OCEAN_ATTRIBUTE = "gs_ocean"  # 1 on an ocean's wave grid: its material uses the moving foam
WHITECAP = (1.6, 0.8, 0.5)  # open sea: crests above start * sigma foam, full at +width, at most cap
STEEPEN = 0.25  # shallows: a crest h > 0 rises by STEEPEN * h^2 / sigma times the shore closeness
BREAKER = (0.0, 1.2)  # shallows: the upper half of each wave foams (start * sigma), full at +width
LIP = (0.5, 0.3, 5.0)  # shallows: a crest's top leads its base forward: from start * sigma of height the
# lead rises (smoothstep over width * sigma) to reach * sigma, times how far into the breaking zone it is


def wave_height(params: list, fade: tuple[float, float], x: np.ndarray, y: np.ndarray, t: float) -> np.ndarray:
    """The grid's vertical offset at x, y [...] (grid-local metres) and time t (s): the sum of
    a sin(kx x + ky y - w t + phase), faded to 0 towards the grid's edge. Shape of x."""
    total = np.zeros(np.broadcast(x, y).shape)
    for a, kx, ky, w, ph in params:
        total += a * np.sin(kx * x + ky * y - w * t + ph)
    edge = np.maximum(np.abs(x), np.abs(y))
    s = np.clip((edge - fade[0]) / (fade[1] - fade[0]), 0.0, 1.0)
    return total * (1.0 - s * s * (3.0 - 2.0 * s))


def steepen(height: np.ndarray, shore: np.ndarray, params: list) -> np.ndarray:
    """The surf's height [...] (m): where the water shallows (shore 0 deep .. 1 at the shoreline)
    the crests peak, rising by a term in the square of their height while the troughs stay, as
    waves do before they break; unchanged in deep water."""
    return height + shore * STEEPEN * np.maximum(height, 0.0) ** 2 / sigma(params)


def lead(height: np.ndarray, breaking: np.ndarray, params: list) -> np.ndarray:
    """How far (m) the surf pushes a point of the surface [...] forward (``travel``): nothing in
    deep water or below the still level, and in the breaking zone (0 .. 1) the top of each crest
    ahead of the rest by up to LIP's reach, rising so steeply with the height that the top
    outruns its own front face and pitches over it."""
    t = np.clip((height / sigma(params) - LIP[0]) / LIP[1], 0.0, 1.0)
    return breaking * LIP[2] * sigma(params) * t * t * (3.0 - 2.0 * t)


def travel(params: list) -> np.ndarray:
    """The waves' main direction of travel [2]: the unit sum of their directions weighted by amplitude."""
    d = sum(a * np.array([kx, ky]) / np.hypot(kx, ky) for a, kx, ky, _, _ in params)
    return d / np.linalg.norm(d)


def sigma(params: list) -> float:
    """The standard deviation of the summed waves' height (m): sqrt(sum a^2 / 2)."""
    return float(np.sqrt(sum(p[0] ** 2 for p in params) / 2.0))


def foam(height: np.ndarray, shore: np.ndarray, params: list) -> np.ndarray:
    """Foam 0..1 from the wave height [...] (m) and the shore closeness [...] (0 deep .. 1 at the
    shoreline): sparse whitecaps on the highest crests of the open sea, and in the shallows every
    wave's crest and front foaming as it breaks, in proportion to how shallow it is."""
    u = height / sigma(params)
    open_sea = WHITECAP[2] * np.clip((u - WHITECAP[0]) / WHITECAP[1], 0.0, 1.0)
    breaking = shore * np.clip((u - BREAKER[0]) / BREAKER[1], 0.0, 1.0)
    return np.minimum(open_sea + breaking, 1.0)
