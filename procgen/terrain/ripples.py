"""Wind ripples on sand (bpy-free): the height formula that the terrain material's bump follows.

Ripples are a few centimetres high with a wavelength of 10-30 cm, far below the terrain
grid, so they live in the shader as a bump (``materials.surfaces`` builds the same formula
from math nodes) and here as numpy for tests and anything that needs the numbers.

Crests run across the dune wind, each with a gentle windward side and a steep lee side. A
few long sine waves bend the phase so that crests curve, and a few others modulate the
height so that crests break off and fade out; sums of sines rather than noise, so that the
nodes and numpy compute exactly the same field. On steep slopes (the dunes' slip faces,
where sand avalanches) the ripples fade away.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEE = 0.7  # share of a ripple's wavelength on its windward side (the crest sits there)
FADE = (0.05, 0.12)  # slope (1 - normal.z) over which ripples fade out: 18 to 28 degrees


@dataclass(frozen=True)
class Ripples:
    wind: tuple[float, float]  # unit direction the wind blows towards (x, y)
    wavelength: float          # metres between crests
    height: float              # metres from trough to crest
    bends: tuple               # (kx, ky, cycles, phase) sines (rad/m) added to the phase: curving crests
    breaks: tuple              # (kx, ky, weight, phase) sines summed into the crests' height: breaks


def draw_ripples(wind, rng: np.random.Generator) -> Ripples:
    """Ripples across the unit direction ``wind`` [2], their sizes drawn from ``rng``."""
    w = np.asarray(wind, float) / np.linalg.norm(wind)
    wavelength = float(rng.uniform(0.13, 0.2))
    bends = []
    # Each bend tilts the crests by up to ``tilt`` of the wind's own phase gradient, so that
    # together they never fold the phase back (crests neither merge nor reverse).
    for length, tilt in ((rng.uniform(2.0, 4.0), 0.25), (rng.uniform(0.7, 1.4), 0.12)):
        a = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / length
        bends.append((float(k * np.cos(a)), float(k * np.sin(a)), float(tilt / (k * wavelength)),
                      float(rng.uniform(0, 2 * np.pi))))
    breaks = []
    for length in (rng.uniform(0.6, 1.2), rng.uniform(1.5, 3.0)):
        a = rng.uniform(0, 2 * np.pi)
        k = 2 * np.pi / length
        breaks.append((float(k * np.cos(a)), float(k * np.sin(a)), 0.5, float(rng.uniform(0, 2 * np.pi))))
    return Ripples((float(w[0]), float(w[1])), wavelength, float(rng.uniform(0.015, 0.03)), tuple(bends),
                   tuple(breaks))


def profile(fr: np.ndarray) -> np.ndarray:
    """Height 0..1 over one wavelength (``fr`` in [0, 1)): rising gently to the crest at
    ``LEE``, falling steeply after it."""
    p = np.minimum(fr / LEE, (1.0 - fr) / (1.0 - LEE))
    return p * p * (3.0 - 2.0 * p)


def strength(r: Ripples, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How well formed the crests are at (x, y), 0 (broken off) to 1."""
    s = 0.5 + sum(wt * np.sin(kx * x + ky * y + ph) for kx, ky, wt, ph in r.breaks)
    return np.clip(1.8 * s - 0.2, 0.0, 1.0)


def phase(r: Ripples, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Crests counted along the wind at (x, y), bent by the long sines."""
    p = (r.wind[0] * x + r.wind[1] * y) / r.wavelength
    return p + sum(c * np.sin(kx * x + ky * y + ph) for kx, ky, c, ph in r.bends)


def slope_fade(slope: np.ndarray) -> np.ndarray:
    """1 on gentle sand, 0 on slopes steeper than ``FADE[1]`` (slip faces)."""
    s = np.clip((FADE[1] - np.asarray(slope, float)) / (FADE[1] - FADE[0]), 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def ripple_height(r: Ripples, x, y, slope=0.0) -> np.ndarray:
    """Height of the ripples (metres, trough 0) at world (x, y) where the ground's slope
    (1 - normal.z) is ``slope``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    fr = np.mod(phase(r, x, y), 1.0)
    return r.height * profile(fr) * strength(r, x, y) * slope_fade(slope)
