"""What lies on the ground, as numpy geometry (bpy-free): fallen leaves, pine needles,
twigs and fallen logs. Origins are at ground level; everything lies nearly flat."""
from __future__ import annotations

import numpy as np

from ..geometry.mesh_arrays import Geo, concat, leaves_geo, spikes, tube, unit


def fallen_leaves(rng: np.random.Generator, n: int = 6, size: float = 0.1) -> Geo:
    """A few dead leaves lying on the ground, curled a little, overlapping: thin closed bodies
    (a millimetre on the midrib of a 10 cm leaf)."""
    c = np.concatenate([rng.normal(scale=0.08, size=(n, 2)), rng.uniform(0.004, 0.02, (n, 1))], 1)
    ang = rng.uniform(0, 2 * np.pi, n)
    axes = np.stack([np.cos(ang), np.sin(ang), rng.normal(scale=0.1, size=n)], 1)
    normals = rng.normal(scale=0.25, size=(n, 3)) + np.array([0, 0, 1.0])
    g = leaves_geo(rng, c, axes, normals, size * rng.uniform(0.6, 1.4, n), rng.uniform(0.3, 0.5), fold=-0.25,
                   droop=-0.1, mat=0, closed=True, cup=0.0, rib=0.01)
    _rest_on_ground(g.verts.reshape(n, -1, 3), 0.002)
    return g


def _rest_on_ground(leaves: np.ndarray, floor: float) -> None:
    """Lift what of each closed leaf [N, 2 + S * 4, 3] (base, tip, then per cross-section three
    upper points and one lower) sinks below ``floor``, a whole cross-section at a time, so that a
    leaf lies bent along the ground and keeps its thickness (clamping each point would squash
    its two sides together)."""
    ends, sections = leaves[:, :2], leaves[:, 2:].reshape(len(leaves), -1, 4, 3)
    ends[..., 2] = np.maximum(ends[..., 2], floor)
    sections[..., 2] += np.maximum(floor - sections[..., 2].min(-1), 0)[..., None]
    leaves[:, 2:] = sections.reshape(len(leaves), -1, 3)


def needle_litter(rng: np.random.Generator, n: int = 60) -> Geo:
    """Fallen pine needles criss-crossing on the ground: closed three-sided spikes, 3 mm wide and
    1.2 mm thick at the base, lying on their flat face (sides x dirs points up)."""
    starts = np.concatenate([rng.normal(scale=0.1, size=(n, 2)), rng.uniform(0.002, 0.012, (n, 1))], 1)
    ang = rng.uniform(0, 2 * np.pi, n)
    d = np.stack([np.cos(ang), np.sin(ang), rng.normal(scale=0.05, size=n)], 1)
    side = unit(np.cross(np.array([0, 0, 1.0]), d))
    return spikes(starts, d, rng.uniform(0.05, 0.1, n), np.full(n, 0.0015), np.full(n, 0.0012), side, mat=0)


def twig(rng: np.random.Generator, length: float | None = None) -> Geo:
    """A small dead branch lying on the ground, with one or two side shoots."""
    length = length or rng.uniform(0.2, 0.6)
    s = np.linspace(0, 1, 6)
    bend = rng.normal(scale=0.05, size=2)
    path = np.stack([s * length - length / 2, bend[0] * np.sin(s * np.pi) * length, np.full_like(s, 0.008)], 1)
    parts = [tube(path, np.linspace(0.008, 0.003, 6), sides=4, mat=0)]
    for _ in range(int(rng.integers(1, 3))):
        k = int(rng.integers(1, 4))
        a = rng.uniform(-1.0, 1.0)
        d = np.array([np.cos(a), np.sin(a), 0.0])
        sub = path[k] + np.linspace(0, 1, 3)[:, None] * d * length * rng.uniform(0.2, 0.4)
        parts.append(tube(sub, np.linspace(0.004, 0.002, 3), sides=3, mat=0))
    return concat(parts)


def log(rng: np.random.Generator, length: float, radius: float) -> Geo:
    """A fallen log along x, resting on the ground: a gently bent trunk with jagged, broken ends
    and a stub of a branch or two (slot 0 bark)."""
    s = np.linspace(-0.5, 0.5, 12)
    sag = rng.normal(scale=0.02, size=2)
    path = np.stack([s * length, sag[0] * np.sin(np.pi * (s + 0.5)) * length, np.full_like(s, radius * 0.9)], 1)
    r = radius * (1.0 - 0.15 * (s + 0.5)) * (1 + 0.04 * rng.normal(size=len(s)))
    body = tube(path, r, sides=10, mat=0, cap=False)
    ends = [_broken_end(rng, path[0], -unit(path[1] - path[0]), r[0]),
            _broken_end(rng, path[-1], unit(path[-1] - path[-2]), r[-1])]
    stubs = []
    for _ in range(int(rng.integers(0, 3))):
        k = int(rng.integers(2, len(s) - 2))
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([rng.uniform(-0.3, 0.3), np.cos(a), abs(np.sin(a)) + 0.2])
        sub = path[k] + np.linspace(0, 1, 3)[:, None] * unit(d) * radius * rng.uniform(1.5, 3.0)
        stubs.append(tube(sub, np.linspace(0.4, 0.2, 3) * r[k], sides=5, mat=0))
    return concat([body] + ends + stubs)


def _broken_end(rng: np.random.Generator, centre: np.ndarray, out: np.ndarray, radius: float) -> Geo:
    """A jagged cone of splinters closing a log's end."""
    k = 10
    u = unit(np.cross(out, np.array([0, 0, 1.0])) + 1e-6)
    v = np.cross(out, u)
    ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
    ring = centre + radius * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v)
    spikes = centre + out * radius * rng.uniform(0.1, 0.9, k)[:, None] + \
        0.4 * radius * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v)
    verts = np.concatenate([ring, spikes, centre[None] + out * radius * 0.2])
    faces = [np.array([a, (a + 1) % k, k + (a + 1) % k, k + a]) for a in range(k)]
    faces += [np.array([k + a, k + (a + 1) % k, 2 * k]) for a in range(k)]
    return Geo.from_faces(verts, faces, mat=0)
