"""Tree species as numpy geometry (bpy-free): material slot 0 is bark, 1 is foliage.

- broadleaf, birch, acacia, dead: grown by space colonisation (``skeletons.colonise``) inside
  a crown envelope of their own shape; leaves are folded blades with a real outline in
  clusters at the twig ends (birch: small and drooping; acacia: a flat umbrella crown;
  dead: no leaves, a broken top).
- conifer: a straight trunk with whorls of drooping branches carrying side twigs, every
  twig a bottle-brush of needles.
- palm: a curved, ringed trunk and a crown of fronds, each a drooping rachis with two rows
  of long leaflets.

Every tree has its base at the origin. ``crown_base`` is the height of its lowest leaf
(cameras may pass under a crown, never through it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.mesh_arrays import Geo, concat, leaves_geo, spikes, strips, tube, unit
from .skeletons import Skeleton, colonise, crown_points, pipe_radii, skeleton_mesh

Range = tuple[float, float]


@dataclass(frozen=True)
class Species:
    """The shape of one colonised species."""
    name: str
    height: Range               # metres
    crown_base: Range           # fraction of the height where the crown starts
    width: Range                # crown radius as a fraction of the height
    envelope: str = "ellipsoid"  # ellipsoid, narrow, umbrella
    tropism: float = 0.1        # upward pull of growing tips
    leaf_size: float = 0.2      # leaf length (m)
    leaf_width: float = 0.42    # leaf half-width / length
    leaves_per_tip: int = 18
    leaf_spread: float = 0.3    # how far leaves sit from their twig end (m)
    droop: float = 0.0          # downward hang of the leaves around the tips (0 up .. 1 hanging)
    leaves: bool = True
    broken_top: bool = False
    tip_radius: float = 0.0025  # twig radius as a fraction of the height
    attractors: float = 1.0     # multiplier of the config's attraction points


SPECIES = {s.name: s for s in (
    Species("broadleaf", (8.0, 13.0), (0.28, 0.42), (0.3, 0.42)),
    Species("birch", (10.0, 15.0), (0.25, 0.4), (0.16, 0.22), envelope="narrow", tropism=0.05, leaf_size=0.13,
            leaf_width=0.38, leaves_per_tip=22, droop=0.6, tip_radius=0.0018),
    Species("acacia", (5.0, 8.0), (0.55, 0.7), (0.5, 0.7), envelope="umbrella", tropism=0.02, leaf_size=0.11,
            leaf_width=0.3, leaves_per_tip=24, leaf_spread=0.35, tip_radius=0.002),
    Species("dead", (5.0, 10.0), (0.25, 0.4), (0.22, 0.35), leaves=False, broken_top=True, tip_radius=0.006,
            attractors=0.35),
)}


def _envelope_points(rng: np.random.Generator, sp: Species, n: int, height: float, base: float,
                     width: float) -> np.ndarray:
    """Attraction points [n, 3] filling the species' crown."""
    if sp.envelope == "umbrella":  # a flat, wide disc of foliage on top
        r = width * np.sqrt(rng.uniform(0, 1, n))
        a = rng.uniform(0, 2 * np.pi, n)
        z = height - (height - base) * rng.uniform(0, 1, n) ** 2 * (1 - 0.6 * r / width)
        return np.stack([r * np.cos(a), r * np.sin(a), z], 1)
    pts = crown_points(rng, "broadleaf", n, height, base, width)
    if sp.envelope == "narrow":  # taller than wide, tapering to the top
        t = (pts[:, 2] - base) / max(height - base, 1e-6)
        pts[:, :2] *= (1.15 - 0.6 * t)[:, None]
    return pts


def grow(rng: np.random.Generator, sp: Species, height: float, attractors: int, step: float) -> Skeleton:
    """A colonised skeleton of species ``sp``."""
    base = height * rng.uniform(*sp.crown_base)
    width = height * rng.uniform(*sp.width)
    pts = _envelope_points(rng, sp, max(int(attractors * sp.attractors), 30), height, base, width)
    k = max(2, int(base / step))
    lean = rng.normal(scale=0.03, size=2)
    z = np.linspace(0, base, k + 1)
    trunk = np.stack([lean[0] * z + 0.05 * np.sin(z * 1.3 + rng.uniform(0, 6)),
                      lean[1] * z + 0.05 * np.sin(z * 1.1 + rng.uniform(0, 6)), z], axis=1)
    pos, par = colonise(rng, pts, trunk, np.arange(-1, k), step, influence=width * 1.1, kill=step * 1.8,
                        tropism=np.array([0, 0, sp.tropism]))
    if sp.broken_top:  # snapped: drop the highest nodes and everything that grew from them
        keep = pos[:, 2] < height * rng.uniform(0.7, 0.9)
        for i in range(len(par)):
            if par[i] >= 0 and not keep[par[i]]:
                keep[i] = False
        remap = -np.ones(len(pos), np.int64)
        remap[keep] = np.arange(keep.sum())
        pos, par = pos[keep], np.where(par[keep] >= 0, remap[np.maximum(par[keep], 0)], -1)
    return Skeleton(pos, par, pipe_radii(par, sp.tip_radius * height, 2.4))


