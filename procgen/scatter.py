"""Where things go: Poisson-disk sampling filtered by density, slope and altitude,
and cheap instances (objects that share one mesh datablock)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .heightfield import Heightfield
from .meshutil import new_object
from .noise import Noise


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
