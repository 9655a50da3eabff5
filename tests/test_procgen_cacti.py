"""Cacti with form (no Blender): saguaro arms leave the trunk, bend and grow upwards beside it;
barrels and prickly pears (flat pads, each grown from another's rim) come with the seed; ribs
are ridges with grooves between them, and the ``rib`` attribute marks their crests."""
from __future__ import annotations

import numpy as np
import pytest

from procgen.core.seeding import stream
from procgen.plants import cacti


@pytest.mark.parametrize("seed", range(6))
def test_an_arm_turns_upwards_beside_the_trunk(seed):
    rng = stream(seed, "arm")
    base, radius, rise = np.array([0.1, -0.2, 1.3]), 0.1, 0.8
    v = cacti.arm(base, 0.7, radius, rise, 12, rng).verts
    out = np.array([np.cos(0.7), np.sin(0.7)])
    assert v[:, 2].max() - base[2] > rise  # it ends higher than it starts by its rise
    # its upper half is a vertical column: slices through it stay centred on one spot
    top = v[v[:, 2] > base[2] + 0.5 * (v[:, 2].max() - base[2])]
    slices = np.array_split(top[np.argsort(top[:, 2])], 6)
    centres = np.array([s[:, :2].mean(axis=0) for s in slices[:-1]])  # (the domed tip aside)
    assert np.ptp(centres, axis=0).max() < 0.5 * radius
    # beside the trunk, out along its azimuth, not inside it
    reach = (centres - base[:2]) @ out
    assert np.all(reach > 2.5 * radius)
    # and low down it runs sideways: the lowest slice of the arm lies near the trunk's axis
    low = v[v[:, 2] < base[2] + radius]
    assert ((low[:, :2] - base[:2]) @ out).min() < radius


def test_saguaros_have_arms_and_domed_tops():
    armed = 0
    for seed in range(12):
        g = cacti.saguaro(stream(seed, "saguaro"), 3.0)
        v = g.verts
        far = np.hypot(v[:, 0], v[:, 1]) > 0.4  # well beyond the trunk (radius below 0.2 m)
        armed += bool(far.any()) and v[far, 2].max() > 1.2
        top = v[v[:, 2] > 2.9]  # the trunk's top 10 cm narrows like a dome, not a flat cut
        assert np.hypot(top[:, 0] - top[:, 0].mean(), top[:, 1] - top[:, 1].mean()).max() < 0.2
    assert armed >= 6


def test_ribs_are_ridges_marked_by_the_attribute():
    path = np.stack([np.zeros(5), np.zeros(5), np.linspace(0, 1, 5)], 1)
    g = cacti.ribbed(path, np.full(5, 0.2), 14)
    ring = g.verts[:28]
    r = np.hypot(ring[:, 0], ring[:, 1])
    crest = g.attrs["rib"][:28] == 1
    assert crest.sum() == 14
    assert np.allclose(r[crest], 0.2) and np.allclose(r[~crest], 0.2 * cacti.GROOVE)
    # around the ring crests and grooves alternate: 14 local maxima of the radius
    assert np.sum((r > np.roll(r, 1)) & (r > np.roll(r, -1))) == 14


def test_prickly_pear_pads_are_flat_and_grow_from_each_other():
    rng = stream(0, "pear")
    n = cacti.pad(np.zeros(3), 0.0, 0.2, 0.0, 0.3)[0].n_verts
    g = cacti.prickly_pear(rng, 1.2)
    pads = g.verts.reshape(-1, n, 3)
    assert len(pads) >= 4
    for k, p in enumerate(pads):
        extent = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
        assert extent[2] < 0.2 * extent[0]  # flat: thin against its length
        foot = p[0]  # every vertex of its first ring sits at its foot
        others = np.concatenate([q for j, q in enumerate(pads) if j != k])
        on_ground = abs(foot[2]) < 1e-9
        on_pad = np.linalg.norm(others - foot, axis=1).min() < 0.02
        assert on_ground or on_pad, f"pad {k} floats"
    assert np.all(g.attrs["rib"] == 1.0)  # areoles all over a pad


def test_the_seed_picks_the_form():
    forms = set()
    for seed in range(30):
        g = cacti.cactus(stream(seed, "cactus"), 3.0)
        again = cacti.cactus(stream(seed, "cactus"), 3.0)
        assert np.array_equal(g.verts, again.verts)
        top = g.verts[:, 2].max()
        forms.add("pear" if np.all(g.attrs["rib"] == 1) else "saguaro" if top > 2.0 else "barrel")
    assert forms == {"pear", "saguaro", "barrel"}
