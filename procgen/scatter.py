"""Where things go: Poisson-disk sampling filtered by density, slope and altitude,
cheap instances (objects that share one mesh datablock), and :func:`place_kind`, the one
loop that places every kind of :mod:`assets`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .assets import AssetContext, AssetKind, make_meshes
from .heightfield import Heightfield
from .instancing import instance_on_points
from .meshutil import get_collection, new_object
from .noise import Noise
from .seeding import stream


def poisson_disk(rng: np.random.Generator, half: float, radius: float, max_points: int,
                 attempts: int = 30) -> np.ndarray:
    """Up to ``max_points`` points [K, 2] in the square [-half, half]^2, no two closer
    than ``radius``: random darts accepted greedily against a background grid."""
    cell = radius / np.sqrt(2.0)
    n = int(np.ceil(2 * half / cell)) + 1
    grid = -np.ones((n, n), dtype=np.int64)
    cand = rng.uniform(-half, half, size=(max(max_points, 1) * attempts, 2))
    out: list[tuple[float, float]] = []
    r2 = radius * radius
    for x, y in cand:
        gi, gj = int((x + half) / cell), int((y + half) / cell)
        ok = True
        for jj in range(max(gj - 2, 0), min(gj + 3, n)):
            row = grid[jj]
            for ii in range(max(gi - 2, 0), min(gi + 3, n)):
                k = row[ii]
                if k >= 0:
                    px, py = out[k]
                    if (px - x) ** 2 + (py - y) ** 2 < r2:
                        ok = False
                        break
            if not ok:
                break
        if ok:
            grid[gj, gi] = len(out)
            out.append((x, y))
            if len(out) >= max_points:
                break
    return np.array(out, dtype=np.float64).reshape(-1, 2)


@dataclass
class Rule:
    """Where a kind of object may stand."""
    count: int
    spacing: float                  # minimum distance between two of them (m)
    area: float                     # half side of the square they live in (m)
    max_slope: float = 0.5          # 1 - normal.z
    min_above_water: float = 0.3    # metres above the water plane
    max_altitude: float | None = None
    density: float = 0.6            # how strongly the density map thins them out (0 = uniform)
    avoid: list = field(default_factory=list)  # [(x, y, radius)] keep-out discs


def place(hf: Heightfield, rng: np.random.Generator, rule: Rule, density_noise: Noise,
          density_scale: float) -> np.ndarray:
    """Accepted positions [K, 3] on the ground (z from the heightfield) for ``rule``."""
    if rule.count <= 0:
        return np.zeros((0, 3))
    pts = poisson_disk(rng, rule.area, rule.spacing, rule.count * 4)
    if len(pts) == 0:
        return np.zeros((0, 3))
    x, y = pts[:, 0], pts[:, 1]
    keep = hf.slope(x, y) <= rule.max_slope
    z = hf.height(x, y)
    if hf.water_level is not None:
        keep &= z >= hf.water_level + rule.min_above_water
    if rule.max_altitude is not None:
        keep &= z <= rule.max_altitude
    if rule.density > 0:
        dens = 0.5 + 0.5 * density_noise.fbm2(x * density_scale, y * density_scale, octaves=3)
        keep &= rng.uniform(size=len(x)) < (1 - rule.density) + rule.density * np.clip(dens * 1.6 - 0.3, 0, 1)
    for ax, ay, ar in rule.avoid:
        keep &= (x - ax) ** 2 + (y - ay) ** 2 > ar * ar
    sel = np.nonzero(keep)[0][: rule.count]
    return np.stack([x[sel], y[sel], z[sel]], axis=1)


def instance(name: str, mesh, location, rotation_z: float, scale, gs_class: str, collection,
             tilt: tuple[float, float] = (0.0, 0.0)):
    """An object sharing ``mesh`` (no copy of the geometry), placed and tagged."""
    ob = new_object(name, mesh, gs_class, collection)
    ob.location = tuple(float(c) for c in location)
    ob.rotation_euler = (float(tilt[0]), float(tilt[1]), float(rotation_z))
    ob.scale = (scale, scale, scale) if np.isscalar(scale) else tuple(float(s) for s in scale)
    return ob


def ground_z(hf: Heightfield, x: float, y: float, r: float) -> float:
    """Lowest ground under a footprint of radius r, so objects on slopes do not float."""
    a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    return float(min(hf.height(x + r * np.cos(a), y + r * np.sin(a)).min(), hf.height(x, y)))


@dataclass
class Ground:
    """What placement reads besides the kind: the terrain, the density map and the keep-out discs."""
    hf: Heightfield
    density: Noise
    density_scale: float
    snow_line: float | None
    discs: dict[str, list] = field(default_factory=dict)  # kind name or "focus" -> [(x, y, radius)]


@dataclass
class Copy:
    """One placed copy of a kind."""
    location: tuple[float, float, float]
    rotation_z: float
    scale: float | tuple[float, float, float]
    tilt: tuple[float, float]
    variant: int
    size: float


def _draw(kind: AssetKind, what: str, rng: np.random.Generator, size_range, n_meshes: int):
    if what == "size":
        lo, hi = size_range
        u = rng.uniform()
        return lo + (hi - lo) * (u if kind.size_power == 1 else u ** kind.size_power)
    if what == "variant":
        return int(rng.integers(n_meshes))
    if what == "rotation":
        return rng.uniform(0, 2 * np.pi)
    if what == "aspect":
        return tuple(rng.uniform(lo, hi) for lo, hi in kind.aspect)
    return tuple(rng.normal(scale=kind.tilt, size=2))  # "tilt"


def pose_copies(kind: AssetKind, points: np.ndarray, rng: np.random.Generator, hf: Heightfield, size_range,
                n_meshes: int) -> list[Copy]:
    """A pose for a copy at each ground point [K, 3], drawn from ``rng`` in the kind's order."""
    out = []
    for x, y, z in points:
        d = {what: _draw(kind, what, rng, size_range, n_meshes) for what in kind.draws}
        s = d["size"]
        unit = s if kind.per_size else 1.0
        if kind.footprint > 0:
            z = ground_z(hf, x, y, kind.footprint * unit)
        z = z - kind.sink * unit
        scale = (s, *(s * a for a in d["aspect"])) if kind.aspect else s
        out.append(Copy((x, y, z), d["rotation"], scale, d.get("tilt", (0.0, 0.0)), d["variant"], s))
    return out


