"""Leaves and kelp blades are thin closed bodies, not flat cards: every edge of a tree's or a
bush's leaves and of a kelp plant's blades lies in two faces (bmesh); rays cast through a leaf
(BVHTree) find a thickness in the intended range that is greatest on the midrib, thins towards
the rim and the tip; a kelp blade's edges rise and fall along its length while its middle runs
straight. The small leaves a walking camera passes (fern leaflets, flower leaves and petals,
clover's heart-shaped leaflets, fallen leaves) are closed bodies too, their only openings the
stems' feet in the ground; each is a few tenths of a millimetre to a millimetre thick and
curved, not flat. A spruce's needles and the fallen needles are closed three-sided spikes, a
millimetre or a few thick, with as many vertices as the flat cards they replaced and the same
random draws."""
from __future__ import annotations

import bpy  # noqa: F401  (loads bmesh and mathutils)
import numpy as np
import pytest
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from procgen.core.seeding import stream
from procgen.geometry.mesh_arrays import LEAF_T, Geo, leaves_geo, strips
from procgen.plants import kelp, litter, trees, undergrowth

pytestmark = pytest.mark.blender

LEAF = 0.2  # metres: the test leaf's length


def _faces(geo: Geo, mat: int) -> list[list[int]]:
    starts = np.concatenate([[0], np.cumsum(geo.sizes)[:-1]])
    return [geo.loops[s:s + n].tolist() for s, n, m in zip(starts, geo.sizes, geo.mat) if m == mat]


def _bmesh(geo: Geo, mat: int):
    import bmesh  # only importable once bpy is

    bm = bmesh.new()
    verts = [bm.verts.new(v) for v in geo.verts]
    for f in _faces(geo, mat):
        bm.faces.new([verts[i] for i in f])
    return bm


@pytest.mark.parametrize("make", [
    lambda: trees.colonised_tree(stream(0, "leaf_test"), trees.SPECIES["broadleaf"], 8.0, 150, 0.4),
    lambda: undergrowth.bush(stream(0, "leaf_test"), 1.2, 120),
    lambda: kelp.kelp(stream(0, "leaf_test"), 5.0, stipes=3),
], ids=["broadleaf", "bush", "kelp"])
def test_every_leaf_and_blade_is_a_closed_body(make):
    bm = _bmesh(make(), 1)
    used = [e for e in bm.edges if e.link_faces]
    assert len(used) > 1000
    assert all(len(e.link_faces) == 2 for e in used)
    bm.normal_update()
    # outward facing: the body's volume from its oriented faces is positive
    assert bm.calc_volume(signed=True) > 0
    bm.free()


def _one_leaf() -> BVHTree:
    geo = leaves_geo(np.random.default_rng(3), np.zeros((1, 3)), np.array([[1.0, 0, 0]]),
                     np.array([[0, 0, 1.0]]), np.array([LEAF]), 0.42, fold=0.3, droop=0.2, closed=True)
    return BVHTree.FromPolygons([Vector(v) for v in geo.verts], _faces(geo, 1))


def _thickness(tree: BVHTree, x: float, y: float) -> float:
    """Distance between the first and the last surface a vertical ray meets at (x, y); 0 on a miss."""
    hits, origin = [], Vector((x, y, 1.0))
    while True:
        loc, _, _, _ = tree.ray_cast(origin, Vector((0, 0, -1.0)))
        if loc is None:
            break
        hits.append(loc.z)
        origin = Vector((x, y, loc.z - 1e-7))
    return hits[0] - hits[-1] if len(hits) >= 2 else 0.0


def _half_width(tree: BVHTree, x: float) -> float:
    ys = np.linspace(0.0, LEAF, 801)
    inside = [_thickness(tree, x, y) > 0 for y in ys]
    return float(ys[np.argmin(inside)])


def test_a_leaf_is_thick_on_its_midrib_and_thins_to_the_rim_and_the_tip():
    tree = _one_leaf()
    for x in (0.32 * LEAF, 0.55 * LEAF):
        w = _half_width(tree, x)
        assert 0.03 < w < 0.12, w
        across = [_thickness(tree, x, f * w) for f in (0.0, 0.1, 0.4, 0.7, 0.97)]
        rib, lamina = across[0], across[2]
        assert 0.4e-3 < rib < 2.5e-3, across          # a midrib of a millimetre or two
        assert 0.25 * rib < lamina < 0.75 * rib, across  # a ridge along the midrib, thinning to the rim
        assert all(a > b for a, b in zip(across, across[1:])), across  # thinning to the rim
        assert across[-1] < rib / 10, across
    assert _thickness(tree, 0.75 * LEAF, 0) < 0.7 * _thickness(tree, 0.3 * LEAF, 0)  # and to the tip


