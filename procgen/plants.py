"""Trees, bushes, grass tufts, flowers and ground cover as numpy meshes.

Trees and bushes grow by space colonisation: branch tips step towards the
attraction points of a crown envelope until the points are used up; branch radii
follow the pipe model (r^2.5 of a parent = sum over its children). The skeleton
becomes one tube mesh plus leaf cards at the twig ends, in one object with two
material slots (0 = bark, 1 = leaf). Every asset has its origin at its base.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .meshutil import mesh_from_arrays

TREE_KINDS = ("broadleaf", "conifer")


@dataclass
class Skeleton:
    pos: np.ndarray      # [N, 3] node positions
    parent: np.ndarray   # [N] parent index, -1 for the root
    radius: np.ndarray   # [N] branch radius at the node


def crown_points(rng, kind: str, n: int, height: float, crown_base: float, width: float) -> np.ndarray:
    """Attraction points [n, 3] filling the crown envelope of ``kind``."""
    pts = []
    need = n
    while need > 0:
        p = rng.uniform(-1, 1, size=(need * 3, 3))
        if kind == "conifer":      # cone: radius shrinks linearly to the top
            t = (p[:, 2] + 1) / 2
            ok = np.hypot(p[:, 0], p[:, 1]) < (1 - t) ** 1.1
            q = np.stack([p[:, 0] * width, p[:, 1] * width, crown_base + t * (height - crown_base)], 1)
        elif kind == "bush":       # squashed hemisphere on the ground
            ok = (np.linalg.norm(p, axis=1) < 1) & (p[:, 2] > -0.1)
            q = np.stack([p[:, 0] * width, p[:, 1] * width, 0.1 + np.abs(p[:, 2]) * height], 1)
        else:                      # broadleaf: lumpy ellipsoid on the trunk
            r = np.linalg.norm(p, axis=1)
            ok = r < 1
            half = (height - crown_base) / 2
            q = np.stack([p[:, 0] * width, p[:, 1] * width, crown_base + half + p[:, 2] * half], 1)
        pts.append(q[ok][:need])
        need -= len(pts[-1])
    return np.concatenate(pts)[:n]


def colonise(rng, attractors: np.ndarray, start: np.ndarray, parents: np.ndarray, step: float,
             influence: float, kill: float, tropism: np.ndarray, max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Grow from the initial nodes ``start`` [S, 3] (with ``parents`` [S]) towards
    ``attractors`` [M, 3]; returns all node positions [N, 3] and parents [N]."""
    pos = [p for p in start]
    par = list(parents)
    a = attractors.copy()
    d = np.linalg.norm(a[:, None, :] - np.asarray(start)[None], axis=2)  # [M, S]
    near_d, near_i = d.min(axis=1), d.argmin(axis=1)
    alive = near_d > kill
    a, near_d, near_i = a[alive], near_d[alive], near_i[alive]
    for _ in range(max_iter):
        if len(a) == 0:
            break
        act = near_d < influence
        if not act.any():
            break
        nodes = np.asarray(pos)
        dirs = a[act] - nodes[near_i[act]]
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True) + 1e-12
        acc = np.zeros((len(nodes), 3))
        np.add.at(acc, near_i[act], dirs)
        grow = np.nonzero(np.abs(acc).sum(axis=1) > 0)[0]
        g = acc[grow] / (np.linalg.norm(acc[grow], axis=1, keepdims=True) + 1e-12) + tropism
        g += rng.normal(scale=0.08, size=g.shape)
        g /= np.linalg.norm(g, axis=1, keepdims=True) + 1e-12
        new = nodes[grow] + step * g
        # A tip pulled equally from both sides would step back onto itself; drop repeats.
        if len(nodes) > len(new):
            dd = np.linalg.norm(new[:, None, :] - nodes[None, -4 * len(new):, :], axis=2).min(axis=1)
            keep = dd > 0.3 * step
            new, grow = new[keep], grow[keep]
        if len(new) == 0:
            break
        base = len(pos)
        pos.extend(new)
        par.extend(grow.tolist())
        dn = np.linalg.norm(a[:, None, :] - new[None], axis=2)  # [M, G]
        closer = dn.min(axis=1) < near_d
        near_i = np.where(closer, base + dn.argmin(axis=1), near_i)
        near_d = np.minimum(near_d, dn.min(axis=1))
        alive = near_d > kill
        a, near_d, near_i = a[alive], near_d[alive], near_i[alive]
    return np.asarray(pos), np.asarray(par, dtype=np.int64)


