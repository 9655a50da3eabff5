"""The asset table: every kind keeps its placement rule, a new kind leaves the others alone,
and clumped ground cover renders as one object with one id."""
from __future__ import annotations

import dataclasses
import json

import bpy
import numpy as np
import pytest

from procgen.assembly.assets import KINDS, AssetKind, Placement
from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.scatter import CLUMP_STRETCH
from procgen.assembly.scene import generate_scene
from procgen.core.seeding import stream
from procgen.render import render_dataset
from procgen.render.png import read_png
from procgen.render.segmentation import CLASS_IDS
from procgen.terrain.heightfield import make_heightfield

pytestmark = pytest.mark.blender


# Every kind with a small amount, so one scene holds all of them.
EVERYTHING = dataclasses.replace(BIOMES["meadow"], name="everything", water="lake",
                                 mix={k.name: (4.0 if k.clump or not k.own_instance_id else 1.0) for k in KINDS})


def _generate(config: SceneConfig, kinds=KINDS, biome=EVERYTHING) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return generate_scene(config, kinds=kinds, biome=biome)


def _copies(kind_name: str) -> list:
    prefix = f"{kind_name}_"
    return [o for o in bpy.context.scene.objects if o.name.startswith(prefix) and o.name[len(prefix):].isdigit()]


def _placed(kind) -> tuple[np.ndarray, np.ndarray]:
    """Positions [K, 3] and sizes [K] of a kind's copies: its objects, or its carrier's points."""
    if kind.own_instance_id:
        obs = _copies(kind.name)
        return np.array([tuple(o.location) for o in obs]).reshape(-1, 3), np.array([o.scale[0] for o in obs])
    carrier = bpy.data.objects[kind.name]
    co = np.empty(len(carrier.data.vertices) * 3, np.float32)
    carrier.data.vertices.foreach_get("co", co)
    sc = np.empty(len(carrier.data.vertices) * 3, np.float32)
    carrier.data.attributes["scale"].data.foreach_get("vector", sc)
    return co.reshape(-1, 3).astype(np.float64), sc.reshape(-1, 3)[:, 0].astype(np.float64)


def test_every_kind_keeps_its_placement_rule():
    config = SceneConfig.from_preset("tiny", seed=5, terrain={"kind": "hills", "water": "on"}, sky={"weather": "none"})
    info = _generate(config)
    hf = make_heightfield(config.terrain, stream(config.seed, "terrain"), EVERYTHING)
    snow_line = info["terrain"]["snow_line"]
    discs = {"focus": [(*info["focus"][:2], 5.0)]}
    path = np.array(info["camera"]["positions"])  # after clearance: x and y as planned
    discs["path"] = [(x, y, 0.0) for x, y in path[:, :2]]
    for kind in KINDS:
        xy3, s = _placed(kind)
        assert len(xy3) > 0, kind.name
        xy = xy3[:, :2]
        rule = kind.rule(config)
        assert np.abs(xy).max() <= rule.area * hf.size + 1e-4, kind.name
        assert (hf.slope(xy[:, 0], xy[:, 1]) <= rule.max_slope + 1e-4).all(), kind.name
        ground = hf.height(xy[:, 0], xy[:, 1])
        assert (ground >= hf.water_level + rule.min_above_water - 1e-4).all(), kind.name
        if rule.max_above_water is not None:
            assert (ground <= hf.water_level + rule.max_above_water + 1e-4).all(), kind.name
        if rule.below_snow and snow_line is not None:
            assert (ground <= snow_line + 1e-4).all(), kind.name
        for entry in rule.avoid:
            name, margin = (entry, 0.0) if isinstance(entry, str) else entry
            for x, y, r in discs.get(name, []):
                assert (np.hypot(xy[:, 0] - x, xy[:, 1] - y) > r + margin - 1e-3).all(), (kind.name, name)
        if rule.pattern == "poisson":
            spacing = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) + np.eye(len(xy)) * 1e9
            assert spacing.min() >= rule.spacing - 1e-4, kind.name
        lo, hi = CLUMP_STRETCH if kind.clump else kind.size_range(config)
        assert lo - 1e-5 <= np.abs(s).min() and np.abs(s).max() <= hi + 1e-5, kind.name
        if kind.clearance is not None:
            a, b = kind.clearance
            discs[kind.name] = [(x, y, a * si + b) for (x, y), si in zip(xy, s)]
    clumped = [k for k in KINDS if k.gs_class == "grass"]
    assert info["counts"]["grass"] == sum(len(_placed(k)[0]) * k.clump_size(EVERYTHING) for k in clumped)


