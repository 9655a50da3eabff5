"""Where things go: Poisson-disk sampling (or a jittered grid for dense cover) filtered by
density, slope, altitude and keep-out areas; objects that share one mesh datablock or one
geometry-nodes carrier; and :func:`place_kind`, the one loop that places every kind of
:mod:`assets`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.noise import Noise
from ..core.seeding import stream
from ..geometry.blender_mesh import get_collection, new_object
from ..geometry.instancing import instance_on_points
from ..terrain.heightfield import Heightfield
from .assets import AssetContext, AssetKind, make_meshes


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


def jittered_grid(rng: np.random.Generator, half: float, cell: float, want: int) -> np.ndarray:
    """Candidate points [K, 2], one per cell of a grid over [-half, half]^2 jittered within
    its cell, in random order. The cell shrinks below ``cell`` until there are at least
    ``want`` candidates (dense cover may overlap; it has no exact spacing)."""
    cell = min(cell, 2 * half / np.sqrt(max(want, 1)))
    n = max(int(np.ceil(2 * half / cell)), 1)
    j, i = np.divmod(np.arange(n * n), n)
    pts = (np.stack([i, j], 1) + rng.uniform(0.05, 0.95, (n * n, 2))) * (2 * half / n) - half
    return pts[rng.permutation(len(pts))]


def stands(rng: np.random.Generator, half: float, spacing: float, want: int) -> np.ndarray:
    """Candidate points [K, 2] in stands: centres kept STAND_GAP stand radii apart, members
    scattered normally about them and thinned greedily so that no two are closer than
    ``spacing``; in random order of stands, so the first ``want`` fill whole stands."""
    radius = STAND_SPACINGS * spacing
    centres = poisson_disk(rng, half, STAND_GAP * radius, max(want // 8, 2))
    pts = centres[:, None, :] + rng.normal(scale=radius / 2, size=(len(centres), 24, 2))
    pts = np.clip(pts.reshape(-1, 2), -half, half)
    kept: list[np.ndarray] = []
    for p in pts:
        if not kept or np.min(np.sum((np.asarray(kept) - p) ** 2, axis=1)) >= spacing ** 2:
            kept.append(p)
    return np.asarray(kept, dtype=np.float64).reshape(-1, 2)


STAND_SPACINGS = 2.5  # a stand's radius in member spacings
STAND_GAP = 2.6       # centres of stands this many stand radii apart


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
    max_above_water: float | None = None
    pattern: str = "poisson"        # "poisson", "jitter" or "stands" (clusters; see ``stands``)
    blocked: Callable | None = None  # (x [K], y [K]) -> bool [K]: further keep-out areas


def place(hf: Heightfield, rng: np.random.Generator, rule: Rule, density_noise: Noise,
          density_scale: float) -> np.ndarray:
    """Accepted positions [K, 3] on the ground (z from the heightfield) for ``rule``."""
    if rule.count <= 0:
        return np.zeros((0, 3))
    if rule.pattern == "jitter":
        pts = jittered_grid(rng, rule.area, rule.spacing, int(rule.count * 1.15))
    elif rule.pattern == "stands":
        pts = stands(rng, rule.area, rule.spacing, rule.count * 2)
    else:
        pts = poisson_disk(rng, rule.area, rule.spacing, rule.count * 4)
    if len(pts) == 0:
        return np.zeros((0, 3))
    x, y = pts[:, 0], pts[:, 1]
    keep = hf.slope(x, y) <= rule.max_slope
    z = hf.height(x, y)
    if hf.water_level is not None:
        if not hf.submerged:  # on a sea floor nothing keeps above the water
            keep &= z >= hf.water_level + rule.min_above_water
        if rule.max_above_water is not None:
            keep &= z <= hf.water_level + rule.max_above_water
    elif rule.max_above_water is not None:
        keep[:] = False  # plants of the water's edge need water
    if rule.max_altitude is not None:
        keep &= z <= rule.max_altitude
    if rule.density > 0:
        dens = 0.5 + 0.5 * density_noise.fbm2(x * density_scale, y * density_scale, octaves=3)
        keep &= rng.uniform(size=len(x)) < (1 - rule.density) + rule.density * np.clip(dens * 1.6 - 0.3, 0, 1)
    if rule.avoid:
        discs = np.asarray(rule.avoid, dtype=np.float64).reshape(-1, 3)
        for start in range(0, len(discs), 256):  # bounded memory for many points and discs
            d = discs[start:start + 256]
            inside = ((x[:, None] - d[None, :, 0]) ** 2 + (y[:, None] - d[None, :, 1]) ** 2) <= d[None, :, 2] ** 2
            keep &= ~inside.any(axis=1)
    if rule.blocked is not None:
        keep &= ~rule.blocked(x, y)
    sel = np.nonzero(keep)[0][: rule.count]
    return np.stack([x[sel], y[sel], z[sel]], axis=1)


def instance(name: str, mesh, location, rotation, scale, gs_class: str, collection):
    """An object sharing ``mesh`` (no copy of the geometry), placed and tagged."""
    ob = new_object(name, mesh, gs_class, collection)
    ob.location = tuple(float(c) for c in location)
    ob.rotation_euler = tuple(float(c) for c in rotation)
    ob.scale = tuple(float(s) for s in scale)
    return ob


def ground_z(hf: Heightfield, x, y, r) -> np.ndarray:
    """Lowest ground under footprints of radius r [K] at (x, y) [K], so objects on slopes do not float."""
    x, y, r = (np.atleast_1d(np.asarray(v, float)) for v in (x, y, r))
    a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ring = hf.height(x[:, None] + r[:, None] * np.cos(a), y[:, None] + r[:, None] * np.sin(a))
    return np.minimum(ring.min(axis=1), hf.height(x, y))


@dataclass
class Ground:
    """What placement reads besides the kind: the terrain, the density map and the keep-out areas."""
    hf: Heightfield
    density: Noise
    density_scale: float
    snow_line: float | None
    discs: dict[str, list] = field(default_factory=dict)  # kind name, "focus" or "path" -> [(x, y, radius)]
    areas: dict[str, Callable] = field(default_factory=dict)  # name -> (x, y, margin) -> blocked bool [K]
    tree_line: float | None = None  # kinds that keep below the tree line stand lower than this
    solid: Callable | None = None   # (x, y) -> bool [K]: inside the rock (a cave's), where nothing stands

    def max_altitude(self, p) -> float | None:
        """How high copies of a kind with placement ``p`` may stand (None: anywhere)."""
        lines = [self.snow_line if p.below_snow else None, self.tree_line if p.below_tree_line else None]
        lines = [z for z in lines if z is not None]
        return min(lines) if lines else None

    def keep_out(self, avoid) -> tuple[list, Callable | None]:
        """Discs and further blocked areas of the ``avoid`` entries (names or (name, margin))."""
        discs, areas = [], []
        for entry in avoid:
            name, margin = (entry, 0.0) if isinstance(entry, str) else entry
            # a negative radius narrows the margin (the walk's corridor), down to nothing
            discs += [(x, y, max(r + margin, 0.0)) for x, y, r in self.discs.get(name, [])]
            if name in self.areas:
                areas.append((self.areas[name], margin))
        if not areas:
            return discs, None
        return discs, lambda x, y: np.logical_or.reduce([f(x, y, m) for f, m in areas])


@dataclass
class Poses:
    """Poses of K placed copies of a kind."""
    location: np.ndarray   # [K, 3]
    rotation: np.ndarray   # [K, 3] XYZ Euler angles
    scale: np.ndarray      # [K, 3]
    variant: np.ndarray    # [K] int
    size: np.ndarray       # [K]

    def __len__(self) -> int:
        return len(self.location)


def _draw(kind: AssetKind, what: str, rng: np.random.Generator, size_range, n_meshes: int, k: int):
    if what == "size":
        lo, hi = size_range
        u = rng.uniform(size=k)
        return lo + (hi - lo) * (u if kind.size_power == 1 else u ** kind.size_power)
    if what == "variant":
        return rng.integers(max(n_meshes, 1), size=k)
    if what == "rotation":
        return rng.uniform(0, 2 * np.pi, k)
    if what == "aspect":
        return np.stack([rng.uniform(lo, hi, k) for lo, hi in kind.aspect], 1)
    return rng.normal(scale=kind.tilt, size=(k, 2))  # "tilt"


def lean_to_ground(hf: Heightfield, x: np.ndarray, y: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """XYZ Euler (x, y) angles [K, 2] that stand a copy turned by ``turn`` about z on the ground's normal."""
    n = hf.normal_at(x, y)
    c, s = np.cos(-turn), np.sin(-turn)
    m = np.stack([c * n[:, 0] - s * n[:, 1], s * n[:, 0] + c * n[:, 1], n[:, 2]], 1)
    return np.stack([-np.arcsin(np.clip(m[:, 1], -1, 1)), np.arctan2(m[:, 0], m[:, 2])], 1)


