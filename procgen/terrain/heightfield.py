"""Terrain heightfields: noise recipes per terrain kind, thermal erosion, sampling (bpy-free).

A :class:`Heightfield` is a square grid ``z[j, i]`` over ``x = xs[i]``, ``y = ys[j]``
centred on the origin. Everything that needs "the ground under a point" (scatter,
cameras, motion) samples this grid rather than ray-casting the mesh.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..assembly.config import TERRAIN_KINDS, TerrainConfig
from ..core.noise import Noise

DEFAULT_RELIEF = {"hills": 10.0, "mountains": 24.0, "canyon": 18.0, "dunes": 5.0, "plains": 4.0, "valley": 8.0,
                  "coast": 9.0, "cliff": 14.0, "alpine": 34.0, "river": 7.0, "cave": 2.0, "reef": 3.0}
TALUS_DEG = {"dunes": 31.0, "alpine": 46.0}  # steepest slope erosion leaves (others: 34 degrees)

SEA_DEPTH = (7.0, 9.5)  # metres of water over the highest ground of a sea floor


@dataclass
class Heightfield:
    z: np.ndarray          # [N, N] heights in metres, row j = y, column i = x
    size: float            # side length in metres
    kind: str
    water_level: float | None  # z of the water plane, or None
    features: dict = field(default_factory=dict)  # what a recipe tells later stages (the cliff's line)

    @property
    def submerged(self) -> bool:
        """Whether the whole terrain lies under the water (a sea floor)."""
        return bool(self.features.get("submerged"))

    @property
    def shore_level(self) -> float | None:
        """The water level that things on land keep above: None where there is no water, or
        where the terrain is a sea floor (everything stands under the water there)."""
        return None if self.submerged else self.water_level

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

    def normal_at(self, x, y) -> np.ndarray:
        """Interpolated unit normals [..., 3] at world (x, y)."""
        nrm = self.normals()
        out = np.stack([Heightfield(nrm[..., k], self.size, self.kind, None).height(x, y) for k in range(3)], -1)
        return out / np.linalg.norm(out, axis=-1, keepdims=True)

    def slope(self, x, y) -> np.ndarray:
        """1 - normal.z at world (x, y): 0 flat, about 0.29 at 45 degrees."""
        nz = self.normals()[..., 2]
        hf = Heightfield(nz, self.size, self.kind, None)
        return 1.0 - hf.height(x, y)

    def roof_at(self, x, y) -> np.ndarray:
        """Height of the rock overhead at world (x, y): a cave's roof (``features["roof"]``, a grid
        like ``z``), +inf in the open (no cave, or beyond the plane of its mouth)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        roof = self.features.get("roof")
        if roof is None:
            return np.full(np.broadcast(x, y).shape, np.inf)
        cave = self.features["cave"]
        (mx, my), (ax, ay) = cave["mouth"], cave["mouth_at"]
        outside = (x - ax) * mx + (y - ay) * my > 0
        return np.where(outside, np.inf, Heightfield(roof, self.size, self.kind, None).height(x, y))

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


@dataclass
class _Field:
    """What every recipe reads: grid coordinates, warped noise coordinates, relief and streams."""
    x: np.ndarray          # [N, N] metres
    y: np.ndarray
    u: np.ndarray          # [N, N] warped coordinates in units of the base wavelength
    v: np.ndarray
    noise: Noise
    rng: np.random.Generator
    relief: float
    size: float
    octaves: int
    offset: np.ndarray     # [2] random offset of the noise
    features: dict = field(default_factory=dict)


def _smoothstep(a: float, b: float, t: np.ndarray) -> np.ndarray:
    s = np.clip((t - a) / (b - a), 0.0, 1.0)
    return s * s * (3 - 2 * s)


def _hills(f: _Field) -> np.ndarray:
    h = 0.5 + 0.5 * f.noise.fbm2(f.u, f.v, octaves=f.octaves, gain=0.45)
    return h ** 1.4 * f.relief


def _plains(f: _Field) -> np.ndarray:
    h = 0.5 + 0.5 * f.noise.fbm2(f.u * 0.6, f.v * 0.6, octaves=f.octaves, gain=0.4)
    return h ** 1.2 * f.relief


def _mountains(f: _Field) -> np.ndarray:
    r = f.noise.ridged2(f.u * 0.8, f.v * 0.8, octaves=f.octaves, gain=0.5)
    broad = 0.5 + 0.5 * f.noise.fbm2(f.u * 0.35 + 40, f.v * 0.35, octaves=2)
    return f.relief * (0.25 * broad + 0.9 * r ** 1.6 * (0.4 + 0.8 * broad))


