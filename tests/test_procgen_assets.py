"""The asset table: every kind keeps its placement rule, a new kind leaves the others alone,
and a kind without an instance id per copy renders as one object with one id."""
from __future__ import annotations

import dataclasses
import json

import bpy
import numpy as np
import pytest

from blender_gs_addon.procgen.assets import KINDS, AssetKind, Placement
from blender_gs_addon.procgen.config import SceneConfig
from blender_gs_addon.procgen.heightfield import make_heightfield
from blender_gs_addon.procgen.render import render_dataset
from blender_gs_addon.procgen.render.png import read_png
from blender_gs_addon.procgen.render.segmentation import CLASS_IDS
from blender_gs_addon.procgen.scene import generate_scene
from blender_gs_addon.procgen.seeding import stream

pytestmark = pytest.mark.blender


def _generate(config: SceneConfig, kinds=KINDS) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return generate_scene(config, kinds=kinds)


def _copies(kind_name: str) -> list:
    prefix = f"{kind_name}_"
    return [o for o in bpy.context.scene.objects if o.name.startswith(prefix) and o.name[len(prefix):].isdigit()]


def test_every_kind_keeps_its_placement_rule():
    config = SceneConfig.preset("tiny", seed=5, terrain={"kind": "hills", "water": "on"},
                                plants={"grass": 60, "flowers": 20}, scatter={"pebbles": 60, "ground_cover": 20})
    info = _generate(config)
    hf = make_heightfield(config.terrain, stream(config.seed, "terrain"))
    snow_line = info["terrain"]["snow_line"]
    discs = {"focus": [(*info["focus"][:2], 5.0)]}
    for kind in KINDS:
        obs = _copies(kind.name)
        assert len(obs) > 0 and info["counts"][kind.gs_class] >= len(obs), kind.name
        assert {o.get("gs_class") for o in obs} == {kind.gs_class}
        assert len({o.data.name for o in obs}) <= max(kind.variants(config), 1)
        rule = kind.rule(config)
        xy = np.array([tuple(o.location)[:2] for o in obs])
        assert np.abs(xy).max() <= rule.area * hf.size + 1e-4, kind.name
        assert (hf.slope(xy[:, 0], xy[:, 1]) <= rule.max_slope + 1e-4).all(), kind.name
        ground = hf.height(xy[:, 0], xy[:, 1])
        assert (ground >= hf.water_level + rule.min_above_water - 1e-4).all(), kind.name
        if rule.below_snow and snow_line is not None:
            assert (ground <= snow_line + 1e-4).all(), kind.name
        for name in rule.avoid:
            for x, y, r in discs[name]:
                assert (np.hypot(xy[:, 0] - x, xy[:, 1] - y) > r - 1e-4).all(), (kind.name, name)
        spacing = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) + np.eye(len(xy)) * 1e9
        assert spacing.min() >= rule.spacing - 1e-4, kind.name
        lo, hi = kind.size_range(config)
        s = np.array([o.scale[0] for o in obs])
        assert lo - 1e-5 <= s.min() and s.max() <= hi + 1e-5, kind.name
        if kind.clearance is not None:
            a, b = kind.clearance
            discs[kind.name] = [(o.location.x, o.location.y, a * o.scale[0] + b) for o in obs]


def _object_digests(names) -> dict:
    scene = bpy.context.scene
    out = {}
    for ob in scene.objects:
        if ob.name.split("_")[0] in names:
            co = np.empty(len(ob.data.vertices) * 3, np.float32)
            ob.data.vertices.foreach_get("co", co)
            out[ob.name] = (np.array(ob.matrix_world).tobytes(), co.tobytes())
    return out


def test_a_new_kind_is_one_entry_and_leaves_the_others_identical():
    config = SceneConfig.preset("tiny", seed=3)
    names = {k.name for k in KINDS}
    _generate(config)
    before = _object_digests(names)
    pebble = next(k for k in KINDS if k.name == "pebble")
    stone = dataclasses.replace(pebble, name="stone", gs_class="rock", size=(0.3, 0.6), digits=3, materials=None,
                                placement=Placement(spacing=1.0, area=0.3, max_slope=0.5, min_above_water=0.0,
                                                    density=0.5, avoid=("rock", "focus")))
    info = _generate(config, KINDS + (stone,))
    assert _object_digests(names) == before
    stones = _copies("stone")
    assert len(stones) > 0 and {o.get("gs_class") for o in stones} == {"rock"}
    assert info["counts"]["rock"] == len(_copies("rock")) + len(stones) + config.motion.rolling_rocks


def test_a_kind_without_instance_ids_renders_as_one_object(tmp_path):
    kinds = tuple(dataclasses.replace(k, own_instance_id=False) if k.name == "pebble" else k for k in KINDS)
    config = SceneConfig.preset("tiny", seed=7, scatter={"pebbles": 150})
    info = _generate(config, kinds)
    assert _copies("pebble") == []
    carrier = bpy.data.objects["pebble"]
    assert len(carrier.data.vertices) == info["counts"]["pebble"] > 50
    z = np.array([v.co.z for v in carrier.data.vertices])
    render_dataset(tmp_path, samples=1, device="cpu", frames=(1, 1))
    seg = json.loads((tmp_path / "segmentation.json").read_text())
    ids = {v["name"]: int(k) for k, v in seg["objects"].items()}
    assert not any(n.startswith("pebble_source") for n in ids)
    entry = seg["objects"][str(ids["pebble"])]
    assert entry["class"] == "pebble"
    # The box spans the pebbles only (a pebble is at most 0.3 m across, sunk by up to a fifth of that).
    assert z.min() - 0.1 < entry["aabb_min"][2] < z.min() and z.max() < entry["aabb_max"][2] < z.max() + 0.4
    inst = read_png(tmp_path / "segmentation" / "00001_instance.png")
    sem = read_png(tmp_path / "segmentation" / "00001_semantic.png")
    assert (inst == ids["pebble"]).sum() > 0
    assert set(np.unique(sem[inst == ids["pebble"]])) == {CLASS_IDS["pebble"]}


def test_a_kind_must_draw_each_pose_value_once():
    rock = KINDS[0]
    with pytest.raises(ValueError, match="draws"):
        dataclasses.replace(rock, draws=("size", "variant", "rotation", "tilt"))  # forgets its aspect
    with pytest.raises(ValueError, match="draws"):
        AssetKind("x", "rock", "rocks", "rocks", count=lambda c: 1, variants=lambda c: 1, mesh=rock.mesh,
                  placement=rock.placement, size=(1.0, 2.0), draws=("variant", "rotation", "size", "size"))