def test_a_kelp_blade_has_ruffled_edges_and_a_thin_body():
    n = 20
    geo = kelp.ruffled_blades(np.random.default_rng(1), np.zeros((n, 3)), np.tile([1.0, 0, 0], (n, 1)),
                              np.full(n, 0.8), np.full(n, 0.07), np.tile([0, 1.0, 0], (n, 1)), np.zeros(n))
    bm = _bmesh(geo, 1)
    assert all(len(e.link_faces) == 2 for e in bm.edges)
    bm.free()
    per = geo.n_verts // n
    v = geo.verts[:per]  # the first blade: along +x, its face up, no sag
    edge = np.abs(v[:, 1]) > 0.5 * np.abs(v[:, 1]).max()
    xs = np.linspace(0.1, 0.7, 61)
    faces = _faces(geo, 1)
    tree = BVHTree.FromPolygons([Vector(p) for p in v], faces[:len(faces) // n])
    mid = np.array([_thickness(tree, x, 0.0) for x in xs])
    assert np.all((mid > 1e-3) & (mid < 4e-3)), mid          # a few millimetres through its middle
    # the edges rise and fall by a good part of the width; the midline stays level
    assert np.ptp(v[edge, 2]) > 0.3 * 0.07, np.ptp(v[edge, 2])
    assert np.ptp(v[~edge & (np.abs(v[:, 1]) < 1e-9), 2]) < 4e-3
    left, right = v[edge & (v[:, 1] > 0)], v[edge & (v[:, 1] < 0)]
    signs = np.sign(np.diff(left[np.argsort(left[:, 0]), 2]))
    assert np.count_nonzero(np.diff(signs)) >= 2, signs      # several waves along the edge, not one tilt
    assert not np.allclose(left[np.argsort(left[:, 0]), 2], right[np.argsort(right[:, 0]), 2])


LEAF_VERTS = 2 + len(LEAF_T) * 4  # base, tip, and per section 3 upper points and 1 lower


def _bmesh_all(geo: Geo):
    import bmesh

    bm = bmesh.new()
    verts = [bm.verts.new(v) for v in geo.verts]
    for mat in np.unique(geo.mat):
        for f in _faces(geo, mat):
            bm.faces.new([verts[i] for i in f])
    bm.verts.index_update()
    bm.faces.index_update()
    return bm


def _volume(faces) -> float:
    """Signed volume enclosed by oriented faces (fans from each face's first corner)."""
    total = 0.0
    for f in faces:
        c = [np.array(v.co) for v in f.verts]
        total += sum(np.dot(c[0], np.cross(a, b)) for a, b in zip(c[1:-1], c[2:])) / 6
    return total


SMALL_LEAVES = {
    "fern": lambda rng: undergrowth.fern(rng, 0.8),
    "flower": undergrowth.flower,
    "clover": undergrowth.clover,
    "fallen_leaves": litter.fallen_leaves,
}


def _islands(bm) -> list[list]:
    """The faces of each connected piece of a bmesh."""
    seen, out = set(), []
    for f in bm.faces:
        if f.index in seen:
            continue
        stack, piece = [f], []
        seen.add(f.index)
        while stack:
            g = stack.pop()
            piece.append(g)
            for e in g.edges:
                for h in e.link_faces:
                    if h.index not in seen:
                        seen.add(h.index)
                        stack.append(h)
        out.append(piece)
    return out


def _piece_thickness(faces) -> tuple[float, float]:
    """Through one closed leaf: the thickness on its midrib at a third of its length (rays along
    the normal of its best-fit plane, BVHTree), and how far its vertices leave that plane (the
    plane's smallest singular value over its largest: 0 for a flat card)."""
    verts = {v.index: v.co.copy() for f in faces for v in f.verts}
    keys = sorted(verts)
    p = np.array([verts[k] for k in keys])
    centred = p - p.mean(0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    remap = {k: i for i, k in enumerate(keys)}
    tree = BVHTree.FromPolygons([Vector(v) for v in p], [[remap[v.index] for v in f.verts] for f in faces])
    base, tip = p[0], p[1]  # blades put each leaf's base and tip first
    at = Vector(base + (tip - base) / 3)
    normal = Vector(vt[2])
    hits = []
    for sign in (1, -1):
        loc, _, _, _ = tree.ray_cast(at + sign * normal * 0.05, -sign * normal)
        hits.append(loc)
    return (hits[0] - hits[1]).length if None not in hits else 0.0, sv[2] / sv[0]


@pytest.mark.parametrize("name", sorted(SMALL_LEAVES))
def test_small_leaves_are_closed_curved_thin_bodies(name):
    geo = SMALL_LEAVES[name](stream(0, "leaf_test"))
    bm = _bmesh_all(geo)
    open_edges = [e for e in bm.edges if len(e.link_faces) != 2]
    # the only openings: a stem's or a stalk's foot, on the ground
    assert all(len(e.link_faces) == 1 and max(v.co.z for v in e.verts) < 0.02 for e in open_edges)
    leaves = [piece for piece in _islands(bm) if len({v for f in piece for v in f.verts}) == LEAF_VERTS]
    assert len(leaves) >= {"fern": 200, "flower": 7, "clover": 12, "fallen_leaves": 6}[name], len(leaves)
    measured = np.array([_piece_thickness(piece) for piece in leaves])
    thick, curved = measured[:, 0], measured[:, 1]
    assert np.all((thick > 5e-5) & (thick < 3e-3)), (thick.min(), thick.max())
    assert np.median(curved) > 0.02, np.median(curved)  # bent across or along, not a flat card
    bm.normal_update()
    assert all(_volume(piece) > 0 for piece in leaves[:50])  # faces outward
    bm.free()


def _as_strips(starts, dirs, lengths, widths, thickness, sides, mat=1):
    """The flat cards the needles were before: one quad of four vertices each."""
    return strips(starts, dirs, lengths, widths, sides, segments=1, mat=mat)


NEEDLES = {
    "spruce": (lambda rng: trees.conifer(rng, 12.0, 1.0), trees, 1),
    "needle_litter": (litter.needle_litter, litter, 0),
}


@pytest.mark.parametrize("name", sorted(NEEDLES))
def test_needles_are_closed_three_sided_spikes_as_light_as_the_cards(name, monkeypatch):
    make, module, mat = NEEDLES[name]
    geo = make(stream(0, "leaf_test"))
    bm = _bmesh(geo, mat)
    used = [e for e in bm.edges if e.link_faces]
    assert all(len(e.link_faces) == 2 for e in used)  # closed: no open edge anywhere
    bm.verts.index_update()
    bm.faces.index_update()
    needles = _islands(bm)
    assert len(needles) > {"spruce": 20000, "needle_litter": 50}[name], len(needles)
    assert all(len(piece) == 4 and len({v for f in piece for v in f.verts}) == 4 for piece in needles)
    assert all(_volume(piece) > 0 for piece in needles[::max(1, len(needles) // 500)])  # faces outward
    gaps = np.array([_spike_thickness(geo, piece) for piece in needles[::max(1, len(needles) // 200)]])
    assert np.all((gaps > 5e-4) & (gaps < 5e-3)), (gaps.min(), gaps.max())
    bm.free()
    # The same random draws as the flat cards: bark identical, each needle on its card's axis, and
    # exactly as many vertices (four a needle) as the cards had.
    monkeypatch.setattr(module, "spikes", _as_strips)
    cards = make(stream(0, "leaf_test"))
    assert cards.n_verts == geo.n_verts and np.sum(cards.mat == mat) * 4 == np.sum(geo.mat == mat)
    spiky, flat = geo.mat == mat, cards.mat == mat
    assert np.array_equal(geo.verts[_face_verts(geo, ~spiky)], cards.verts[_face_verts(cards, ~flat)])
    card_axis = cards.verts[_face_verts(cards, flat)].reshape(-1, 4, 3)[:, :2].mean(1)
    spike_axis = geo.verts[_face_verts(geo, spiky)].reshape(-1, 4, 3)[:, :3].mean(1)
    assert np.allclose(card_axis, spike_axis, atol=1e-9)


def _face_verts(geo: Geo, keep: np.ndarray) -> np.ndarray:
    """The vertices the kept faces use, in order of first use."""
    starts = np.concatenate([[0], np.cumsum(geo.sizes)[:-1]])
    idx = np.concatenate([np.zeros(0, int)] + [geo.loops[s:s + n] for s, n, k in zip(starts, geo.sizes, keep) if k])
    return idx[np.sort(np.unique(idx, return_index=True)[1])]


def _spike_thickness(geo: Geo, faces) -> float:
    """Rays cast both ways along the thinnest direction of one needle (its vertices' smallest
    singular vector), through the point a third of the way from its base's centre to its tip."""
    verts = sorted({v.index for f in faces for v in f.verts})
    p = geo.verts[verts]
    tip = geo.attrs["tip"][verts]
    _, _, vt = np.linalg.svd(p - p.mean(0), full_matrices=False)
    remap = {k: i for i, k in enumerate(verts)}
    tree = BVHTree.FromPolygons([Vector(v) for v in p], [[remap[v.index] for v in f.verts] for f in faces])
    base = p[tip < 0.5].mean(0)
    at = Vector(base + (p[tip > 0.5][0] - base) / 3)
    normal = Vector(vt[2])
    hits = [tree.ray_cast(at + sign * normal * 0.05, -sign * normal)[0] for sign in (1, -1)]
    return (hits[0] - hits[1]).length if None not in hits else 0.0
