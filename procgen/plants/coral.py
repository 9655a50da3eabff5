"""Corals (bpy-free), four growth forms, each with its base at the origin (slot 0):

- branching (staghorn): thick branches that fork again and again, reaching up and out;
- brain (a massive mound): a flattened dome furrowed by meandering grooves;
- fan (a sea fan): a short stalk and a flat, fine network of branches in one plane;
- table (a plate): a short stalk under a wide, thin plate with a wavy, upturned rim.
"""
from __future__ import annotations

import numpy as np

from ..core.noise import Noise
from ..geometry.mesh_arrays import Geo, concat, tube, unit


def _branches(rng: np.random.Generator, start: np.ndarray, direction: np.ndarray, length: float, radius: float,
              depth: int, spread: float, up: float, flat: bool, out: list) -> None:
    """One branch as a tube from ``start`` [3] along ``direction`` [3], and its forks (recursive)."""
    d = unit(direction[None])[0]
    bend = rng.normal(scale=0.15, size=3) * (0 if flat else 1)
    if flat:
        bend[1] = 0.0
    t = np.linspace(0.0, 1.0, 4)[:, None]
    path = start + length * (t * d + 0.5 * t ** 2 * (bend + up * np.array([0, 0, 1.0])))
    out.append(tube(path, radius * np.linspace(1.0, 0.7, 4), sides=5 if flat else 7, mat=0, cap=depth == 0))
    if depth == 0:
        return
    tip = path[-1]
    heading = unit((path[-1] - path[-2])[None])[0]
    for _ in range(int(rng.integers(2, 4))):
        turn = rng.normal(scale=spread, size=3)
        if flat:  # stay in the fan's plane (x, z)
            turn[1] = 0.0
        _branches(rng, tip, heading + turn, length * rng.uniform(0.65, 0.85), radius * 0.72, depth - 1, spread, up,
                  flat, out)


def branching(rng: np.random.Generator, size: float) -> Geo:
    """A staghorn colony about ``size`` across: a few stems forking three or four times."""
    out: list = []
    for _ in range(int(rng.integers(3, 6))):
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(a), np.sin(a), rng.uniform(0.8, 1.8)])
        _branches(rng, np.array([0.0, 0.0, -0.05]), d, size * rng.uniform(0.16, 0.22), size * 0.035,
                  int(rng.integers(3, 5)), 0.55, 0.25, False, out)
    return concat(out)


def fan(rng: np.random.Generator, size: float) -> Geo:
    """A sea fan about ``size`` tall in the x-z plane: a stalk, then forks spreading to a fan."""
    out: list = []
    for _ in range(int(rng.integers(2, 4))):
        d = np.array([rng.uniform(-0.6, 0.6), 0.0, 1.0])
        _branches(rng, np.array([0.0, 0.0, -0.05]), d, size * 0.22, size * 0.012, 5, 0.5, 0.1, True, out)
    geo = concat(out)
    cup = 0.15 * size * (geo.verts[:, 0] / size) ** 2  # a gentle cup, as fans curve into the current
    geo.verts[:, 1] += cup
    return geo


def brain(rng: np.random.Generator, size: float, n: int = 40) -> Geo:
    """A mound ``size`` across: a flattened dome, its surface furrowed by meandering grooves
    (a warped sine of the surface coordinates), sunk a little into the sand."""
    noise = Noise(rng)
    theta = np.linspace(0.0, 0.5 * np.pi + 0.15, n // 2)    # from the top down past the equator
    phi = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1)  # [T, P, 3]
    off = rng.uniform(-50, 50, 3)
    warp = noise.fbm3(d.reshape(-1, 3) * 2.0 + off, octaves=3).reshape(th.shape)
    grooves = np.abs(np.sin(rng.uniform(9.0, 13.0) * (d[..., 0] + 0.6 * d[..., 1]) + 6.0 * warp))
    lumps = 1.0 + 0.12 * noise.fbm3(d.reshape(-1, 3) * 1.2 - off, octaves=3).reshape(th.shape)
    r = 0.5 * size * lumps * (1.0 - 0.035 * (1.0 - grooves) ** 2)
    v = d * r[..., None] * np.array([1.0, rng.uniform(0.8, 1.0), rng.uniform(0.55, 0.8)])
    v[..., 2] -= 0.08 * size
    rows, cols = th.shape
    idx = np.arange(rows * cols).reshape(rows, cols)
    quads = np.stack([idx[:-1], np.roll(idx[:-1], -1, 1), np.roll(idx[1:], -1, 1), idx[1:]], -1).reshape(-1, 4)
    return Geo.from_faces(v.reshape(-1, 3), quads, smooth=True)


def table(rng: np.random.Generator, size: float, n: int = 36) -> Geo:
    """A plate coral ``size`` across on a short stalk: a thin, slightly domed plate whose rim
    waves and turns up, with a second sheet under it for thickness."""
    height = size * rng.uniform(0.25, 0.4)
    stalk = tube(np.array([[0, 0, -0.05], [0, 0, 0.5 * height], [0, 0, height]]),
                 np.array([0.09, 0.06, 0.08]) * size, sides=8, mat=0, cap=False)
    rings = n // 3
    r = np.linspace(0.05, 0.5, rings)[:, None] * size
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)[None]
    wave = 1.0 + 0.12 * np.sin(a * int(rng.integers(3, 7)) + rng.uniform(0, 2 * np.pi))
    rr = r * wave
    rim = (r / r.max()) ** 3
    z = height + 0.04 * size * (1.0 - (r / r.max()) ** 2) + 0.08 * size * rim * (1.0 + np.sin(a * 5.0))
    top = np.stack([rr * np.cos(a), rr * np.sin(a), z], -1).reshape(-1, 3)
    under = top - np.array([0, 0, 0.025 * size])
    idx = np.arange(rings * n).reshape(rings, n)
    quads = np.stack([idx[:-1], np.roll(idx[:-1], -1, 1), np.roll(idx[1:], -1, 1), idx[1:]], -1).reshape(-1, 4)
    plate = Geo.from_faces(np.concatenate([top, under]), np.concatenate([quads, quads[:, ::-1] + len(top)]),
                           smooth=True)
    return concat([stalk, plate])
