"""Bark at arm's length: the bpy-free relief formula has the size of real bark (furrows about a
centimetre deep a hand's width apart all round a trunk; birch smooth with short lenticels
across it), and the bark material's bump follows it, read back from a Cycles render."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.core.seeding import stream
from procgen.materials import plant_matter
from procgen.materials.bark_relief import STYLES, draw_relief, relief_height
from tests.helpers import render_height

pytestmark = pytest.mark.blender


def _ring(r, radius: float, z: float, n: int = 4000):
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return relief_height(r, radius * np.cos(th), radius * np.sin(th), np.full(n, z))


def _gaps(h: np.ndarray, below: float, step: float) -> np.ndarray:
    """Distances between the starts of successive runs of ``h`` < ``below`` round a ring."""
    inside = h < below
    starts = np.flatnonzero(inside & ~np.roll(inside, 1))
    return np.diff(np.r_[starts, starts[0] + len(h)]) * step


@pytest.mark.parametrize("seed", range(6))
def test_furrows_are_a_centimetre_deep_and_a_hand_width_apart_all_round(seed):
    r = draw_relief("bark", stream(seed, "bark"))
    for radius in (0.1, 0.3):  # a young and an old trunk
        for z in (0.5, 1.3, 2.1):
            h = _ring(r, radius, z)
            assert 0.005 < r.depth < 0.015 and np.ptp(h) > 0.95 * r.depth
            furrowed = h < 0.25 * r.depth
            gaps = _gaps(h, 0.25 * r.depth, 2 * np.pi * radius / len(h))
            # furrows 3-9 cm apart on average, on every side of the trunk (the sets fill in
            # where one thins out), taking a third to a half of the bark
            assert 0.03 < np.mean(gaps) < 0.09 and gaps.max() < 0.25, gaps
            assert 0.25 < furrowed.mean() < 0.65


def test_birch_is_smooth_with_short_lenticels_across_the_trunk():
    bark, birch = draw_relief("bark", stream(1, "bark")), draw_relief("birch", stream(1, "bark"))
    assert birch.depth < bark.depth / 3
    xs, zs = np.meshgrid(np.linspace(-0.3, 0.3, 600), np.linspace(0, 1, 1000))  # 1 mm pixels
    grooved = relief_height(birch, xs, 0.2, zs) < 0.5 * birch.depth
    assert 0.01 < grooved.mean() < 0.15  # the lenticels, not a striped trunk
    assert grooved.any(axis=0).mean() > 0.8  # most lines up the trunk meet some within a metre

    def run(mask):  # mean length (pixels) of the runs of True along the last axis
        return mask.sum() / max(1, (mask[..., 1:] & ~mask[..., :-1]).sum() + mask[..., 0].sum())
    across, up = run(grooved), run(grooved.T)
    assert across > 4 * up and 10 < across < 120, (across, up)  # dashes across the trunk, 1-12 cm


def test_every_style_is_the_same_for_the_same_seed():
    for style in STYLES:
        a, b = draw_relief(style, stream(3, "bark")), draw_relief(style, stream(3, "bark"))
        assert a == b and a != draw_relief(style, stream(4, "bark"))


def test_the_relief_leaves_the_streams_draws_alone():
    rng = stream(2, "bark")
    plant_matter.bark_material("b", rng, "bark")
    ref = stream(2, "bark")
    ref.uniform(size=3 + 6)  # the texture's stretch and the two jittered colours
    assert rng.uniform() == ref.uniform()


@pytest.mark.parametrize("style", ["bark", "birch"])
def test_the_materials_bump_is_the_formula(tmp_path, style):
    """The material's relief node, emitted on a plane seen square on: each pixel against
    ``relief_height`` at its centre; the bump drives the BSDF's normal at true scale."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mat = plant_matter.bark_material("bark", stream(7, "test_bark"), style)
    bump = next(n for n in mat.node_tree.nodes if n.type == "BUMP")
    assert bump.outputs["Normal"].is_linked and bump.inputs["Distance"].default_value == 1.0
    relief = draw_relief(style, stream(7, "test_bark").spawn(1)[0])
    side, px = 0.5, 64
    # a vertical plane at y = 3 seen along +y through (0.4, 3, 1.2): columns along +x
    height = next(n for n in mat.node_tree.nodes if n.label == "bark_relief").outputs[0]
    got = render_height(tmp_path, mat, height, relief.depth, [(-2, 3, -1), (3, 3, -1), (3, 3, 4), (-2, 3, 4)],
                        side, px, at=(0.4, -2.0, 1.2), turn=(np.pi / 2, 0.0, 0.0))
    k = (np.arange(px) + 0.5) * side / px - side / 2
    x, z = np.meshgrid(0.4 + k, 1.2 - k)
    want = relief_height(relief, x, 3.0, z)
    err = np.abs(got - want)
    assert np.ptp(want) > 0.5 * relief.depth
    assert np.median(err) < 0.01 * relief.depth and np.quantile(err, 0.99) < 0.1 * relief.depth, err.max()
