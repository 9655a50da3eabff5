"""Terrain heightfields: noise recipes per terrain kind, thermal erosion, sampling (bpy-free).

A :class:`Heightfield` is a square grid ``z[j, i]`` over ``x = xs[i]``, ``y = ys[j]``
centred on the origin. Everything that needs "the ground under a point" (scatter,
cameras, motion) samples this grid rather than ray-casting the mesh.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import TERRAIN_KINDS, TerrainConfig
from .noise import Noise

DEFAULT_RELIEF = {"hills": 10.0, "mountains": 24.0, "canyon": 18.0, "dunes": 5.0}


@dataclass
class Heightfield:
    z: np.ndarray          # [N, N] heights in metres, row j = y, column i = x
    size: float            # side length in metres
    kind: str
    water_level: float | None  # z of the water plane, or None

    @property
    def n(self) -> int:
        return self.z.shape[0]

    @property
    def cell(self) -> float:
        return self.size / (self.n - 1)

    @property
    def coords(self) -> np.ndarray:  # [N]
        return np.linspace(-self.size / 2, self.size / 2, self.n)

    def height(self, x, y) -> np.ndarray:
        """Bilinear height at world (x, y); points outside are clamped to the edge."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        u = np.clip((x + self.size / 2) / self.cell, 0, self.n - 1 - 1e-9)
        v = np.clip((y + self.size / 2) / self.cell, 0, self.n - 1 - 1e-9)
        i, j = np.floor(u).astype(int), np.floor(v).astype(int)
        fu, fv = u - i, v - j
        z = self.z
        top = z[j, i] * (1 - fu) + z[j, i + 1] * fu
        bot = z[j + 1, i] * (1 - fu) + z[j + 1, i + 1] * fu
        return top * (1 - fv) + bot * fv

    def normals(self) -> np.ndarray:
        """Unit normals of the grid [N, N, 3]."""
        dzdy, dzdx = np.gradient(self.z, self.cell)
        n = np.stack([-dzdx, -dzdy, np.ones_like(self.z)], axis=-1)
        return n / np.linalg.norm(n, axis=-1, keepdims=True)

    def slope(self, x, y) -> np.ndarray:
        """1 - normal.z at world (x, y): 0 flat, about 0.29 at 45 degrees."""
        nz = self.normals()[..., 2]
        hf = Heightfield(nz, self.size, self.kind, None)
        return 1.0 - hf.height(x, y)

    def max_height_in_disc(self, x: float, y: float, radius: float) -> float:
        """Highest ground within ``radius`` of (x, y), from the grid samples."""
        c = self.coords
        i = (np.abs(c - x) <= radius + self.cell)
        j = (np.abs(c - y) <= radius + self.cell)
        if not i.any() or not j.any():
            return float(self.height(x, y))
        return float(max(self.z[np.ix_(j, i)].max(), self.height(x, y)))


def pick_kind(cfg: TerrainConfig, rng: np.random.Generator) -> str:
    return cfg.kind if cfg.kind in TERRAIN_KINDS else str(rng.choice(TERRAIN_KINDS))


