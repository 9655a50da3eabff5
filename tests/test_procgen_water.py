"""The surf: the water grid carries how close each vertex is to the shore (its foam), and that
agrees with the depth of the water over the terrain mesh as Blender's own ray casts find it."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.terrain.water import SHORE_ATTRIBUTE, SURF_DEPTH

pytestmark = pytest.mark.blender


def test_the_shore_attribute_follows_the_depth_of_the_water():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="coast"))
    water, terrain = bpy.data.objects["water"], bpy.data.objects["terrain"]
    me = water.data
    shore = np.empty(len(me.vertices), np.float32)
    me.attributes[SHORE_ATTRIBUTE].data.foreach_get("value", shore)
    co = np.empty(len(me.vertices) * 3, np.float64)
    me.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    level = water.matrix_world.translation.z
    rng = np.random.default_rng(0)
    near = np.flatnonzero((shore > 0.05) & (shore < 0.95))
    picks = np.concatenate([rng.choice(near, min(100, len(near)), replace=False),
                            rng.choice(len(shore), 100, replace=False)])
    to_local = terrain.matrix_world.inverted()
    checked = 0
    for i in picks:
        x, y = (water.matrix_world @ Vector(co[i])).xy
        ok, loc, _, _ = terrain.ray_cast(to_local @ Vector((x, y, level + 100.0)), Vector((0.0, 0.0, -1.0)))
        if not ok:
            continue
        depth = level - (terrain.matrix_world @ loc).z
        assert shore[i] == pytest.approx(np.clip(1.0 - depth / SURF_DEPTH, 0.0, 1.0), abs=0.1), (i, depth)
        checked += 1
    assert len(near) >= 20 and checked >= 150  # a real shoreline, and most lines met the terrain
    assert (shore == 0).mean() > 0.2  # open water without foam


def _evaluated(ob, name: str) -> np.ndarray:
    me = ob.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    vector = name == "co" or me.attributes[name].data_type == "FLOAT_VECTOR"
    out = np.empty(len(me.vertices) * (3 if vector else 1), np.float64)
    if name == "co":
        me.vertices.foreach_get("co", out)
    else:
        me.attributes[name].data.foreach_get("vector" if vector else "value", out)
    return out.reshape(-1, 3) if vector else out


def test_the_surf_foam_moves_with_the_waves_as_the_formula_says():
    """The wave grid's geometry nodes move it as ``surf.steepen`` of ``surf.wave_height`` (up) and
    ``surf.lead`` of that (forward, in the breaking zone) and store the foam of ``surf.foam`` at
    the scene time, with the breaking lip's ``surf.whitewater`` (its lead now and a moment ago),
    and the foam texture's ``surf.carried_coords``: all agree with the bpy-free formulas at two
    frames, and the foam moves."""
    import json

    from procgen.terrain import surf
    from procgen.terrain.breakers import BREAK_ATTRIBUTE
    from procgen.terrain.surf import FOAM_ATTRIBUTE, OCEAN_ATTRIBUTE, foam, lead, steepen, travel, wave_height

    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="coast"))
    water, scene = bpy.data.objects["water"], bpy.context.scene
    waves = json.loads(water["gs_waves"])
    shore = np.empty(len(water.data.vertices), np.float32)
    water.data.attributes[SHORE_ATTRIBUTE].data.foreach_get("value", shore)
    zone = np.empty(len(water.data.vertices), np.float32)
    water.data.attributes[BREAK_ATTRIBUTE].data.foreach_get("value", zone)
    rest = np.empty(len(water.data.vertices) * 3)
    water.data.vertices.foreach_get("co", rest)
    rest = rest.reshape(-1, 3)
    assert OCEAN_ATTRIBUTE in water.data.attributes
    seen = []
    for frame in (scene.frame_start, scene.frame_start + 6):
        scene.frame_set(frame)
        t = frame / (scene.render.fps / scene.render.fps_base)
        co, carried = _evaluated(water, "co"), _evaluated(water, FOAM_ATTRIBUTE)
        h = steepen(wave_height(waves["params"], waves["fade"], rest[:, 0], rest[:, 1], t), shore, waves["params"])
        np.testing.assert_allclose(co[:, 2], h, atol=1e-4)  # the same waves (and time) as the formula
        ahead = rest[:, :2] + lead(h, zone, waves["params"])[:, None] * travel(waves["params"])
        np.testing.assert_allclose(co[:, :2], ahead, atol=1e-4)  # the crests pitched forward
        p = waves["params"]
        ago = [lead(steepen(wave_height(p, waves["fade"], rest[:, 0], rest[:, 1], t - s), shore, p), zone, p)
               for s, _ in surf.WHITEWATER]
        np.testing.assert_allclose(carried, np.minimum(foam(h, shore, p) + surf.whitewater(ago, p), 1.0), atol=1e-4)
        np.testing.assert_allclose(_evaluated(water, surf.CARRIED_ATTRIBUTE),
                                   surf.carried_coords(rest[:, 0], rest[:, 1], t, p), atol=1e-3)
        seen.append(carried)
    near = shore > 0.3
    assert seen[0][near].max() > 0.3 and np.abs(seen[1] - seen[0])[near].mean() > 0.02  # it moves


def test_the_foam_texture_rides_with_the_crests():
    """Between two frames the foam texture's coordinates on the generated coast's sea (read from
    its evaluated mesh) shift along the waves' travel by what the crests themselves moved: the
    speed that best carries the evaluated heights from one frame to the next (least squares over
    their slopes, measured on the grid), and not at all across; so the streaks ride the crests."""
    import json

    from procgen.terrain.breakers import BREAK_ATTRIBUTE
    from procgen.terrain.surf import CARRIED_ATTRIBUTE, travel

    bpy.ops.wm.read_factory_settings(use_empty=True)
    # the default preset's 0.4 m cells, so finite differences resolve the shortest (3 m) waves
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="coast", terrain__resolution=160))
    water, scene = bpy.data.objects["water"], bpy.context.scene
    waves, n = json.loads(water["gs_waves"]), round(len(water.data.vertices) ** 0.5)
    rest = np.empty(n * n * 3)
    water.data.vertices.foreach_get("co", rest)
    rest = rest.reshape(n, n, 3)
    zone = np.empty(n * n, np.float32)
    water.data.attributes[BREAK_ATTRIBUTE].data.foreach_get("value", zone)
    cell, fps = rest[0, 1, 0] - rest[0, 0, 0], scene.render.fps / scene.render.fps_base
    heights, texture = [], []
    for frame in (10, 11):
        scene.frame_set(frame)
        heights.append(_evaluated(water, "co")[:, 2].reshape(n, n))
        texture.append(_evaluated(water, CARRIED_ATTRIBUTE))
    d = travel(waves["params"])
    gy, gx = np.gradient((heights[0] + heights[1]) / 2, cell)
    slope, rate = gx * d[0] + gy * d[1], (heights[1] - heights[0]) * fps
    # open sea inside the fade: the heights there are the plain sum of waves
    sea = (zone.reshape(n, n) == 0) & (np.maximum(*np.abs(rest[..., :2]).transpose(2, 0, 1)) < waves["fade"][0])
    crests = -(rate[sea] * slope[sea]).sum() / (slope[sea] ** 2).sum()  # m/s along the travel
    moved = (texture[0] - texture[1]) * fps  # the texture's coordinates move back as its pattern moves on
    assert sea.sum() > 1000 and crests > 1.0, (sea.sum(), crests)
    assert np.abs(moved[:, 1:]).max() < 1e-3  # nothing across the travel, no height
    np.testing.assert_allclose(moved[:, 0], crests, rtol=0.1)


def test_only_the_coasts_sea_carries_moving_foam():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="underwater"))
    assert "gs_ocean" not in bpy.data.objects["water"].data.attributes  # seen from below: no surf