def rim_sink(hf: Heightfield, x: np.ndarray, y: np.ndarray, radius) -> np.ndarray:
    """How far [K] a flat disc of ``radius`` (one, or [K]) laid on the ground's tangent plane at
    (x, y) floats above the ground at its rim (clipped to 0.3 m): clumps sink by it."""
    n = hf.normal_at(x, y)
    z0 = hf.height(x, y)
    a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    r = np.broadcast_to(np.asarray(radius, np.float64), np.shape(x))[:, None]
    dx, dy = r * np.cos(a), r * np.sin(a)
    plane = z0[:, None] - (n[:, :1] * dx + n[:, 1:2] * dy) / n[:, 2:3]
    ground = hf.height(x[:, None] + dx, y[:, None] + dy)
    return np.clip((plane - ground).max(axis=1), 0.0, 0.3)


def pose_copies(kind: AssetKind, points: np.ndarray, rng: np.random.Generator, hf: Heightfield, size_range,
                n_meshes: int) -> Poses:
    """A pose for a copy at each ground point [K, 3], drawn from ``rng`` in the kind's order
    (each quantity for all copies at once)."""
    k = len(points)
    d = {what: _draw(kind, what, rng, size_range, n_meshes, k) for what in kind.draws}
    x, y, z = points[:, 0], points[:, 1], points[:, 2].copy()
    size = np.ones(k) if kind.clump else d["size"]
    unit = size if kind.per_size and not kind.clump else np.ones(k)
    if kind.footprint > 0:
        z = ground_z(hf, x, y, kind.footprint * unit)
    z = z - (0.0 if kind.clump else kind.sink) * unit
    if kind.clump:
        z = z - rim_sink(hf, x, y, kind.clump_radius)
    scale = np.repeat(size[:, None], 3, axis=1)
    if kind.aspect:
        scale[:, 1:1 + len(kind.aspect)] *= d["aspect"]
    lean = lean_to_ground(hf, x, y, d["rotation"]) if kind.follow_ground else np.zeros((k, 2))
    if "tilt" in d and not kind.clump:
        lean = lean + d["tilt"]
    rotation = np.concatenate([lean, d["rotation"][:, None]], axis=1)
    return Poses(np.stack([x, y, z], 1), rotation, scale, np.asarray(d["variant"], np.int64), size)


