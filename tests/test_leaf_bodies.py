"""Leaves and kelp blades are thin closed bodies, not flat cards: every edge of a tree's or a
bush's leaves and of a kelp plant's blades lies in two faces (bmesh); rays cast through a leaf
(BVHTree) find a thickness in the intended range that is greatest on the midrib, thins towards
the rim and the tip; a kelp blade's edges rise and fall along its length while its middle runs
straight."""
from __future__ import annotations

import bpy  # noqa: F401  (loads bmesh and mathutils)
import numpy as np
import pytest
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from procgen.core.seeding import stream
from procgen.geometry.mesh_arrays import Geo, leaves_geo
from procgen.plants import kelp, trees, undergrowth

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
