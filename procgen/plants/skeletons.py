"""Space-colonisation skeletons (bpy-free): what trees and bushes grow from, and their branch tubes.

Branch tips step towards the attraction points of a crown envelope until the points are used
up; branch radii follow the pipe model (r^2.5 of a parent = sum over its children).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.mesh_arrays import frames


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
        if kind == "bush":         # squashed hemisphere on the ground
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


def tubes(a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray, sides: int) -> tuple[np.ndarray, np.ndarray]:
    """Open tubes from a [S, 3] (radius ra [S]) to b (radius rb): vertices [S*2*sides, 3], quads."""
    d = b - a
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-12
    u, v = frames(d)
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