def _object_digests(names) -> dict:
    scene = bpy.context.scene
    out = {}
    for ob in scene.objects:
        if any(ob.name == n or ob.name.startswith(n + "_") for n in names) and ob.type == "MESH":
            co = np.empty(len(ob.data.vertices) * 3, np.float32)
            ob.data.vertices.foreach_get("co", co)
            out[ob.name] = (np.array(ob.matrix_world).tobytes(), co.tobytes())
    return out


def test_a_new_kind_is_one_entry_and_leaves_the_others_identical():
    config = SceneConfig.from_preset("tiny", seed=3)
    names = {k.name for k in KINDS}
    _generate(config)
    before = _object_digests(names)
    rock = next(k for k in KINDS if k.name == "rock")
    cobble = dataclasses.replace(rock, name="cobble", size=(0.3, 0.6), digits=3, materials=None, clearance=None,
                                 placement=Placement(spacing=1.0, area=0.3, max_slope=0.5, min_above_water=0.0,
                                                     density=0.5, avoid=("rock", "focus")))
    biome = dataclasses.replace(EVERYTHING, mix=dict(EVERYTHING.mix, cobble=1.0))
    info = _generate(config, KINDS + (cobble,), biome)
    assert _object_digests(names) == before
    cobbles = _copies("cobble")
    assert len(cobbles) > 0 and {o.get("gs_class") for o in cobbles} == {"rock"}
    rocks = len(_copies("rock")) + len(_copies("outcrop")) + len(_copies("stone"))
    assert info["counts"]["rock"] == rocks + len(cobbles) + config.motion.rolling_rocks


def test_clumped_ground_cover_renders_as_one_object_with_one_id(tmp_path):
    config = SceneConfig.from_preset("tiny", seed=7, sky={"weather": "none", "fog": 0.0})
    info = _generate(config)
    assert _copies("pebble") == []
    carrier = bpy.data.objects["pebble"]
    pebble = next(k for k in KINDS if k.name == "pebble")
    assert info["counts"]["pebble"] == pebble.clump_size(EVERYTHING) * len(carrier.data.vertices) > 50
    z = np.array([v.co.z for v in carrier.data.vertices])
    render_dataset(tmp_path, samples=1, device="cpu", frames=(1, 1))
    seg = json.loads((tmp_path / "segmentation.json").read_text())
    ids = {v["name"]: int(k) for k, v in seg["objects"].items()}
    assert not any("_source" in n for n in ids)
    entry = seg["objects"][str(ids["pebble"])]
    assert entry["class"] == "pebble"
    # The box spans the clumps only: a clump is 1 m across and sinks into the ground by at most 0.5 m.
    assert z.min() - 0.6 < entry["aabb_min"][2] < z.min() and z.max() < entry["aabb_max"][2] < z.max() + 0.4
    assert entry["aabb_max"][0] - entry["aabb_min"][0] < np.ptp([v.co.x for v in carrier.data.vertices]) + 1.2
    inst = read_png(tmp_path / "segmentation" / "00001_instance.png")
    sem = read_png(tmp_path / "segmentation" / "00001_semantic.png")
    grass_id = ids["grass"]
    assert (inst == grass_id).sum() > 0  # the grass of the view: one id, class grass
    assert set(np.unique(sem[inst == grass_id])) == {CLASS_IDS["grass"]}


def test_a_kind_must_draw_each_pose_value_once():
    rock = KINDS[0]
    with pytest.raises(ValueError, match="draws"):
        dataclasses.replace(rock, draws=("size", "variant", "rotation", "tilt"))  # forgets its aspect
    with pytest.raises(ValueError, match="draws"):
        AssetKind("x", "rock", "rocks", "rocks", count=lambda c: 1, variants=lambda c: 1, mesh=rock.mesh,
                  placement=rock.placement, size=(1.0, 2.0), draws=("variant", "rotation", "size", "size"))
