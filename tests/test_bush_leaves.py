"""A bush's leaves grow on its twigs (no Blender): the base of every leaf of a generated bush
lies on a branch of the skeleton the bush grew from (within the branch's radius and a few
millimetres), and the leaf points away from it."""
from __future__ import annotations

import numpy as np
import pytest

from procgen.core.seeding import stream
from procgen.plants import undergrowth
from procgen.plants.skeletons import skeleton_mesh

MARGIN = 0.003  # metres beyond a branch's radius


def _components(loops: np.ndarray, sizes: np.ndarray, n: int) -> np.ndarray:
    """Label [n] of each vertex's connected component, through the faces' edges."""
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    nxt = np.arange(len(loops)) + 1
    nxt[np.cumsum(sizes) - 1] = starts  # each face corner's next corner wraps round the face
    a, b = loops, loops[nxt]
    label = np.arange(n)
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance [P, S] from points p [P, 3] to segments a-b [S, 3]."""
    d = b - a
    t = np.einsum("psk,sk->ps", p[:, None] - a[None], d) / np.maximum(np.einsum("sk,sk->s", d, d), 1e-18)
    q = a[None] + np.clip(t, 0, 1)[..., None] * d[None]
    return np.linalg.norm(p[:, None] - q, axis=2)


def _leaves(geo) -> list[np.ndarray]:
    """Vertex indices of each leaf: the components of the leaf faces (slot 1), in order."""
    corner_face = np.repeat(np.arange(len(geo.sizes)), geo.sizes)
    leaf_corners = geo.mat[corner_face] == 1
    label = _components(geo.loops[leaf_corners], geo.sizes[geo.mat == 1], geo.n_verts)
    used = np.unique(geo.loops[leaf_corners])
    _, first = np.unique(label[used], return_index=True)
    return [used[label[used] == label[used][f]] for f in np.sort(first)]


@pytest.mark.parametrize("seed", range(3))
def test_every_leaf_starts_on_a_twig(seed):
    height, attractors = 1.2, 120
    geo = undergrowth.bush(stream(seed, "bush"), height, attractors)
    sk = undergrowth.grow_bush(stream(seed, "bush"), height, attractors)  # the bush's first draws
    bark, _ = skeleton_mesh(sk, drop_below=0.0, thin_below=0.01)
    assert np.array_equal(geo.verts[:len(bark)], bark)  # the skeleton is the one the bush grew
    child = np.nonzero(sk.parent >= 0)[0]
    a, b, r = sk.pos[sk.parent[child]], sk.pos[child], sk.radius[child]
    leaves = _leaves(geo)
    assert len(leaves) > len(child) and len({len(i) for i in leaves}) == 1  # many leaves, each one body
    base = geo.verts[[idx.min() for idx in leaves]]  # a closed blade's first vertex is its base
    tip = geo.verts[[idx.min() + 1 for idx in leaves]]
    d = _segment_distance(base, a, b)
    off = (d - r[None]).min(axis=1)  # how far each base lies outside the nearest branch's surface
    print(f"seed {seed}: {len(base)} leaves, base to branch axis median {np.median(d.min(1)) * 1000:.1f} mm, "
          f"beyond the surface max {off.max() * 1000:.1f} mm")
    assert off.max() < MARGIN, f"{(off >= MARGIN).sum()} of {len(off)} leaves hang free (up to {off.max():.3f} m)"
    # leaves point away from their twig (a few at a fork may lie along the other branch) ...
    on = d.argmin(axis=1)
    from_twig = _segment_distance(tip, a[on], b[on])[np.arange(len(on)), np.arange(len(on))]
    assert np.mean(from_twig > d.min(axis=1) + 0.01) > 0.95
    # ... and on the whole outwards and up
    out = base[:, :2] / np.linalg.norm(base[:, :2], axis=1, keepdims=True)
    assert np.median(np.sum((tip - base)[:, :2] * out, axis=1)) > 0 and np.median(tip[:, 2] - base[:, 2]) > 0
