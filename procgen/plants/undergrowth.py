"""Undergrowth as numpy geometry (bpy-free): bushes, grass tufts, flowers, clover, ferns, reeds
and mushrooms (cacti: ``cacti``).

Bushes grow by space colonisation (``skeletons``), the rest from strips, tubes and leaf
outlines. Every asset has its origin at its base; material slot 0 is the stem, bark or blade,
slot 1 the leaves, petals or heads.
"""
from __future__ import annotations

import numpy as np

from ..geometry.mesh_arrays import Geo, concat, leaves_geo, strips, tube, unit
from .skeletons import Skeleton, colonise, crown_points, pipe_radii, skeleton_mesh

# Midrib thickness / leaf length of the small closed leaves (fern leaflets, flower leaves and
# petals, clover): thicker for their size than a tree's leaves (``blades.RIB_THICKNESS``), so
# that a leaf of two or three centimetres is still a third of a millimetre thick.
LEAFLET_RIB = 0.015


def grow_bush(rng: np.random.Generator, height: float, attractors: int, step: float = 0.12) -> Skeleton:
    """A bush skeleton: a few shoots from the ground colonising a squashed hemisphere."""
    width = height * rng.uniform(0.8, 1.2)
    # A fifth wider than the crown itself: the leaves grow on the twigs, not scattered up to half
    # a metre about them, and this keeps the leafy bush about as wide as it was.
    pts = crown_points(rng, "bush", attractors, height, 0.0, width * 1.2)
    shoots = int(rng.integers(3, 6))
    start = [np.zeros(3)] + [np.r_[rng.normal(scale=0.05, size=2), 0.05 * (k + 1)] for k in range(shoots)]
    parents = [-1] + [0] * shoots
    pos, par = colonise(rng, pts, np.array(start), np.array(parents), step, influence=height * 0.9,
                        kill=step * 1.6, tropism=np.array([0, 0, 0.15]))
    return Skeleton(pos, par, pipe_radii(par, 0.006 * height, 2.3))


def bush(rng: np.random.Generator, height: float, attractors: int, leaf_size: float = 0.09) -> Geo:
    """A bush: a low colonised skeleton with many leaves on its last twig segments (slot 0 bark,
    1 leaf); each leaf's base sits on a twig's surface and the leaf points outwards and up."""
    sk = grow_bush(rng, height, attractors)
    bv, bf = skeleton_mesh(sk, drop_below=0.0, thin_below=0.01)
    is_parent = np.zeros(len(sk.pos), bool)
    is_parent[sk.parent[sk.parent >= 0]] = True
    tips = np.nonzero(~is_parent)[0]
    n = 14
    # The draws of the leaves' old scatter about the twig ends, kept in order: the first says
    # how far back from its twig's end a leaf grows, the other two tilt its side of the twig.
    g = rng.normal(size=(len(tips) * n, 3))
    on, along, radius = twig_stations(sk, np.repeat(tips, n), np.abs(g[:, 0]) * 0.4 * height)
    axes = outwards_and_up(on, along, rng.normal(size=g.shape))
    # The base just inside the bark (a tube narrows to 0.7 of its radius at a twig end), on the
    # side the leaf points to.
    side = axes + 0.3 * np.c_[g[:, 1:], np.zeros(len(g))]
    side = unit(side - along * np.sum(side * along, axis=1, keepdims=True))
    normals = rng.normal(size=g.shape) + np.array([0, 0, 1.2])
    leaves = leaves_geo(rng, on + side * radius[:, None] * 0.6, axes, normals,
                        leaf_size * rng.uniform(0.7, 1.3, len(g)), 0.45, closed=True)
    return concat([Geo.from_faces(bv, bf, mat=0, smooth=True), leaves])


