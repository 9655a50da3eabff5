"""The desert's wind ripples: the bpy-free formula has the size of real ripples (10-30 cm apart,
a few cm high, crests across the wind with a steep lee side, broken, gone on slip faces), and
the terrain material's bump follows it, read back from a Cycles render of the bump's height."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.core.seeding import stream
from procgen.materials import surfaces
from procgen.terrain.ripples import draw_ripples, ripple_height
from tests.helpers import render_height

pytestmark = pytest.mark.blender

SLIP_FACE = 1.0 - np.cos(np.radians(31.0))  # the dunes' talus angle as a slope (1 - normal.z)


def _ripples(seed: int):
    a = stream(seed, "test_wind").uniform(0, 2 * np.pi)
    return draw_ripples((np.cos(a), np.sin(a)), stream(seed, "ripples"))


@pytest.mark.parametrize("seed", range(8))
def test_ripples_are_centimetres_high_and_a_hand_apart(seed):
    r = _ripples(seed)
    w = np.array(r.wind)
    s = np.arange(0, 40.0, 0.002)  # a 40 m line along the wind, 2 mm steps
    h = ripple_height(r, 3.0 + s * w[0], -5.0 + s * w[1])
    crest = (h[1:-1] > h[:-2]) & (h[1:-1] >= h[2:]) & (h[1:-1] > 0.3 * h.max())
    wavelength = np.median(np.diff(s[1:-1][crest]))  # a broken crest now and then: a double gap
    assert 0.10 <= wavelength <= 0.30, wavelength
    assert 0.01 <= h.max() - h.min() <= 0.05  # trough to crest
    # the lee side (falling along the wind) is steeper than the windward side
    grad = np.diff(h) / 0.002
    assert np.quantile(-grad, 0.98) > 1.8 * np.quantile(grad, 0.98)


def test_crests_run_across_the_wind_and_break():
    r = _ripples(3)
    c = np.arange(-4.0, 4.0, 0.01)
    x, y = np.meshgrid(c, c)
    h = ripple_height(r, x, y)
    gy, gx = np.gradient(h, 0.01)
    steep = np.hypot(gx, gy) > 0.05
    along = np.abs(gx * r.wind[0] + gy * r.wind[1])[steep] / np.hypot(gx, gy)[steep]
    assert np.median(along) > 0.9  # height changes along the wind: crests lie across it
    # crests curve: their local direction is not one straight line everywhere
    assert np.quantile(along, 0.2) < 0.985
    # and break off: parts of the sand lie smooth between well-formed stretches
    broken = np.mean(ripple_height(r, x, y) == 0.0)
    assert 0.05 < broken < 0.5, broken


def test_ripples_fade_on_steep_sand():
    r = _ripples(1)
    c = np.arange(-2.0, 2.0, 0.013)
    x, y = np.meshgrid(c, c)
    assert np.ptp(ripple_height(r, x, y, 0.0)) > 0.01
    assert np.ptp(ripple_height(r, x, y, 0.5 * SLIP_FACE)) > 0.0
    assert np.all(ripple_height(r, x, y, SLIP_FACE) == 0.0)


def test_the_desert_has_ripples_across_its_dune_wind():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="desert"))
    rip = info["terrain"]["ripples"]
    assert 0.1 <= rip["wavelength"] <= 0.3 and 0.01 <= rip["height"] <= 0.05
    mat = bpy.data.objects["terrain"].active_material
    assert any(n.type == "BUMP" and n.outputs["Normal"].is_linked for n in mat.node_tree.nodes)


def test_the_materials_bump_is_the_formula(tmp_path):
    """A flat plane far from the origin, shaded with the terrain material, rendered from above
    with the bump's height emitted: each pixel against ``ripple_height`` at its centre."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    r = _ripples(5)
    mat = surfaces.make_terrain_material("sand", surfaces.TerrainShading(base="sand", ripples=r),
                                         stream(0, "test_material"))
    bump = next(n for n in mat.node_tree.nodes if n.type == "BUMP")
    cx, cy, side, px = 37.0, -12.0, 1.6, 64
    corners = [(cx - 2, cy - 2, 0), (cx + 2, cy - 2, 0), (cx + 2, cy + 2, 0), (cx - 2, cy + 2, 0)]
    got = render_height(tmp_path, mat, bump.inputs["Height"].links[0].from_socket, r.height, corners, side, px,
                        at=(cx, cy, 5.0))
    k = (np.arange(px) + 0.5) * side / px - side / 2
    x, y = np.meshgrid(cx + k, cy - k)  # rows top-down
    want = ripple_height(r, x, y)
    err = np.abs(got - want)
    assert np.ptp(want) > 0.01
    assert np.median(err) < 0.01 * r.height and np.quantile(err, 0.99) < 0.1 * r.height, (np.median(err), err.max())