def place_kind(kind: AssetKind, ctx: AssetContext, ground: Ground) -> int:
    """Make the meshes of ``kind``, place its copies and link them; returns how many were placed.

    Copies are named ``{kind.name}_{k}``; one object each, or one object carrying them all as
    instances when the kind has no instance id per copy. Records the kind's keep-out discs."""
    count = kind.copies(ctx.config, ground.hf.kind)
    meshes = make_meshes(kind, ctx, count)
    p = kind.rule(ctx.config)
    rule = Rule(count=count, spacing=p.spacing, area=p.area * ground.hf.size, max_slope=p.max_slope,
                min_above_water=p.min_above_water, max_altitude=ground.snow_line if p.below_snow else None,
                density=p.density, avoid=[d for name in p.avoid for d in ground.discs.get(name, [])])
    rng = stream(ctx.seed, f"{kind.name}_place")
    collection = get_collection(kind.collection)
    points = place(ground.hf, rng, rule, ground.density, ground.density_scale)
    copies = pose_copies(kind, points, rng, ground.hf, kind.size_range(ctx.config), len(meshes))
    if kind.own_instance_id:
        objects = [instance(f"{kind.name}_{k:0{kind.digits}d}", meshes[c.variant], c.location, c.rotation_z,
                            c.scale, kind.gs_class, collection, tilt=c.tilt) for k, c in enumerate(copies)]
        centres = [(float(ob.location.x), float(ob.location.y)) for ob in objects]
    else:
        if copies:
            instance_on_points(kind.name, meshes, copies, kind.gs_class, collection)
        centres = [(float(np.float32(c.location[0])), float(np.float32(c.location[1]))) for c in copies]
    if kind.clearance is not None:
        a, b = kind.clearance
        ground.discs[kind.name] = [(x, y, a * c.size + b) for (x, y), c in zip(centres, copies)]
    return len(copies)