def make_heightfield(cfg: TerrainConfig, rng: np.random.Generator) -> Heightfield:
    """The heightfield of ``cfg`` drawn from ``rng``."""
    kind = pick_kind(cfg, rng)
    relief = cfg.height if cfg.height > 0 else DEFAULT_RELIEF[kind] * rng.uniform(0.8, 1.25)
    noise = Noise(rng)
    n = cfg.resolution
    c = np.linspace(-cfg.size / 2, cfg.size / 2, n)
    x, y = np.meshgrid(c, c)  # [N, N], x along columns
    base = 45.0 * rng.uniform(0.8, 1.3)   # base wavelength in metres
    off = rng.uniform(-500, 500, size=2)
    u, v = x / base + off[0], y / base + off[1]
    # Domain warping: displace the lookup by a low-frequency noise vector field.
    wu = noise.fbm2(u * 0.7 + 3.3, v * 0.7 - 1.7, octaves=3)
    wv = noise.fbm2(u * 0.7 - 8.1, v * 0.7 + 4.2, octaves=3)
    u, v = u + cfg.warp * wu, v + cfg.warp * wv
    oct_ = cfg.octaves

    if kind == "hills":
        h = 0.5 + 0.5 * noise.fbm2(u, v, octaves=oct_, gain=0.45)
        h = h ** 1.4 * relief
    elif kind == "mountains":
        r = noise.ridged2(u * 0.8, v * 0.8, octaves=oct_, gain=0.5)
        broad = 0.5 + 0.5 * noise.fbm2(u * 0.35 + 40, v * 0.35, octaves=2)
        h = relief * (0.25 * broad + 0.9 * r ** 1.6 * (0.4 + 0.8 * broad))
    elif kind == "canyon":
        plateau = 0.5 + 0.5 * noise.fbm2(u, v, octaves=oct_, gain=0.5)
        # A meandering river course along y; its distance carves terraced walls.
        course = 0.18 * cfg.size * noise.fbm2(y / (0.8 * cfg.size) + off[0], np.full_like(y, 0.5), octaves=3)
        d = np.abs(x - course) / (0.5 * cfg.size)
        width = rng.uniform(0.12, 0.2)
        carve = np.clip(1.0 - d / (width + 0.25), 0.0, 1.0)
        carve = np.clip((carve - 0.15) / 0.85, 0.0, 1.0) ** 0.6
        steps = rng.integers(3, 6)
        t = carve * steps
        terr = (np.floor(t) + np.clip((t - np.floor(t) - 0.7) / 0.3, 0.0, 1.0)) / steps
        h = relief * (1.0 + 0.15 * plateau - 0.95 * terr) + 0.6 * relief * 0.1 * plateau
    elif kind == "dunes":
        theta = rng.uniform(0, np.pi)
        s = (np.cos(theta) * x + np.sin(theta) * y) / (cfg.size * rng.uniform(0.08, 0.13))
        s = s + 1.2 * noise.fbm2(u * 0.8, v * 0.8, octaves=3)
        f = s - np.floor(s)
        # Gentle windward side, steep lee face, rounded crest.
        prof = np.where(f < 0.75, f / 0.75, (1.0 - f) / 0.25)
        prof = prof * prof * (3 - 2 * prof)
        amp = 0.6 + 0.4 * noise.fbm2(u * 0.5 + 20, v * 0.5, octaves=2)
        h = relief * (prof * amp + 0.3 * (0.5 + 0.5 * noise.fbm2(u * 0.4, v * 0.4, octaves=2)))
    else:  # pragma: no cover - validated in config
        raise ValueError(kind)

    # Fine detail everywhere, stronger where the ground is high (rockier).
    detail = noise.fbm2(x / 4.0 + 100, y / 4.0, octaves=3)
    h = h + 0.02 * relief * detail * (0.5 + h / max(relief, 1e-6))
    cell = cfg.size / (n - 1)
    h = thermal_erosion(h, cell, cfg.erosion_iterations, talus_deg=34.0 if kind != "dunes" else 31.0)
    h = h - h.min()

    want_water = cfg.water == "on" or (cfg.water == "auto" and kind != "dunes"
                                        and rng.uniform() < (0.9 if kind == "canyon" else 0.45))
    water = None
    if want_water:
        q = 0.07 if kind == "canyon" else rng.uniform(0.08, 0.2)
        water = float(np.quantile(h, q))
    return Heightfield(z=h, size=float(cfg.size), kind=kind, water_level=water)


def thermal_erosion(h: np.ndarray, cell: float, iterations: int, talus_deg: float = 34.0,
                    rate: float = 0.5) -> np.ndarray:
    """Move material down slopes steeper than the talus angle, which rounds crests
    into scree slopes and fills hollows like weathering does. [N, N] -> [N, N]."""
    h = h.copy()
    talus = np.tan(np.radians(talus_deg)) * cell
    shifts = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    for _ in range(iterations):
        p = np.pad(h, 1, mode="edge")
        n = h.shape[0]
        diffs = [h - p[1 + dy:1 + dy + n, 1 + dx:1 + dx + h.shape[1]] for dy, dx in shifts]
        excess = [np.maximum(d - talus, 0.0) for d in diffs]
        total = sum(excess) + 1e-12
        biggest = np.maximum.reduce(excess)
        # Move half the largest excess, shared in proportion to each neighbour's excess.
        moved = [rate * 0.5 * biggest * e / total for e in excess]
        h -= sum(moved)
        for (dy, dx), m in zip(shifts, moved):
            mp = np.pad(m, 1)
            # the neighbour at (j+dy, i+dx) receives m[j, i]
            h += mp[1 - dy:1 - dy + n, 1 - dx:1 - dx + h.shape[1]]
    return h