def pipe_radii(parent: np.ndarray, tip_radius: float, exponent: float = 2.5) -> np.ndarray:
    """Radius per node: tips get ``tip_radius``; a parent's r^e is the sum of its children's."""
    n = len(parent)
    acc = np.zeros(n)
    r = np.zeros(n)
    for i in range(n - 1, -1, -1):  # children always come after their parent
        r[i] = tip_radius if acc[i] == 0 else acc[i] ** (1.0 / exponent)
        if parent[i] >= 0:
            acc[parent[i]] += r[i] ** exponent
    return r


def grow_tree(rng: np.random.Generator, kind: str = "broadleaf", height: float = 8.0,
              attractors: int = 500, step: float = 0.25) -> Skeleton:
    """A tree (or, with ``kind="bush"``, a bush) skeleton grown by space colonisation."""
    if kind == "bush":
        width = height * rng.uniform(0.8, 1.2)
        pts = crown_points(rng, "bush", attractors, height, 0.0, width)
        shoots = int(rng.integers(3, 6))
        start = [np.zeros(3)] + [np.array([0, 0, 0.0]) + np.r_[rng.normal(scale=0.05, size=2), 0.05 * (k + 1)]
                                 for k in range(shoots)]
        parents = [-1] + [0] * shoots
        pos, par = colonise(rng, pts, np.array(start), np.array(parents), step, influence=height * 0.9,
                            kill=step * 1.6, tropism=np.array([0, 0, 0.15]))
        return Skeleton(pos, par, pipe_radii(par, 0.006 * height, 2.3))
    if kind == "conifer":
        crown_base = height * rng.uniform(0.15, 0.3)
        width = height * rng.uniform(0.22, 0.3)
    else:
        crown_base = height * rng.uniform(0.3, 0.45)
        width = height * rng.uniform(0.3, 0.45)
    pts = crown_points(rng, kind, attractors, height, crown_base, width)
    # The trunk: a gently leaning chain up to the crown base (conifers: most of the way up).
    trunk_top = crown_base if kind == "broadleaf" else crown_base + 0.6 * (height - crown_base)
    k = max(2, int(trunk_top / step))
    lean = rng.normal(scale=0.03, size=2)
    z = np.linspace(0, trunk_top, k + 1)
    trunk = np.stack([lean[0] * z + 0.05 * np.sin(z * 1.3 + rng.uniform(0, 6)),
                      lean[1] * z + 0.05 * np.sin(z * 1.1 + rng.uniform(0, 6)), z], axis=1)
    parents = np.arange(-1, k)
    tropism = np.array([0, 0, 0.25 if kind == "conifer" else 0.1])
    # Conifers grow near-horizontal whorls: a larger step and a smaller influence radius.
    pos, par = colonise(rng, pts, trunk, parents, step, influence=width * 1.1, kill=step * 1.8,
                        tropism=tropism)
    tip = 0.0025 * height if kind == "broadleaf" else 0.002 * height
    return Skeleton(pos, par, pipe_radii(par, tip, 2.5 if kind == "broadleaf" else 2.2))