def _course(f: _Field) -> np.ndarray:
    """Distance [N, N] from a river course meandering along y, in units of half the terrain size."""
    course = 0.18 * f.size * f.noise.fbm2(f.y / (0.8 * f.size) + f.offset[0], np.full_like(f.y, 0.5), octaves=3)
    return np.abs(f.x - course) / (0.5 * f.size)


def _canyon(f: _Field) -> np.ndarray:
    plateau = 0.5 + 0.5 * f.noise.fbm2(f.u, f.v, octaves=f.octaves, gain=0.5)
    d = _course(f)
    width = f.rng.uniform(0.12, 0.2)
    carve = np.clip(1.0 - d / (width + 0.25), 0.0, 1.0)
    carve = np.clip((carve - 0.15) / 0.85, 0.0, 1.0) ** 0.6
    steps = f.rng.integers(3, 6)
    t = carve * steps
    terr = (np.floor(t) + np.clip((t - np.floor(t) - 0.7) / 0.3, 0.0, 1.0)) / steps
    return f.relief * (1.0 + 0.15 * plateau - 0.95 * terr) + 0.6 * f.relief * 0.1 * plateau


def _valley(f: _Field) -> np.ndarray:
    """A wide, flat valley floor with a river bed in it and gently rising, hilly sides."""
    d = _course(f)
    width = f.rng.uniform(0.25, 0.4)
    sides = _smoothstep(0.3 * width, width + 0.35, d)
    hills = 0.5 + 0.5 * f.noise.fbm2(f.u, f.v, octaves=f.octaves, gain=0.45)
    bed = np.exp(-(d / f.rng.uniform(0.05, 0.08)) ** 2)
    f.features["water_z"] = -0.09 * f.relief  # the river fills the deeper part of its bed
    return f.relief * (sides * (0.5 + 0.7 * hills) + 0.05 * hills * (1 - sides) - 0.22 * bed)


def _dunes(f: _Field) -> np.ndarray:
    """Transverse dunes: sinuous crests (a strongly warped coordinate across the wind) of
    uneven height and spacing, crossed by a weaker second set so that no crest runs straight."""
    theta = f.rng.uniform(0, np.pi)
    f.features["dunes"] = {"wind": [float(np.cos(theta)), float(np.sin(theta))]}  # the sand's ripples run across it
    wavelength = f.size * f.rng.uniform(0.14, 0.22)
    prof = np.zeros_like(f.x)
    for k, (turn, weight) in enumerate(((0.0, 1.0), (f.rng.uniform(0.9, 1.3), 0.35))):
        a = theta + turn
        s = (np.cos(a) * f.x + np.sin(a) * f.y) / (wavelength * (1.0 + 0.6 * k))
        s = s + 2.2 * f.noise.fbm2(f.u * 0.45 + 7 * k, f.v * 0.45, octaves=3)
        fr = s - np.floor(s)
        # Gentle windward side, steep lee face, rounded crest.
        p = np.where(fr < 0.75, fr / 0.75, (1.0 - fr) / 0.25)
        prof = prof + weight * p * p * (3 - 2 * p)
    amp = 0.45 + 0.55 * (0.5 + 0.5 * f.noise.fbm2(f.u * 0.5 + 20, f.v * 0.5, octaves=2))
    return f.relief * (prof / 1.35 * amp + 0.3 * (0.5 + 0.5 * f.noise.fbm2(f.u * 0.4, f.v * 0.4, octaves=2)))


def _across(f: _Field, key: str) -> np.ndarray:
    """Signed distance [N, N] (metres) across a random straight line through the centre;
    the line's direction is recorded in ``features[key]``."""
    theta = float(f.rng.uniform(0, 2 * np.pi))
    f.features[key] = {"direction": [float(np.cos(theta)), float(np.sin(theta))]}
    return np.cos(theta) * f.x + np.sin(theta) * f.y


def _coast(f: _Field) -> np.ndarray:
    """Land rising from the sea on one side of a wavy shoreline; a shallow sea floor on the other."""
    s = _across(f, "shore") / f.size + 0.08 * f.noise.fbm2(f.u * 0.7, f.v * 0.7, octaves=3)
    land = np.clip(s / 0.4, 0.0, 1.0) ** 1.6
    sea = np.clip(-s / 0.25, 0.0, 1.0)
    hills = 0.5 + 0.5 * f.noise.fbm2(f.u, f.v, octaves=f.octaves, gain=0.5)
    f.features["water_z"] = 0.045 * f.relief
    return f.relief * (land * (0.45 + 0.8 * hills) + 0.03 * hills - 0.25 * sea)


