"""Cacti as numpy geometry (bpy-free): saguaros, barrels and prickly pears.

A saguaro is a ribbed column with a domed top whose arms leave it sideways, bend through a
rounded elbow and grow upwards beside it; a barrel is a squat globe of many deep ribs; a
prickly pear is a clump of flat oval pads, each grown from the rim of the one below. The
vertex attribute ``rib`` is 1 along a rib's crest and 0 in the groove between two (1 all over
a pad), where the material puts the areoles with their spines. Slot 0 is the body.
"""
from __future__ import annotations

import numpy as np

from ..geometry.mesh_arrays import Geo, concat, tube, unit

GROOVE = 0.82  # radius of a groove as a share of its rib's crest
UP = np.array([0.0, 0.0, 1.0])


def cactus(rng: np.random.Generator, height: float) -> Geo:
    """One cactus about ``height`` metres tall if it is a saguaro; its form drawn from ``rng``."""
    form = rng.uniform()
    if form < 0.25:
        return barrel(rng, 0.25 * height)
    if form < 0.45:
        return prickly_pear(rng, 0.4 * height)
    return saguaro(rng, height)


def saguaro(rng: np.random.Generator, height: float) -> Geo:
    """A column with a domed top and up to four arms that turn upwards."""
    ribs = int(rng.integers(12, 20))
    r0 = height * rng.uniform(0.045, 0.065)
    t = np.sin(np.linspace(0, np.pi / 2, 22))  # rings closer together towards the domed top
    lean = rng.normal(scale=0.03, size=2) * height
    trunk = np.stack([lean[0] * t ** 2, lean[1] * t ** 2, height * t], 1)
    body = [ribbed(trunk, r0 * _dome(t, r0 / height), ribs)]
    n_arms = int(rng.choice([0, 1, 2, 2, 3, 3, 4]))
    az0 = rng.uniform(0, 2 * np.pi)
    for k in range(n_arms):
        az = az0 + 2 * np.pi * k / max(n_arms, 1) + rng.normal(scale=0.4)
        z0 = height * rng.uniform(0.3, 0.6)
        base = np.array([lean[0] * (z0 / height) ** 2, lean[1] * (z0 / height) ** 2, z0])
        body.append(arm(base, az, 0.7 * r0 * rng.uniform(0.85, 1.0), height * rng.uniform(0.15, 0.4), ribs - 2,
                        rng))
    return concat(body)


def arm(base: np.ndarray, azimuth: float, radius: float, rise: float, ribs: int, rng) -> Geo:
    """An arm from ``base`` (inside the trunk's axis): out sideways, a little upwards, through a
    rounded elbow, then straight up ``rise`` metres with a domed tip."""
    out = np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
    reach = radius * rng.uniform(2.2, 3.2)      # from the trunk's axis to the elbow's start
    bend = radius * rng.uniform(1.2, 1.8)       # the elbow's radius
    a = np.linspace(0.0, np.pi / 2, 8)[1:]
    elbow = base + out * (reach + bend * np.sin(a))[:, None] + UP * (0.15 * reach + bend * (1 - np.cos(a)))[:, None]
    start = np.linspace(base, base + out * reach + UP * 0.15 * reach, 4)
    top = elbow[-1]
    climb = np.sin(np.linspace(0, np.pi / 2, 10)[1:])  # rings closer together towards the domed tip
    up = top + UP * (rise * climb)[:, None] + out * (0.1 * radius * climb ** 2)[:, None]
    path = np.concatenate([start, elbow, up])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])
    return ribbed(path, radius * _dome(s / s[-1], radius / s[-1]), ribs)


def barrel(rng: np.random.Generator, height: float) -> Geo:
    """A squat globe of many deep ribs, a little taller than wide."""
    ribs = int(rng.integers(16, 26))
    t = np.linspace(0, 1, 14)
    r = 0.4 * height * np.sin(np.pi * (0.06 + 0.88 * t)) ** 0.6 + 0.02
    return ribbed(np.stack([np.zeros_like(t), np.zeros_like(t), height * t], 1), r, ribs, groove=0.72)