def twig_stations(sk: Skeleton, tips: np.ndarray, back: np.ndarray, segments: int = 6
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points [L, 3] on the skeleton's axis ``back`` [L] metres from the twig ends ``tips`` [L]
    (node indices) towards the root, along at most ``segments`` segments and never onto the
    root's own; with the twig's direction there [L, 3] and its radius [L]."""
    node = tips.copy()
    left = back.astype(float).copy()
    for _ in range(segments - 1):
        par = sk.parent[node]
        seg = np.linalg.norm(sk.pos[node] - sk.pos[par], axis=1)
        move = (left > seg) & (sk.parent[par] >= 0)
        left = np.where(move, left - seg, left)
        node = np.where(move, par, node)
    par = sk.parent[node]
    vec = sk.pos[node] - sk.pos[par]
    seg = np.linalg.norm(vec, axis=1)
    t = np.clip(left / np.maximum(seg, 1e-9), 0.0, 0.95)
    return sk.pos[node] - vec * t[:, None], unit(vec), sk.radius[node]


def outwards_and_up(at: np.ndarray, along: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Leaf directions [L, 3] at points ``at`` [L, 3] on twigs growing ``along`` [L, 3]: away
    from the plant's vertical axis, up, a little along the twig, scattered by ``noise`` [L, 3]."""
    out = at * np.array([1.0, 1.0, 0.0])
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 0.05
    return unit(out + np.array([0, 0, 0.7]) + 0.5 * along + 0.6 * noise)


def grass_tuft(rng: np.random.Generator, height: float = 0.35, blades: int | None = None,
               spread: float = 0.05, width: float = 0.006) -> Geo:
    """A tuft of tapered, arching blades (3 segments each); attribute ``tip`` runs 0..1 up each blade."""
    b = int(blades or rng.integers(14, 26))
    base = np.concatenate([rng.normal(scale=spread, size=(b, 2)), np.zeros((b, 1))], 1)
    ang = rng.uniform(0, 2 * np.pi, b)
    out = np.stack([np.cos(ang), np.sin(ang), np.zeros(b)], 1)
    lean = rng.uniform(0.05, 0.55, b)
    length = height * rng.uniform(0.5, 1.25, b)
    d = out * lean[:, None] + np.array([0, 0, 1.0])
    side = np.cross(out, np.array([0, 0, 1.0]))
    return strips(base, d, length, width * rng.uniform(0.7, 1.4, b), side, segments=3,
                  droop=lean * 0.9 / np.maximum(length, 0.05), mat=0)


def flower(rng: np.random.Generator, height: float | None = None) -> Geo:
    """A flower: a thin stem with two leaves, a ring of petals and a centre (slot 0 stem, 1 petal)."""
    h = height or rng.uniform(0.25, 0.55)
    top = np.array([rng.normal(scale=0.03), rng.normal(scale=0.03), h])
    stem = tube(np.linspace([0, 0, 0.0], top, 4), np.full(4, 0.003), sides=4, mat=0)
    leaf_at = np.linspace([0, 0, 0.0], top, 4)[1:3]
    leaves = leaves_geo(rng, leaf_at, rng.normal(size=(2, 3)) + np.array([0, 0, 0.6]),
                        rng.normal(size=(2, 3)) + np.array([0, 0, 1.0]), np.full(2, 0.06), 0.3, mat=0,
                        closed=True, rib=LEAFLET_RIB)
    n_pet = int(rng.integers(5, 10))
    ang = np.linspace(0, 2 * np.pi, n_pet, endpoint=False) + rng.uniform(0, 1)
    tilt = rng.uniform(0.1, 0.6)
    axes = np.stack([np.cos(ang), np.sin(ang), np.full(n_pet, tilt)], 1)
    # petals cupped: their rims curl up around the centre
    petals = leaves_geo(rng, np.repeat(top[None], n_pet, 0), axes, np.array([0, 0, 1.0]) - axes * 0.3,
                        np.full(n_pet, rng.uniform(0.025, 0.05)), rng.uniform(0.3, 0.5), fold=0.1, droop=0.1, mat=1,
                        closed=True, cup=0.4, pointed=0.5, rib=LEAFLET_RIB)
    return concat([stem, leaves, petals, _flower_centre(top)])


def _flower_centre(top: np.ndarray) -> Geo:
    """The flower's centre: a closed button 7 mm across and 3 mm thick above the stem's top."""
    ang = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    ring = np.stack([0.007 * np.cos(ang), 0.007 * np.sin(ang), np.zeros(7)], 1)
    verts = top + np.concatenate([ring + [0, 0, 0.003], ring + [0, 0, 0.006]])
    sides = [np.array([j, (j + 1) % 7, 7 + (j + 1) % 7, 7 + j]) for j in range(7)]
    return Geo.from_faces(verts, [np.arange(7)[::-1], 7 + np.arange(7)] + sides, mat=1)


def clover(rng: np.random.Generator) -> Geo:
    """A low patch of trefoil leaves on short stalks: three heart-shaped, slightly folded
    leaflets on each."""
    n = int(rng.integers(4, 9))
    stalk_top = np.stack([rng.normal(scale=0.05, size=n), rng.normal(scale=0.05, size=n),
                          rng.uniform(0.03, 0.09, n)], 1)
    parts = [tube(np.linspace(top * [0.6, 0.6, 0.0], top, 3), np.full(3, 0.0012), sides=3, mat=0)
             for top in stalk_top]
    turn = rng.uniform(0, 2 * np.pi, n)
    for k in range(3):  # three leaflets a third of a turn apart on each stalk
        ang = turn + k * 2 * np.pi / 3
        axes = np.stack([np.cos(ang), np.sin(ang), np.full(n, 0.1)], 1)
        parts.append(leaves_geo(rng, stalk_top, axes, np.tile([0, 0, 1.0], (n, 1)), np.full(n, 0.022), 0.5,
                                fold=0.15, droop=0.05, mat=0, closed=True, cup=0.05, notch=0.12, rib=LEAFLET_RIB))
    return concat(parts)


def fern(rng: np.random.Generator, size: float = 0.8) -> Geo:
    """A fern: arching fronds from one centre, each a rachis with two rows of leaflets that
    shorten towards its tip."""
    parts = []
    n_fronds = int(rng.integers(7, 13))
    for k in range(n_fronds):
        az = 2 * np.pi * k / n_fronds + rng.normal(scale=0.25)
        el = rng.uniform(0.8, 1.3)
        length = size * rng.uniform(0.8, 1.2)
        s = np.linspace(0, 1, 10)
        h = np.array([np.cos(az), np.sin(az), 0.0])
        rise = length * (np.sin(el) * s - 0.6 * s ** 2)
        rachis = (np.cos(el) * s * length)[:, None] * h + rise[:, None] * np.array([0, 0, 1.0])
        rachis[:, 2] = np.maximum(rachis[:, 2], 0.01)
        parts.append(tube(rachis, np.linspace(0.004, 0.0015, len(s)), sides=3, mat=0))
        u = np.linspace(0.12, 0.97, 18)
        idx = np.minimum((u * (len(s) - 1)).astype(int), len(s) - 2)
        fr = u * (len(s) - 1) - idx
        at = rachis[idx] * (1 - fr[:, None]) + rachis[idx + 1] * fr[:, None]
        along = unit(rachis[idx + 1] - rachis[idx])
        side = unit(np.cross(along, np.array([0, 0, 1.0])) + 1e-6)
        up = unit(np.cross(side, along))
        for sign in (1.0, -1.0):
            d = unit(side * sign + along * 0.45)
            lens = 0.16 * size * np.sin(np.pi * (0.1 + 0.9 * u)) ** 0.7 + 0.01
            parts.append(leaves_geo(rng, at, d, up, lens, 0.22, fold=0.15, droop=0.3, mat=0, closed=True,
                                    cup=0.1, rib=LEAFLET_RIB))
    return concat(parts)


def reeds(rng: np.random.Generator, height: float = 1.6) -> Geo:
    """A clump of tall reeds: long stiff blades and a few cattail heads (slot 0 blade, 1 head)."""
    blades = grass_tuft(rng, height=height, blades=int(rng.integers(18, 32)), spread=0.12, width=0.009)
    heads = []
    for _ in range(int(rng.integers(2, 6))):
        base = np.array([rng.normal(scale=0.1), rng.normal(scale=0.1), 0.0])
        top = base + np.array([rng.normal(scale=0.06), rng.normal(scale=0.06), height * rng.uniform(0.9, 1.2)])
        heads.append(tube(np.linspace(base, top, 3), np.full(3, 0.004), sides=4, mat=0, cap=False))
        head = np.linspace(top - np.array([0, 0, 0.22]), top - np.array([0, 0, 0.02]), 4)
        heads.append(tube(head, np.array([0.012, 0.02, 0.02, 0.012]), sides=6, mat=1))
    return concat([blades] + heads)


def mushroom(rng: np.random.Generator, size: float = 0.1) -> Geo:
    """A mushroom: a stem and a domed cap with a flat underside (slot 0 stem, 1 cap)."""
    h = size * rng.uniform(0.8, 1.5)
    stem = tube(np.array([[0, 0, 0.0], [0.0, 0.0, h * 0.5], [rng.normal(scale=0.01), 0, h]]),
                np.array([0.16, 0.13, 0.12]) * size, sides=8, mat=0, cap=False)
    r = size * rng.uniform(0.35, 0.7)
    dome = rng.uniform(0.3, 0.8)
    a = np.linspace(0, np.pi / 2, 6)
    prof_r, prof_z = r * np.cos(a), h + dome * r * np.sin(a)
    ang = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    v = np.stack([prof_r[:, None] * np.cos(ang), prof_r[:, None] * np.sin(ang),
                  np.repeat(prof_z[:, None], len(ang), 1)], -1).reshape(-1, 3)
    k = len(ang)
    quads = [np.array([i * k + j, i * k + (j + 1) % k, (i + 1) * k + (j + 1) % k, (i + 1) * k + j])
             for i in range(len(a) - 1) for j in range(k)]
    under = [np.arange(k)[::-1]]
    cap = Geo.from_faces(v, quads + under, mat=1, smooth=True)
    return concat([stem, cap])