def cliff_line(cliff: dict, t: np.ndarray) -> np.ndarray:
    """Signed distance of the cliff's foot from the centre at position ``t`` along it (metres)."""
    t = np.asarray(t, float)
    return cliff["offset"] + sum(a * np.sin(2 * np.pi * t / wl + ph) for a, wl, ph in cliff["wobble"])


def _cliff(f: _Field) -> np.ndarray:
    """Low, gentle ground; the cliff's step is added after erosion (see ``_add_cliff``)."""
    _across(f, "cliff")
    f.features["cliff"].update(
        offset=float(f.rng.uniform(0.1, 0.16) * f.size), height=float(f.relief),
        wobble=[[float(f.rng.uniform(0.5, 1.5) / k), float(f.size / k * f.rng.uniform(0.6, 1.0)),
                 float(f.rng.uniform(0, 2 * np.pi))] for k in (1, 2, 4)])
    hills = 0.5 + 0.5 * f.noise.fbm2(f.u, f.v, octaves=f.octaves, gain=0.45)
    return 2.0 * hills


CLIFF_STEP = (4.0, 8.0)  # the plateau rises between these distances behind the cliff's foot (m)


def _add_cliff(h: np.ndarray, f: _Field) -> np.ndarray:
    """The cliff's step: the plateau rises by the cliff's height a few metres behind its foot,
    inside the rock of the overhanging wall that ``overhang.py`` builds over the step."""
    c = f.features["cliff"]
    dx, dy = c["direction"]
    s, t = dx * f.x + dy * f.y, -dy * f.x + dx * f.y
    return h + c["height"] * _smoothstep(*CLIFF_STEP, s - cliff_line(c, t))


def _alpine(f: _Field) -> np.ndarray:
    """A high valley among peaks: an open floor in the middle, and knife-edge ridges (ridged
    noise raised to a power: sharp crests, steep faces between them) rising around it towards
    the edges; erosion's steeper talus here keeps the faces."""
    r = f.noise.ridged2(f.u * 0.8, f.v * 0.8, octaves=f.octaves, gain=0.55)
    broad = 0.5 + 0.5 * f.noise.fbm2(f.u * 0.3 + 40, f.v * 0.3, octaves=2)
    rise = _smoothstep(0.12, 0.48, np.hypot(f.x, f.y) / f.size + 0.1 * (broad - 0.5))
    return f.relief * (0.15 * broad + (0.25 + 0.75 * rise) * r ** 1.8 * (0.6 + broad) + 0.3 * rise)


def _river(f: _Field) -> np.ndarray:
    """A broad river in a channel with low banks, meandering through a floodplain that rises
    into rolling hills on both sides; the water fills the channel to below the banks' top."""
    half = f.rng.uniform(0.045, 0.065) * f.size  # half the channel's width (m)
    t = _course(f) * 0.5 * f.size / half         # 0 on the course, 1 at the channel's edge
    channel = f.rng.uniform(1.2, 1.8) * (1.0 - np.clip(t, 0.0, 1.0) ** 2)
    banks = 0.9 * _smoothstep(0.8, 1.5, t)
    hills = 0.5 + 0.5 * f.noise.fbm2(f.u, f.v, octaves=f.octaves, gain=0.45)
    f.features["water_z"] = 0.3
    return banks + f.relief * hills * _smoothstep(1.5, 6.0, t) - channel


def _cave(f: _Field) -> np.ndarray:
    """A cave's uneven floor; the tunnel's course is recorded (``features["cave"]``) for its roof
    (``cave.py``): from the mouth, facing ``mouth`` on a line through ``mouth_at``, a wandering curve
    into the rock with its half width and height (m) at each point."""
    theta = float(f.rng.uniform(0, 2 * np.pi))
    mouth = np.array([np.cos(theta), np.sin(theta)])
    n, length = 48, f.rng.uniform(0.5, 0.6) * f.size
    s = np.linspace(0.0, 1.0, n)
    wander = sum(f.rng.uniform(0.3, 0.6) / k * np.sin(2 * np.pi * k * s * f.rng.uniform(0.4, 0.8)
                                                       + f.rng.uniform(0, 2 * np.pi)) for k in (1, 2))
    heading = theta + np.pi + wander * _smoothstep(0.0, 0.25, s)  # straight into the rock at first
    step = np.stack([np.cos(heading), np.sin(heading)], 1) * length / (n - 1)
    start = mouth * 0.26 * f.size
    course = np.clip(start + np.concatenate([[[0.0, 0.0]], np.cumsum(step[:-1], axis=0)]), -0.36 * f.size,
                     0.36 * f.size)
    flare = np.exp(-s * length / 6.0)  # the mouth opens wider and higher than the passage behind it
    width = f.rng.uniform(4.5, 6.5) * (1.0 + 0.25 * np.sin(2 * np.pi * s * f.rng.uniform(1.5, 3.0))) + 2.0 * flare
    height = f.rng.uniform(5.0, 7.0) * (1.0 + 0.2 * np.sin(2 * np.pi * s * f.rng.uniform(1.0, 2.5))) + 2.5 * flare
    f.features["cave"] = {"course": course.tolist(), "half_width": width.tolist(), "height": height.tolist(),
                          "mouth": mouth.tolist(), "mouth_at": start.tolist()}
    return f.relief * (0.5 + 0.5 * f.noise.fbm2(f.u * 2.0, f.v * 2.0, octaves=f.octaves, gain=0.5))


