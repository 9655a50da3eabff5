"""Snow tails behind single rocks and trees: on flat ground a tail downwind of an obstacle, a
scour in front, the obstacle's own footing untouched, the tail's length in proportion to the
obstacle's height and nothing beyond it; in the generated arctic the terrain is the drifted
height field plus tails that lie downwind of its rocks and trees and nowhere far from them, and
every rock and tree stands where placement put it, buried deeper where another's tail covers it
and lowered with the ground where a scour took it away (never floating); the meadow's ground
has no drifts at all."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from helpers import tiny_arctic_drifted
from mathutils import Vector

from procgen.assembly.assets import KINDS
from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.scatter import ground_z
from procgen.assembly.scene import generate_scene
from procgen.core.seeding import stream
from procgen.terrain import lee_drifts
from procgen.terrain.heightfield import Heightfield, make_heightfield

pytestmark = pytest.mark.blender

SIZE, N = 80.0, 321  # a 0.25 m grid
C = np.linspace(-SIZE / 2, SIZE / 2, N)
X, Y = np.meshgrid(C, C)


def _one(height: float, radius: float = 1.0, wind=(1.0, 0.0)) -> Heightfield:
    """The tails of one rock at the origin on flat ground, as a height field."""
    dz = lee_drifts.tails(SIZE, N, np.array([[0.0, 0.0, radius, height, 1.0]]), wind)
    return Heightfield(dz, SIZE, "flat", None)


def test_a_tail_downwind_a_scour_upwind_and_the_footing_untouched():
    hf = _one(2.0)
    s = np.linspace(1.5, 6.0, 10)  # (the first 60 % of its 10 m)
    assert np.all(hf.height(s, 0 * s) > 0.1)  # a tail behind it (0.3 m per metre of height at its deepest)
    assert hf.height(-1.5, 0.0) < -0.1  # the scour in front
    assert np.all(hf.height(-s - 2.0, 0 * s) <= 0.0)  # no snow piled upwind
    assert abs(float(hf.height(0.0, 0.0))) < 0.01  # where the rock stands
    assert np.array_equal(hf.z, hf.z[::-1])  # the same on both sides of the wind's line
    assert np.all(hf.height(s, 0 * s + 4.0) < hf.height(s, 0 * s))  # and narrow


def test_the_tail_is_as_long_as_the_obstacle_is_high_times_five():
    for h in (1.0, 2.0, 4.0):
        hf = _one(h)
        along = hf.z[N // 2]  # the row through the rock, along the wind
        end = C[np.nonzero(along > 1e-9)[0].max()]
        assert abs(end - lee_drifts.TAIL * h) <= C[1] - C[0]
    assert np.count_nonzero(_one(6.0).z[N // 2] > 1e-9) * (C[1] - C[0]) <= lee_drifts.TAIL_MAX + 1.0  # capped


def test_the_tail_follows_the_wind():
    w = np.array([np.cos(2.2), np.sin(2.2)])
    hf = _one(2.0, wind=w)
    d = np.linspace(-3.0, 9.0, 25)  # the same tail and scour as with the wind along x, turned
    assert np.allclose(hf.height(d * w[0], d * w[1]), _one(2.0).height(d, 0 * d), atol=0.02)
    assert np.all(hf.height(d[d > 1] * w[0], d[d > 1] * w[1]) > 0.01)
    up = -np.linspace(0.5, 12.0, 24)
    assert np.all(hf.height(up * w[0], up * w[1]) <= 0.0)
    far = np.hypot(X, Y) > lee_drifts.TAIL * 2.0 + 3.0 + 0.5
    assert np.all(hf.z[far] == 0.0)


def _terrain_grid(n: int) -> np.ndarray:
    me = bpy.data.objects["terrain"].data
    co = np.empty(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    return co[2::3].reshape(n, n)


def test_the_arctic_piles_snow_behind_its_rocks_and_trees_which_stay_in_the_ground():
    info, bare, placed_on = tiny_arctic_drifted()
    wind = np.array(info["terrain"]["snow_drift"]["wind"])
    final = Heightfield(_terrain_grid(bare.n).astype(float), bare.size, "", None)
    dz = Heightfield(final.z - placed_on.z, bare.size, "", None)
    kinds = {k.name: k for k in KINDS}
    obs = [o for o in bpy.context.scene.objects if o.get("gs_class") in ("rock", "tree") and o.type == "MESH"
           and not o.hide_render and o.name.rsplit("_", 1)[0] in kinds]  # (not the rolling rock)
    assert len(obs) >= 3 and dz.z.max() > 0.2
    down, up = [], []
    for ob in obs:
        x, y, z = ob.location
        kind = kinds[ob.name.rsplit("_", 1)[0]]
        unit = ob.scale.x if kind.per_size else 1.0
        placed = ground_z(placed_on, x, y, kind.footprint * unit)[0] - kind.sink * unit
        assert z == pytest.approx(placed + min(float(dz.height(x, y)), 0.0), abs=2e-3), ob.name  # buried or lowered
        reach = 0.5 * max(ob.dimensions.x, ob.dimensions.y) + 1.0  # just beyond its edge
        down.append(float(dz.height(x + reach * wind[0], y + reach * wind[1])))
        up.append(float(dz.height(x - reach * wind[0], y - reach * wind[1])))
    assert np.mean(np.array(down) > np.array(up)) >= 0.75  # deeper behind than in front
    xy = np.stack(np.meshgrid(bare.coords, bare.coords), -1).reshape(-1, 2)
    centres = np.array([tuple(o.location)[:2] for o in obs])
    top = np.array([max((o.matrix_world @ Vector(c)).z for c in o.bound_box) for o in obs])
    reach = lee_drifts.reach(top - final.height(centres[:, 0], centres[:, 1]) + 0.5)  # (+ any scour under it)
    wide = np.array([max(o.dimensions.x, o.dimensions.y) for o in obs]) + 2 * bare.cell
    rel = xy[:, None] - centres[None]  # [V, K, 2]: each vertex from each obstacle, along and across the wind
    s, t = rel @ wind, rel @ np.array([-wind[1], wind[0]])
    # the strip behind each, and its front: no tail or scour is wider than 3 radii (<= 1.5 extents)
    near = (s > -1.5 * wide) & (s < reach + wide) & (np.abs(t) < 1.5 * wide)
    far = ~near.any(axis=1)
    assert far.mean() > 0.1 and np.abs(dz.z.ravel()[far]).max() < 1e-4  # (float32 vertices)
    assert np.abs(dz.z.ravel()[~far]).max() > 0.2


def test_the_meadow_ground_has_no_drifts():
    config = SceneConfig.from_preset("tiny", seed=0, biome="meadow")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(config)
    bare = make_heightfield(config.terrain, stream(0, "terrain"), BIOMES["meadow"])
    assert "snow_tails" not in info["terrain"] and "snow_drift" not in info["terrain"]
    assert np.abs(_terrain_grid(bare.n) - bare.z).max() < 1e-4
