"""Scree at the foot of a cliff (bpy-free): where the fragments that fell from the wall lie.

Rock falling from a face piles up in an apron in front of its foot, about half the cliff's
height wide, thickest near the wall. Rolling sorts it by size: small fragments stop soon,
large blocks carry on to the apron's toe (fall sorting), so fragments grow with their
distance from the wall.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .heightfield import Heightfield, cliff_line

CLIFF_STEP_IN = 2.0  # metres behind the foot line (inside the rock) the gravel still reaches
APRON = 0.5          # the apron's width as a share of the cliff's height
SIZE = (0.15, 1.1)   # metres: a fragment's size near the wall and at the apron's toe (median)
PER_METRE = 8.0      # fragments per metre of wall
FACE_FRONT = 4.0     # metres in front of the foot line that the apron's bare gravel starts to cover


@dataclass
class Scree:
    xy: np.ndarray        # [K, 2] world positions on the ground
    size: np.ndarray      # [K] metres (a fragment's largest extent)
    distance: np.ndarray  # [K] metres in front of the apron's start (0: nearest the wall)
    width: float          # the apron's width (m)


def scree_layout(hf: Heightfield, start: float, rng: np.random.Generator) -> Scree:
    """Fragments in front of the cliff of ``hf`` (``features["cliff"]``), from ``start``
    metres in front of its foot line (clear of the wall's face) outwards; only those over
    the terrain."""
    c = hf.features["cliff"]
    d = np.array(c["direction"])
    along = np.array([-d[1], d[0]])
    width = APRON * float(c["height"])
    n = int(PER_METRE * hf.size)
    t = rng.uniform(-0.5, 0.5, n) * hf.size * 1.42  # the wall crosses the square at any angle
    u = rng.uniform(0.0, 1.0, n) ** 1.6  # most fragments near the wall, fewer towards the toe
    dist = width * u
    off = cliff_line(c, t) - start - dist
    xy = off[:, None] * d + t[:, None] * along
    size = (SIZE[0] + (SIZE[1] - SIZE[0]) * u) * rng.lognormal(0.0, 0.25, n)
    keep = np.all(np.abs(xy) < 0.5 * hf.size - 1.0, axis=1)
    return Scree(xy[keep], size[keep], dist[keep], width)


def apron(hf: Heightfield, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How much of the ground at world (x, y) is the apron's bare gravel, 0..1: all of it from
    the foot to most of the apron's width, fading out towards its toe."""
    c = hf.features["cliff"]
    d = c["direction"]
    s, t = x * d[0] + y * d[1], -x * d[1] + y * d[0]
    front = cliff_line(c, t) - s  # metres in front of the foot line
    reach = FACE_FRONT + APRON * float(c["height"])
    fade = np.clip((reach - front) / (0.4 * reach), 0.0, 1.0)
    return np.where(front > -CLIFF_STEP_IN, fade * fade * (3 - 2 * fade), 0.0)