# Each clump's own stretch along its x and y, and its height: two clumps of one mesh differ by
# more than a turn (which is all a viewer could undo). No mirror (a negative scale): Cycles
# renders mirrored geometry-nodes instances centimetres away from where their matrices put them.
CLUMP_STRETCH = (0.8, 1.2)
CLUMP_HEIGHT = (0.75, 1.25)


def vary_clumps(poses: Poses, rng: np.random.Generator, hf: Heightfield, radius: float) -> Poses:
    """The clumps' ``poses`` each stretched along its own x and y and made taller or shorter,
    drawn from ``rng`` (the kind's ``{name}_vary`` stream, so where the clumps stand and how they
    turn stays as it was); a clump whose stretched rim would float over curved ground sinks as
    far again as that rim floats more than the unstretched one."""
    k = len(poses)
    stretch = rng.uniform(*CLUMP_STRETCH, size=(k, 2))
    height = rng.uniform(*CLUMP_HEIGHT, size=k)
    scale = poses.scale * np.stack([stretch[:, 0], stretch[:, 1], height], 1)
    x, y = poses.location[:, 0], poses.location[:, 1]
    deeper = np.maximum(rim_sink(hf, x, y, radius * stretch.max(1)) - rim_sink(hf, x, y, radius), 0.0)
    location = poses.location - np.stack([np.zeros(k), np.zeros(k), deeper], 1)
    return Poses(location, poses.rotation, scale, poses.variant, poses.size)