def prickly_pear(rng: np.random.Generator, height: float) -> Geo:
    """A clump of flat oval pads: two or three on the ground, each growing one to three more
    from its rim, tilted further outwards, for three generations."""
    pads = []
    length = height * rng.uniform(0.42, 0.52)
    tips = [(np.zeros(3), rng.uniform(0, 2 * np.pi), 0.0) for _ in range(int(rng.integers(2, 4)))]
    for generation in range(3):
        grown = []
        for at, az, tilt in tips:
            for _ in range(int(rng.integers(1, 4)) if generation else 1):
                a = az + rng.normal(scale=0.6)
                t = float(np.clip(tilt + rng.uniform(0.05, 0.3), 0.0, 0.8))
                size = length * rng.uniform(0.75, 1.0) * 0.88 ** generation
                geo, tip = pad(at, a, t, rng.uniform(-1, 1), size)
                pads.append(geo)
                grown.append((tip, a, t))
        tips = grown
    return concat(pads)


def pad(base: np.ndarray, azimuth: float, tilt: float, roll: float, length: float) -> tuple[Geo, np.ndarray]:
    """One oval pad standing on ``base``, leaning ``tilt`` radians towards ``azimuth`` and turned
    ``roll`` radians about its own axis; returns the pad and the top of its rim."""
    axis = np.array([np.sin(tilt) * np.cos(azimuth), np.sin(tilt) * np.sin(azimuth), np.cos(tilt)])
    side = unit(np.cross(axis, UP) + 1e-9 * np.array([1.0, 0, 0]))
    flat = np.cross(axis, side)
    c, s = np.cos(roll), np.sin(roll)
    side, flat = c * side + s * flat, c * flat - s * side
    width, thick = 0.62 * length, 0.1 * length
    u = np.linspace(0, np.pi, 9)[:, None]           # from the base up to the top of the rim
    v = np.linspace(0, 2 * np.pi, 14, endpoint=False)[None]
    along = 0.5 * length * (1 - np.cos(u))
    half = np.sin(u)
    pts = (base + along[..., None] * axis + (0.5 * width * half * np.cos(v))[..., None] * side
           + (0.5 * thick * half * np.sin(v))[..., None] * flat)
    verts = pts.reshape(-1, 3)
    k = v.shape[1]
    i = np.arange(len(u) - 1)[:, None] * k
    j = np.arange(k)[None]
    quads = np.stack([i + j, i + (j + 1) % k, i + k + (j + 1) % k, i + k + j], -1).reshape(-1, 4)
    return Geo.from_faces(verts, quads, mat=0, smooth=True, attrs={"rib": 1.0}), base + length * axis


def ribbed(path: np.ndarray, radius: np.ndarray, ribs: int, groove: float = GROOVE) -> Geo:
    """A tube along ``path`` [P, 3] whose cross-section is a star of ``ribs`` rounded ridges
    (``groove``: a groove's radius as a share of a crest's); attribute ``rib`` 1 on the crests."""
    g = tube(path, np.ones(len(path)), sides=ribs * 2, mat=0)
    ring = np.arange(len(path) * ribs * 2)
    crest = (ring % (ribs * 2)) % 2 == 0
    centre = np.repeat(path, ribs * 2, axis=0)
    v = g.verts.copy()
    scale = np.repeat(radius, ribs * 2) * np.where(crest, 1.0, groove)
    v[: len(ring)] = centre + (v[: len(ring)] - centre) * scale[:, None]
    g.verts = v
    g.attrs["rib"] = np.concatenate([crest, np.ones(len(v) - len(ring), bool)]).astype(np.float32)
    return g


def _dome(t: np.ndarray, aspect: float) -> np.ndarray:
    """Radius share along a stem (``t`` 0 at the foot, 1 at the top) that rounds off over its
    last ``aspect`` of the length, like a hemisphere."""
    d = np.clip((1.0 - t) / max(aspect, 1e-3), 0.0, 1.0)
    return np.sqrt(1.0 - (1.0 - d) ** 2) * 0.97 + 0.03
