"""Bark relief (bpy-free): the height formula in metres that the bark material's bump follows.

Furrows a centimetre deep and a few centimetres apart are far below the trunk's mesh, so
they live in the shader as a true-scale bump (``plant_matter`` builds the same formula from
math nodes) and here as numpy for tests. Sums of sines rather than noise, so that the nodes
and numpy compute the same field.

Each style is a few sets of grooves. A set runs across the unit vector ``axis`` (grooves
every ``spacing`` metres along it), wanders by a few long sines (so grooves meander instead
of running ruler-straight), and may be broken into dashes by others. Heights multiply, so
where two sets cross the surface stands as plates between furrows:

- ``bark`` (broadleaf and conifer): four sets of deep furrows along the trunk, leaning a
  little either way and facing an eighth of a turn apart (a plane wave of grooves thins out
  where the trunk's surface turns along it; the others fill in there): a network of ridges
  and plates.
- ``birch``: smooth, with short shallow grooves across the trunk, the lenticels, which the
  material also darkens.
- ``deadwood``: fine, long cracks along the grain, broken off here and there.
- ``palm``: rings around the trunk where old leaves fell.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grooves:
    axis: tuple[float, float, float]  # unit vector across the grooves (object space)
    spacing: float                    # metres from one groove to the next
    width: float                      # share of ``spacing`` the groove takes (0..1)
    bends: tuple                      # (kx, ky, kz, cycles, phase): sines (rad/m) added to the phase
    breaks: tuple                     # (kx, ky, kz, weight, phase): sines summed into the grooves' depth


@dataclass(frozen=True)
class Relief:
    depth: float    # metres from the bottom of a groove to the surface around it
    sets: tuple     # Grooves


# depth (m), then per set: (angle from the trunk's axis, turn about it) in degrees (0 =
# grooves along the trunk), spacing (m), width, bend wavelength along the grooves (m), dashes (length in m or None)
STYLES = {
    "bark": ((0.007, 0.012), tuple(((tilt, turn), (0.06, 0.09), 0.35, 1.2, None)
                                   for tilt, turn in ((6, 0), (-6, 45), (6, 90), (-6, 135)))),
    "birch": ((0.0012, 0.002), (((90, 0), (0.045, 0.07), 0.12, 0.8, 0.1),)),
    "deadwood": ((0.003, 0.005), (((0, 0), (0.015, 0.025), 0.2, 0.9, 0.4),)),
    "palm": ((0.006, 0.01), (((90, 0), (0.06, 0.09), 0.35, 1.5, None),)),
}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def draw_relief(style: str, rng: np.random.Generator) -> Relief:
    """The relief of bark ``style``, its sizes drawn from ``rng``."""
    depth, sets = STYLES[style]
    spin = rng.uniform(0, 2 * np.pi)  # which way round the trunk the sets lean
    out = []
    for (angle, turn), spacing, width, bend_length, dash in sets:
        a, c = np.radians(angle), spin + np.radians(turn)
        along = np.array([np.cos(c) * np.sin(a), np.sin(c) * np.sin(a), np.cos(a)])  # groove direction
        axis = _unit(np.cross(along, [-np.sin(c), np.cos(c), 0.0]))  # across it, on the surface
        s = float(rng.uniform(*spacing))
        k = 2 * np.pi / bend_length * along
        bends = ((*(k * rng.uniform(0.8, 1.25)), 0.3, float(rng.uniform(0, 2 * np.pi))),
                 (*(k * rng.uniform(3.5, 4.5)), 0.1, float(rng.uniform(0, 2 * np.pi))))
        breaks = ()
        if dash is not None:
            # (leaning across the grooves too, so that each groove breaks in other places)
            kb = 2 * np.pi / dash * along + 2 * np.pi / (s * rng.uniform(2.3, 3.7)) * axis
            kc = 2 * np.pi / dash * along - 2 * np.pi / (s * rng.uniform(1.3, 1.7)) * axis
            breaks = ((*(kb * rng.uniform(0.8, 1.25)), 0.5, float(rng.uniform(0, 2 * np.pi))),
                      (*(kc * rng.uniform(2.2, 2.8)), 0.3, float(rng.uniform(0, 2 * np.pi))))
        out.append(Grooves(tuple(float(c) for c in axis), s, width,
                           tuple(tuple(float(c) for c in b) for b in bends),
                           tuple(tuple(float(c) for c in b) for b in breaks)))
    return Relief(float(rng.uniform(*depth)), tuple(out))


def _sines(terms, x, y, z, start: float) -> np.ndarray:
    return start + sum(w * np.sin(kx * x + ky * y + kz * z + ph) for kx, ky, kz, w, ph in terms)


def profile(fr: np.ndarray, width: float) -> np.ndarray:
    """0 at the bottom of a groove (``fr`` = 0.5), rising smoothly to 1 at its rim and beyond."""
    p = np.clip(np.abs(2.0 * fr - 1.0) / width, 0.0, 1.0)
    return p * p * (3.0 - 2.0 * p)


def grooves(g: Grooves, x, y, z) -> np.ndarray:
    """One set's surface, 0 (groove bottom) to 1 (untouched)."""
    ph = (g.axis[0] * x + g.axis[1] * y + g.axis[2] * z) / g.spacing + _sines(g.bends, x, y, z, 0.0)
    cut = 1.0 - profile(np.mod(ph, 1.0), g.width)
    if g.breaks:
        cut = cut * np.clip(1.8 * _sines(g.breaks, x, y, z, 0.5) - 0.2, 0.0, 1.0)
    return 1.0 - cut


def relief_height(r: Relief, x, y, z) -> np.ndarray:
    """Height of the bark's surface (metres; 0 at the bottom of the deepest furrow) at object
    coordinates (x, y, z)."""
    x, y, z = (np.asarray(v, float) for v in (x, y, z))
    h = np.ones(np.broadcast(x, y, z).shape)
    for g in r.sets:
        h = h * grooves(g, x, y, z)
    return r.depth * h