def _tip_frames(sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Positions [T, 3] and growth directions [T, 3] of the twig ends."""
    is_parent = np.zeros(len(sk.pos), bool)
    is_parent[sk.parent[sk.parent >= 0]] = True
    twig = ~is_parent | (sk.radius < sk.radius.min() * 1.5)
    twig[0] = False
    idx = np.nonzero(twig & (sk.parent >= 0))[0]
    return sk.pos[idx], unit(sk.pos[idx] - sk.pos[sk.parent[idx]])


def colonised_tree(rng: np.random.Generator, sp: Species, height: float, attractors: int, step: float) -> Geo:
    """Bark and leaves of one tree of a colonised species."""
    sk = grow(rng, sp, height, attractors, step)
    bv, bf = skeleton_mesh(sk, drop_below=0.0, thin_below=0.03 * height / 8)
    bark = Geo.from_faces(bv, bf, mat=0, smooth=True)
    if not sp.leaves:
        return bark
    tips, dirs = _tip_frames(sk)
    n = sp.leaves_per_tip
    c = np.repeat(tips, n, axis=0) + rng.normal(scale=sp.leaf_spread, size=(len(tips) * n, 3))
    axes = np.repeat(dirs, n, axis=0) + rng.normal(scale=0.9, size=c.shape) + np.array([0, 0, -1.5 * sp.droop])
    normals = rng.normal(size=c.shape) + np.array([0, 0, 1.6 * (1 - sp.droop) + 0.2])
    sizes = sp.leaf_size * rng.uniform(0.7, 1.3, len(c))
    leaves = leaves_geo(rng, c, axes, normals, sizes, sp.leaf_width, fold=0.3, droop=0.2, closed=True)
    leaves.verts[:, 2] = np.maximum(leaves.verts[:, 2], 0.02)
    return concat([bark, leaves])


def conifer(rng: np.random.Generator, height: float, density: float = 1.0) -> Geo:
    """A spruce-like conifer: whorls of drooping branches with side twigs, all clothed in needles.
    ``density`` scales the number of twigs (1 for full trees, lower for tests)."""
    crown_base = height * rng.uniform(0.06, 0.2)
    width = height * rng.uniform(0.2, 0.27)
    trunk_z = np.linspace(0, height, 14)
    trunk = tube(np.stack([np.zeros(14), np.zeros(14), trunk_z], 1) + _lean(rng, trunk_z),
                 0.011 * height * (1.0 - 0.9 * trunk_z / height) + 0.01, sides=8, mat=0)
    whorls = np.arange(crown_base, height * 0.97, rng.uniform(0.35, 0.5) / max(density, 0.3) ** 0.5)
    branches, needle_parts = [], []
    for z in whorls:
        t = (z - crown_base) / (height - crown_base)
        length = width * (1.0 - t) ** 0.95 + 0.15
        for az in rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, int(rng.integers(5, 8)), endpoint=False):
            path = _branch_path(rng, z, az + rng.normal(scale=0.15), length, droop=0.15 + 0.25 * (1 - t))
            branches.append(tube(path, np.linspace(0.012 + 0.02 * (1 - t), 0.004, len(path)), sides=4, mat=0))
            needle_parts.append(_twigs_with_needles(rng, path, length, density))
    return concat([trunk] + branches + needle_parts)


def _lean(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    lean = rng.normal(scale=0.015, size=2)
    return np.stack([lean[0] * z, lean[1] * z, np.zeros_like(z)], 1)


def _branch_path(rng: np.random.Generator, z: float, azimuth: float, length: float, droop: float) -> np.ndarray:
    """A branch [5, 3] leaving the trunk at height ``z``: down first, its tip turned up."""
    s = np.linspace(0, 1, 5)
    out = np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
    dz = -droop * length * np.sin(np.pi * s * 0.8) * 0.6 + 0.12 * length * s ** 3
    return np.array([0.0, 0.0, z]) + s[:, None] * length * out + dz[:, None] * np.array([0, 0, 1.0])


def _twigs_with_needles(rng: np.random.Generator, path: np.ndarray, length: float, density: float) -> Geo:
    """Side twigs along a branch, and needles on the branch and every twig."""
    n_twigs = max(2, int(length / 0.09 * density))
    s = np.sort(rng.uniform(0.15, 1.0, n_twigs))
    seg = np.minimum((s * (len(path) - 1)).astype(int), len(path) - 2)
    frac = s * (len(path) - 1) - seg
    at = path[seg] * (1 - frac[:, None]) + path[seg + 1] * frac[:, None]
    along = unit(path[seg + 1] - path[seg])
    side = unit(np.cross(along, np.array([0, 0, 1.0])))
    sign = np.where(np.arange(n_twigs) % 2 == 0, 1.0, -1.0)[:, None]
    twig_dir = unit(along * 0.8 + side * sign + rng.normal(scale=0.2, size=(n_twigs, 3)))
    twig_len = (0.3 * (1.15 - s) * min(length, 2.5) + 0.12) * rng.uniform(0.8, 1.2, n_twigs)
    starts = np.concatenate([at, path[:1]])
    dirs = np.concatenate([twig_dir, along[:1]])
    lens = np.concatenate([twig_len, [length]])
    return _needles(rng, starts, dirs, lens)


def _needles(rng: np.random.Generator, starts: np.ndarray, dirs: np.ndarray, lengths: np.ndarray) -> Geo:
    """Needles around each twig (start [T, 3], direction [T, 3], length [T]): 2 rows in a shallow V,
    pointing forward and out; each a closed three-sided spike, 22 mm wide and 6 mm thick at its base."""
    per_m = 110.0
    counts = np.maximum((lengths * per_m).astype(int), 3)
    t_idx = np.repeat(np.arange(len(starts)), counts)
    pos = np.concatenate([np.sort(rng.uniform(0.05, 1.0, c)) for c in counts])
    base = starts[t_idx] + dirs[t_idx] * (pos * lengths[t_idx])[:, None]
    u = unit(np.cross(dirs[t_idx], np.array([0, 0, 1.0])) + 1e-6)
    w = unit(np.cross(dirs[t_idx], u))
    side = np.where(rng.uniform(size=len(base)) < 0.5, 1.0, -1.0)[:, None]
    out = u * side + w * rng.uniform(-0.5, 0.9, (len(base), 1)) + dirs[t_idx] * 0.8
    across = unit(np.cross(out, w))
    n = len(base)
    return spikes(base, out, rng.uniform(0.12, 0.18, n), np.full(n, 0.011), np.full(n, 0.006), across, mat=1)


def palm(rng: np.random.Generator, height: float, density: float = 1.0) -> Geo:
    """A palm: a curved, ringed trunk and a crown of drooping fronds with two rows of leaflets."""
    t = np.linspace(0, 1, 28)
    bend = rng.uniform(0.05, 0.2) * height
    az = rng.uniform(0, 2 * np.pi)
    path = np.stack([bend * t ** 2 * np.cos(az), bend * t ** 2 * np.sin(az), height * t], 1)
    rings = 1.0 + 0.05 * np.cos(t * height / 0.16 * 2 * np.pi)
    radius = (0.16 + 0.12 * (1 - t) ** 4) * rings * height / 9.0
    parts = [tube(path, radius, sides=10, mat=0)]
    top = path[-1]
    n_fronds = int(rng.integers(10, 16))
    for k in range(n_fronds):
        azimuth = 2 * np.pi * k / n_fronds + rng.normal(scale=0.2)
        elevation = rng.uniform(-0.4, 0.9)
        parts.append(_frond(rng, top, azimuth, elevation, rng.uniform(2.4, 3.6) * height / 9.0, density))
    return concat(parts)


def _frond(rng: np.random.Generator, top: np.ndarray, azimuth: float, elevation: float, length: float,
           density: float) -> Geo:
    """One frond: a rachis bending down under its weight, with leaflets on both sides."""
    s = np.linspace(0, 1, 12)
    h = np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
    rise = np.sin(elevation) * s * length - 0.45 * (s * length) ** 2 / length
    rachis = top + (np.cos(elevation) * s * length)[:, None] * h + rise[:, None] * np.array([0, 0, 1.0])
    parts = [tube(rachis, np.linspace(0.03, 0.006, len(s)), sides=4, mat=0, cap=False)]
    n = int(45 * density) + 6
    u = np.sort(rng.uniform(0.08, 0.98, n))
    idx = np.minimum((u * (len(s) - 1)).astype(int), len(s) - 2)
    fr = u * (len(s) - 1) - idx
    at = rachis[idx] * (1 - fr[:, None]) + rachis[idx + 1] * fr[:, None]
    along = unit(rachis[idx + 1] - rachis[idx])
    side = unit(np.cross(along, np.array([0, 0, 1.0])) + 1e-6)
    for sign in (1.0, -1.0):
        d = unit(side * sign + along * 0.55 + np.array([0, 0, -0.35]))
        lens = (0.75 * np.sin(np.pi * (0.15 + 0.8 * u)) + 0.15) * length / 3.0
        parts.append(strips(at, d, lens, np.full(n, 0.028), unit(np.cross(d, np.array([0, 0, 1.0])) + 1e-6),
                            segments=2, droop=0.6 / np.maximum(lens, 0.1), mat=1))
    return concat(parts)


def crown_base(geo: Geo) -> float:
    """Height of the lowest foliage vertex (the tree's height when it has none)."""
    leaf_faces = np.repeat(geo.mat == 1, geo.sizes)
    z = geo.verts[geo.loops[leaf_faces], 2]
    return float(z.min()) if len(z) else float(geo.verts[:, 2].max())