def _reef(f: _Field) -> np.ndarray:
    """A sea floor of coral mounds and sand channels between them: noise above a threshold
    swells into rounded mounds, the rest stays a nearly flat, gently rippled floor."""
    mounds = 0.5 + 0.5 * f.noise.fbm2(f.u * 1.6, f.v * 1.6, octaves=f.octaves, gain=0.5)
    floor = 0.5 + 0.5 * f.noise.fbm2(f.u * 0.4 + 9, f.v * 0.4, octaves=2)
    return f.relief * (0.35 * floor + _smoothstep(0.45, 0.75, mounds) ** 1.5)


RECIPES = {"hills": _hills, "mountains": _mountains, "canyon": _canyon, "dunes": _dunes, "plains": _plains,
           "valley": _valley, "coast": _coast, "cliff": _cliff, "alpine": _alpine, "river": _river, "cave": _cave,
           "reef": _reef}


def make_heightfield(cfg: TerrainConfig, rng: np.random.Generator, biome=None) -> Heightfield:
    """The heightfield of ``cfg`` drawn from ``rng``; the kind and water come from ``biome``
    where the config leaves them on "auto"."""
    kind = cfg.kind if cfg.kind in TERRAIN_KINDS else (biome.terrain if biome is not None else pick_kind(cfg, rng))
    scale = biome.relief if biome is not None else 1.0
    relief = cfg.height if cfg.height > 0 else DEFAULT_RELIEF[kind] * scale * rng.uniform(0.8, 1.25)
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
    f = _Field(x, y, u + cfg.warp * wu, v + cfg.warp * wv, noise, rng, relief, float(cfg.size), cfg.octaves, off)
    h = RECIPES[kind](f)
    # Fine detail everywhere, stronger where the ground is high (rockier).
    detail = noise.fbm2(x / 4.0 + 100, y / 4.0, octaves=3)
    h = h + 0.02 * relief * detail * (0.5 + h / max(relief, 1e-6))
    cell = cfg.size / (n - 1)
    h = thermal_erosion(h, cell, cfg.erosion_iterations, talus_deg=TALUS_DEG.get(kind, 34.0))
    if "cliff" in f.features:
        h = _add_cliff(h, f)
    low = float(h.min())
    h = h - low
    water = _water_level(kind, h, cfg.water, biome, rng, f.features.pop("water_z", None), low)
    if water is not None and biome is not None and biome.water == "sea":
        f.features["submerged"] = True
    return Heightfield(z=h, size=float(cfg.size), kind=kind, water_level=water, features=f.features)


def _water_level(kind: str, h: np.ndarray, mode: str, biome, rng: np.random.Generator, recipe_z, low: float):
    """Height of the water plane (None: dry) for the biome's water: the recipe's own level
    (a river in its bed, the sea up to the shore), else a lake filling the lowest ground."""
    if mode == "off":
        return None
    shape = biome.water if biome is not None else ("river" if kind == "canyon" else "lake")
    chance = biome.water_chance if biome is not None else (0.0 if kind == "dunes" else 0.45)
    draw = rng.uniform()
    if mode != "on" and (shape == "none" or (shape == "lake" and draw >= chance)):
        return None
    if shape == "sea":  # over the whole terrain (whatever the recipe's own water), deep enough to swim in
        return float(h.max() + rng.uniform(*SEA_DEPTH))
    if recipe_z is not None:
        return float(recipe_z - low)
    q = 0.07 if shape == "river" else rng.uniform(0.08, 0.2)
    return float(np.quantile(h, q))


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