def reach_up(poses: Poses, meshes: list, top: float) -> Poses:
    """The poses with each copy scaled so that its mesh's highest point reaches ``top`` (world z)
    times its drawn size, whatever the depth of the ground it stands on."""
    highest = []
    for me in meshes:
        z = np.empty(len(me.vertices) * 3)
        me.vertices.foreach_get("co", z)
        highest.append(max(float(z[2::3].max()), 1e-3))
    s = (top - poses.location[:, 2]) / np.asarray(highest)[poses.variant] * poses.size
    return Poses(poses.location, poses.rotation, np.repeat(s[:, None], 3, axis=1), poses.variant, s)


def place_kind(kind: AssetKind, ctx: AssetContext, ground: Ground) -> int:
    """Make the meshes of ``kind``, place its copies and link them; returns how many were placed
    (for a clumped kind: clumps times the copies in each).

    Copies are named ``{kind.name}_{k}``; one object each, or one object carrying them all as
    instances when the kind has no instance id per copy. Records the kind's keep-out discs."""
    copies = kind.copies(ctx.config, ctx.biome)
    per = kind.clump_size(ctx.biome)
    count = int(np.ceil(copies / per))
    if count <= 0:
        return 0
    meshes = make_meshes(kind, ctx, count)
    p = kind.rule(ctx.config)
    discs, blocked = ground.keep_out(p.avoid)
    if ground.solid is not None:
        blocked = ground.solid if blocked is None else (lambda x, y, f=blocked: f(x, y) | ground.solid(x, y))
    rule = Rule(count=count, spacing=p.spacing, area=p.area * ground.hf.size, max_slope=p.max_slope,
                min_above_water=p.min_above_water, max_altitude=ground.max_altitude(p),
                density=p.density, avoid=discs, max_above_water=p.max_above_water, pattern=p.pattern,
                blocked=blocked)
    rng = stream(ctx.seed, f"{kind.name}_place")
    collection = get_collection(kind.collection)
    points = place(ground.hf, rng, rule, ground.density, ground.density_scale)
    poses = pose_copies(kind, points, rng, ground.hf, kind.size_range(ctx.config), len(meshes))
    if kind.clump:
        poses = vary_clumps(poses, stream(ctx.seed, f"{kind.name}_vary"), ground.hf, kind.clump_radius)
    if kind.under_surface is not None and ground.hf.submerged:
        poses = reach_up(poses, meshes, ground.hf.water_level - kind.under_surface)
    if kind.own_instance_id:
        for k in range(len(poses)):
            instance(f"{kind.name}_{k:0{kind.digits}d}", meshes[poses.variant[k]], poses.location[k],
                     poses.rotation[k], poses.scale[k], kind.gs_class, collection)
        centres = poses.location[:, :2].astype(np.float32).astype(np.float64)
    else:
        if len(poses):
            instance_on_points(kind.name, meshes, poses, kind.gs_class, collection)
        centres = poses.location[:, :2].astype(np.float32).astype(np.float64)
    if kind.clearance is not None:
        a, b = kind.clearance
        ground.discs[kind.name] = [(float(x), float(y), a * s + b) for (x, y), s in zip(centres, poses.size)]
    return len(poses) * per