def _frames(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to each direction d [S, 3] and to each other."""
    ref = np.where(np.abs(d[:, 2:3]) < 0.9, np.array([[0, 0, 1.0]]), np.array([[1.0, 0, 0]]))
    u = np.cross(d, ref)
    u /= np.linalg.norm(u, axis=1, keepdims=True) + 1e-12
    v = np.cross(d, u)
    return u, v


def tubes(a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray, sides: int) -> tuple[np.ndarray, np.ndarray]:
    """Open tubes from a [S, 3] (radius ra [S]) to b (radius rb): vertices [S*2*sides, 3], quads."""
    d = b - a
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-12
    u, v = _frames(d)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.cos(ang)[None, :, None] * u[:, None, :] + np.sin(ang)[None, :, None] * v[:, None, :]  # [S, k, 3]
    va = a[:, None, :] + ring * ra[:, None, None]
    vb = b[:, None, :] + ring * rb[:, None, None]
    verts = np.concatenate([va, vb], axis=1).reshape(-1, 3)  # per segment: k start then k end verts
    s = np.arange(len(a))[:, None] * 2 * sides
    j = np.arange(sides)[None, :]
    jn = (j + 1) % sides
    quads = np.stack([s + j, s + jn, s + sides + jn, s + sides + j], axis=-1).reshape(-1, 4)
    return verts, quads


def skeleton_mesh(sk: Skeleton, thick_sides: int = 8, thin_sides: int = 4,
                  thin_below: float = 0.04, drop_below: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Branch tube geometry of a skeleton: vertices [V, 3] and quads [F, 4]."""
    child = np.nonzero(sk.parent >= 0)[0]
    child = child[sk.radius[child] >= drop_below]
    p = sk.parent[child]
    # End radius: that of the thickest child, so the main axes taper without steps.
    end_r = np.full(len(sk.pos), np.nan)
    order = np.argsort(sk.radius[child])
    end_r[p[order]] = sk.radius[child][order]
    rb = np.where(np.isnan(end_r[child]), sk.radius[child] * 0.7, end_r[child])
    ra = sk.radius[child]
    verts, faces, n = [], [], 0
    for sel, sides in ((ra >= thin_below, thick_sides), (ra < thin_below, thin_sides)):
        if not sel.any():
            continue
        v, f = tubes(sk.pos[p[sel]], sk.pos[child[sel]], ra[sel], rb[sel], sides)
        verts.append(v)
        faces.append(f + n)
        n += len(v)
    return np.concatenate(verts), np.concatenate(faces)


def leaf_cards(rng, centres: np.ndarray, size: float, spread: float, per_centre: int,
               up_bias: float = 0.6, aspect: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Leaf quads scattered around ``centres`` [C, 3]: vertices [4*L, 3], quads [L, 4].
    Each card is a diamond with a random, mostly upward-facing normal."""
    c = np.repeat(centres, per_centre, axis=0) + rng.normal(scale=spread, size=(len(centres) * per_centre, 3))
    L = len(c)
    nrm = rng.normal(size=(L, 3)) + np.array([0, 0, up_bias * 2])
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    u, v = _frames(nrm)
    s = size * rng.uniform(0.7, 1.3, size=(L, 1))
    verts = np.stack([c - u * s, c - v * s * aspect, c + u * s, c + v * s * aspect], axis=1).reshape(-1, 3)
    quads = np.arange(4 * L).reshape(L, 4)
    return verts, quads


def tree_geometry(rng: np.random.Generator, kind: str = "broadleaf", height: float = 8.0,
                  attractors: int = 500, step: float = 0.25, leaves_per_tip: int = 3):
    """Vertices, faces and per-face material index (0 bark, 1 leaf) of one tree or bush."""
    sk = grow_tree(rng, kind, height, attractors, step)
    bv, bf = skeleton_mesh(sk, drop_below=0.0, thin_below=0.03 * height / 8)
    is_parent = np.zeros(len(sk.pos), bool)
    is_parent[sk.parent[sk.parent >= 0]] = True
    twig = ~is_parent | (sk.radius < sk.radius.min() * 1.5)
    twig[0] = False
    if kind == "conifer":
        # Dense, narrow needle sprays so the cone reads as one dark mass.
        lv, lf = leaf_cards(rng, sk.pos[twig], size=0.17 * height / 8, spread=0.26 * height / 8,
                            per_centre=leaves_per_tip + 5, up_bias=0.2, aspect=0.3)
    else:
        scale = height / 8 if kind != "bush" else 0.5
        lv, lf = leaf_cards(rng, sk.pos[twig], size=0.23 * scale, spread=0.27 * scale,
                            per_centre=leaves_per_tip, up_bias=0.6, aspect=0.6)
    lv[:, 2] = np.maximum(lv[:, 2], 0.02)
    verts = np.concatenate([bv, lv])
    faces = np.concatenate([bf, lf + len(bv)])
    mat = np.concatenate([np.zeros(len(bf), np.int32), np.ones(len(lf), np.int32)])
    return verts, faces, mat


def grass_geometry(rng: np.random.Generator, blades: int | None = None, height: float = 0.35):
    """A grass tuft: tapered, bent blades of 3 quads each. vertices [8*B, 3], quads [3*B, 4]."""
    B = int(blades or rng.integers(14, 30))
    levels = 4
    base = rng.normal(scale=0.04, size=(B, 2))
    h = height * rng.uniform(0.5, 1.2, B)
    ang = rng.uniform(0, 2 * np.pi, B)
    lean = rng.uniform(0.1, 0.6, B)
    t = np.linspace(0, 1, levels)  # [L]
    dirx, diry = np.cos(ang), np.sin(ang)
    bend = (lean[:, None] * t[None, :] ** 2) * h[:, None]          # [B, L]
    cx = base[:, :1] + dirx[:, None] * bend
    cy = base[:, 1:] + diry[:, None] * bend
    cz = h[:, None] * t[None, :] * (1 - 0.25 * lean[:, None] * t[None, :])
    w = 0.018 * (1 - t[None, :]) + 0.001                             # taper to a point
    px, py = -diry[:, None] * w, dirx[:, None] * w                   # across the blade
    left = np.stack([cx - px, cy - py, cz], -1)
    right = np.stack([cx + px, cy + py, cz], -1)
    verts = np.stack([left, right], axis=2).reshape(-1, 3)           # [B*L*2, 3]
    b = np.arange(B)[:, None] * levels * 2
    l = np.arange(levels - 1)[None, :] * 2
    quads = np.stack([b + l, b + l + 1, b + l + 3, b + l + 2], -1).reshape(-1, 4)
    return verts, quads


def flower_geometry(rng: np.random.Generator, height: float | None = None):
    """A flower: a thin stem, a ring of petals and a centre; material 0 stem, 1 petal."""
    h = height or rng.uniform(0.25, 0.5)
    sv, sf = tubes(np.array([[0, 0, 0.0]]), np.array([[rng.normal(scale=0.03), rng.normal(scale=0.03), h]]),
                   np.array([0.004]), np.array([0.003]), 4)
    top = sv[4:].mean(axis=0)
    n_pet = int(rng.integers(5, 9))
    ang = np.linspace(0, 2 * np.pi, n_pet, endpoint=False) + rng.uniform(0, 1)
    length, width, tilt = rng.uniform(0.03, 0.06), rng.uniform(0.012, 0.025), rng.uniform(0.1, 0.5)
    d = np.stack([np.cos(ang), np.sin(ang), np.full(n_pet, tilt)], 1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    side = np.stack([-np.sin(ang), np.cos(ang), np.zeros(n_pet)], 1)
    pv = np.stack([top + 0 * d, top + 0.5 * length * d - width * side, top + length * d,
                   top + 0.5 * length * d + width * side], 1).reshape(-1, 3)
    pf = np.arange(4 * n_pet).reshape(-1, 4)
    cang = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    cv = top + np.stack([0.008 * np.cos(cang), 0.008 * np.sin(cang), np.full(6, 0.004)], 1)
    verts = np.concatenate([sv, pv, cv])
    faces = [*sf, *(pf + len(sv)), np.arange(6) + len(sv) + len(pv)]
    mat = np.array([0] * len(sf) + [1] * (len(pf) + 1), np.int32)
    return verts, faces, mat


def ground_cover_geometry(rng: np.random.Generator):
    """A low leafy cluster (clover, seedlings): leaf cards close to the ground."""
    n = int(rng.integers(3, 7))
    centres = np.stack([rng.normal(scale=0.08, size=n), rng.normal(scale=0.08, size=n),
                        rng.uniform(0.03, 0.1, n)], 1)
    v, f = leaf_cards(rng, centres, size=0.045, spread=0.04, per_centre=4, up_bias=1.5, aspect=0.7)
    v[:, 2] = np.maximum(v[:, 2], 0.005)
    return v, f


# --- Blender meshes -----------------------------------------------------------------

def make_tree_mesh(name: str, rng, kind: str, height: float, attractors: int, step: float,
                   leaves_per_tip: int, bark=None, leaf=None):
    v, f, m = tree_geometry(rng, kind, height, attractors, step, leaves_per_tip)
    me = mesh_from_arrays(name, v, f, smooth=True, material_indices=m)
    for mat in (bark, leaf):
        if mat is not None:
            me.materials.append(mat)
    return me


def make_grass_mesh(name: str, rng, material=None):
    v, f = grass_geometry(rng)
    me = mesh_from_arrays(name, v, f)
    if material is not None:
        me.materials.append(material)
    return me


def make_flower_mesh(name: str, rng, stem=None, petal=None):
    v, f, m = flower_geometry(rng)
    me = mesh_from_arrays(name, v, f, material_indices=m)
    for mat in (stem, petal):
        if mat is not None:
            me.materials.append(mat)
    return me


def make_ground_cover_mesh(name: str, rng, material=None):
    v, f = ground_cover_geometry(rng)
    me = mesh_from_arrays(name, v, f)
    if material is not None:
        me.materials.append(material)
    return me
