"""The moving foam of an ocean's waves, bpy-free: the height of the wave grid at (x, y, t) and
the foam it carries there. The wave grid's geometry nodes (``water.wave_nodes``) compute the same
formula per vertex from the scene time, so the foam rides the crests and comes and goes with
each wave as it shallows and peaks towards the shore."""
from __future__ import annotations

import numpy as np

FOAM_ATTRIBUTE = "gs_foam"  # per vertex of an ocean's wave grid: 0 .. 1, moving with the waves
OCEAN_ATTRIBUTE = "gs_ocean"  # 1 on an ocean's wave grid: its material uses the moving foam
CARRIED_ATTRIBUTE = "gs_foam_co"  # per vertex of an ocean's wave grid: where its foam's texture is looked up
WHITECAP = (1.6, 0.8, 0.5)  # open sea: crests above start * sigma foam, full at +width, at most cap
STEEPEN = 0.25  # shallows: a crest h > 0 rises by STEEPEN * h^2 / sigma times the shore closeness
BREAKER = (0.0, 1.2)  # shallows: the upper half of each wave foams (start * sigma), full at +width
LIP = (0.5, 0.3, 5.0)  # shallows: a crest's top leads its base forward: from start * sigma of height the
# lead rises (smoothstep over width * sigma) to reach * sigma, times how far into the breaking zone it is
WHITEWATER = ((0.0, 0.8), (0.3, 0.45))  # the lip's foam: (seconds ago, weight)
# of its lead as a fraction of LIP's reach: white on the lip and in a fading wake behind the crest


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


def whitewater(leads: list[np.ndarray], params: list) -> np.ndarray:
    """The foam 0..1 of the breaking lip from ``lead`` [...] (m) at each of WHITEWATER's times
    ago, in its order: white where the crest pitches over now, and a fading wake where it pitched
    over a moment ago (the crest has since moved on: the whitewater it leaves behind)."""
    reach = LIP[2] * sigma(params)
    return np.minimum(np.max([w * ld / reach for (_, w), ld in zip(WHITEWATER, leads)], axis=0), 1.0)


def drift(params: list) -> float:
    """The speed (m/s) along ``travel`` at which the waves' height pattern moves: of all speeds,
    the one whose shift best carries the summed waves from one instant to the next (least squares
    over their slopes along ``travel``: sum a^2 w k_d / sum a^2 k_d^2); the foam's texture rides it."""
    d = travel(params)
    kd = np.array([kx * d[0] + ky * d[1] for _, kx, ky, _, _ in params])
    a2, w = np.array([p[0] ** 2 for p in params]), np.array([p[3] for p in params])
    return float((a2 * w * kd).sum() / (a2 * kd * kd).sum())


def carried_coords(x: np.ndarray, y: np.ndarray, t: float, params: list) -> np.ndarray:
    """The foam texture's coordinates [..., 3] at grid-local x, y [...] and time t (s): along
    ``travel`` minus ``drift`` times t, across it, and 0, so the texture moves with the waves."""
    d = travel(params)
    along, across = x * d[0] + y * d[1] - drift(params) * t, -x * d[1] + y * d[0]
    return np.stack(np.broadcast_arrays(along, across, np.zeros_like(along)), -1)
