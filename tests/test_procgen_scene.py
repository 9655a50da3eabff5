"""Scene generation in Blender: determinism, stage independence, asset contracts,
camera clearance, material behaviour, motion, tags and the generate command."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen import generate_cli
from procgen.assembly.assets import KINDS, AssetContext
from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.core.seeding import stream
from procgen.materials import surfaces
from procgen.terrain import rocks

pytestmark = pytest.mark.blender

CLASSES = {"terrain", "water", "rock", "tree", "bush", "grass", "flower", "pebble", "ground_cover", "camera",
           "light", "fog", "cactus", "fern", "reed", "mushroom", "deadwood", "leaf_litter", "rain", "snowfall", "cliff"}


def _reset():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _object_digest(ob) -> str:
    """Name, world matrix and exact vertex positions of one object."""
    h = hashlib.sha256(ob.name.encode())
    h.update(np.array(ob.matrix_world, dtype=np.float64).tobytes())
    if ob.type == "MESH":
        co = np.empty(len(ob.data.vertices) * 3, dtype=np.float32)
        ob.data.vertices.foreach_get("co", co)
        h.update(co.tobytes())
    return h.hexdigest()


def _digests(frames=(1, 2)) -> dict[str, str]:
    """Per-object digests over a few frames (animation included)."""
    scene = bpy.context.scene
    out: dict[str, str] = {}
    for f in frames:
        scene.frame_set(f)
        for ob in scene.objects:
            out[f"{ob.name}@{f}"] = _object_digest(ob)
    return out


def _generate(**overrides) -> dict:
    _reset()
    overrides.setdefault("biome", "broadleaf_forest")
    return generate_scene(SceneConfig.from_preset("tiny", **overrides))


def test_same_seed_same_scene_different_seed_different_scene():
    _generate(seed=3)
    a = _digests()
    _generate(seed=3)
    b = _digests()
    assert a == b
    _generate(seed=4)
    c = _digests()
    shared = set(a) & set(c)
    assert sum(a[k] != c[k] for k in shared) > 0.8 * len(shared)


def test_changing_one_stage_leaves_the_others_identical():
    _generate(seed=9)
    base = _digests()
    # Sky settings feed nothing downstream but the sky's own objects (the sun, and the volumes that
    # follow its light): every mesh and the camera stay identical.
    _generate(seed=9, sky={"sun_elevation": 33.0, "sun_azimuth": 120.0})
    sky = _digests()
    same = [k for k in base if not k.startswith(("sun@", "cloud_volume@", "shaft_air@"))]
    assert all(base[k] == sky[k] for k in same)
    assert base["sun@1"] != sky["sun@1"]
    # More trees: the terrain and the boulders are untouched, the trees change.
    _generate(seed=9, plants__trees=5)
    more = _digests()
    for k in base:
        if k.startswith(("terrain@", "water@", "rock_0", "outcrop_")):
            assert more[k] == base[k], k
    assert len([k for k in more if k.startswith("tree_")]) > len([k for k in base if k.startswith("tree_")])


# Height range (m) of one copy of each kind before it is scaled, from its factory alone (kelp: up to a
# canopy under the surface of 7-9.5 m of water).
HEIGHTS = {"outcrop": (0.2, 1.0), "rock": (0.2, 1.0), "stone": (0.2, 1.0), "pebble": (0.2, 1.0),
           "tree_conifer": (9.0, 20.0), "tree_broadleaf": (5.0, 15.0), "tree_birch": (6.0, 17.0),
           "tree_acacia": (3.0, 9.0), "tree_palm": (5.0, 13.0), "tree_dead": (2.5, 11.0), "bush": (0.4, 2.5),
           "cactus": (0.3, 5.5), "kelp": (2.0, 9.5), "log": (0.15, 1.0), "fern": (0.2, 1.2), "reed": (0.9, 2.6),
           "flower": (0.15, 0.7),
           "mushroom": (0.03, 0.3), "grass": (0.1, 0.8), "dry_grass": (0.2, 1.2), "clover": (0.02, 0.2),
           "leaf_litter": (0.0, 0.08), "needles": (0.0, 0.05), "twigs": (0.0, 0.06),
           "coral_table": (0.3, 0.7), "coral_brain": (0.12, 0.45), "coral_branching": (0.3, 0.9),
           "coral_fan": (0.45, 1.0)}


def test_every_asset_factory_makes_sane_geometry():
    """The contract of every kind's factory: finite vertices, faces that index them, material slots
    the kind names, a base at the ground, a plausible height, different variants, seconds not minutes."""
    _reset()
    config = SceneConfig.from_preset("tiny", seed=0)
    ctx = AssetContext(0, config, None, BIOMES["meadow"])
    assert set(HEIGHTS) == {k.name for k in KINDS}
    for kind in KINDS:
        t0 = time.perf_counter()
        a = kind.mesh(ctx, 0, stream(0, f"{kind.name}_mesh", 0))
        b = kind.mesh(ctx, 1, stream(0, f"{kind.name}_mesh", 1))
        assert time.perf_counter() - t0 < 10.0, kind.name
        for g in (a, b):
            assert g.n_verts > 3 and np.isfinite(g.verts).all(), kind.name
            assert g.loops.min() >= 0 and g.loops.max() < g.n_verts and g.sizes.sum() == len(g.loops), kind.name
            assert (g.sizes >= 3).all() and set(np.unique(g.mat)) <= set(range(max(len(kind.slots), 1))), kind.name
            lo, hi = HEIGHTS[kind.name]
            assert lo <= g.verts[:, 2].max() <= hi, (kind.name, g.verts[:, 2].max())
            assert g.verts[:, 2].min() > -0.3, (kind.name, g.verts[:, 2].min())
        assert a.n_verts != b.n_verts or np.abs(a.verts - b.verts).max() > 1e-3, f"{kind.name}: variants are clones"
    v, f = rocks.rock_shape(stream(0, "t_rock"), subdivisions=3)
    r = np.linalg.norm(v - (v.max(0) + v.min(0)) / 2, axis=1)
    assert r.std() / r.mean() > 0.08  # not a sphere


def test_every_material_family_builds_a_surface():
    for fam in surfaces.FAMILIES:
        mat = surfaces.make_material(fam, f"m_{fam}", stream(0, "t_mat", len(fam)))
        nodes = mat.node_tree.nodes
        out = next(n for n in nodes if n.type == "OUTPUT_MATERIAL")
        assert out.inputs["Surface"].is_linked, fam
        assert any(n.type == "BSDF_PRINCIPLED" for n in nodes)
    # Randomised: two draws of one family differ in their colours.
    a = surfaces.make_material("rock", "ra", stream(1, "t_mat"))
    b = surfaces.make_material("rock", "rb", stream(2, "t_mat"))
    ca = [tuple(e.color) for n in a.node_tree.nodes if n.type == "VALTORGB" for e in n.color_ramp.elements]
    cb = [tuple(e.color) for n in b.node_tree.nodes if n.type == "VALTORGB" for e in n.color_ramp.elements]
    assert ca != cb


def _render_patch(mat, normal, height, size=24) -> np.ndarray:
    """Mean linear RGB of a small plane with ``mat`` seen straight on under a uniform white sky."""
    scene = bpy.context.scene
    for ob in list(scene.objects):
        bpy.data.objects.remove(ob)
    n = Vector(normal).normalized()
    q = n.to_track_quat("Z", "Y")
    me = bpy.data.meshes.new("patch")
    s = 4.0
    me.from_pydata([(-s, -s, 0), (s, -s, 0), (s, s, 0), (-s, s, 0)], [], [(0, 1, 2, 3)])
    me.materials.append(mat)
    ob = bpy.data.objects.new("patch", me)
    scene.collection.objects.link(ob)
    ob.rotation_mode = "QUATERNION"
    ob.rotation_quaternion = q
    ob.location = (0, 0, height)
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 4.0
    scene.collection.objects.link(cam)
    cam.rotation_mode = "QUATERNION"
    cam.rotation_quaternion = q
    cam.location = Vector((0, 0, height)) + 5.0 * n
    scene.camera = cam
    world = bpy.data.worlds.new("white")
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (1, 1, 1, 1)
    scene.world = world
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.cycles.device = "CPU"
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "OPEN_EXR"
    path = os.path.join(bpy.app.tempdir or "/tmp", f"patch_{os.getpid()}.exr")
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(path)
    px = np.array(img.pixels[:], dtype=np.float32).reshape(size, size, 4)[..., :3]
    bpy.data.images.remove(img)
    os.remove(path)
    return px.reshape(-1, 3).mean(axis=0)


def test_terrain_material_depends_on_slope_and_height():
    shading = surfaces.TerrainShading(base="grass", rock_slope=0.2, snow_line=15.0, beach_level=None)
    mat = surfaces.make_terrain_material("terrain_t", shading, stream(0, "t_terrain"))
    flat_low = _render_patch(mat, (0, 0, 1), 0.0)
    steep_low = _render_patch(mat, (0.87, 0, 0.5), 0.0)   # 60 degrees: slope 0.5
    flat_high = _render_patch(mat, (0, 0, 1), 30.0)
    # Grass is green, rock is grey, snow is bright and grey-white.
    assert flat_low[1] > 1.2 * flat_low[0] and flat_low[1] > 1.2 * flat_low[2]
    assert np.ptp(steep_low) / steep_low.mean() < 0.3 and steep_low[1] < 1.1 * max(steep_low[0], steep_low[2])
    assert flat_high.mean() > 2.0 * flat_low.mean()
    assert np.ptp(flat_high) / flat_high.mean() < 0.25


def test_cameras_stay_above_ground_and_out_of_objects():
    directions = [Vector(d) for d in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))]
    for seed, traj, biome in ((1, "orbit", "broadleaf_forest"), (2, "flythrough", "conifer_forest"),
                              (3, "multiview", "cliff"), (5, "orbit", "coast")):
        info = _generate(seed=seed, camera__trajectory=traj, rocks__count=8, plants__trees=4, biome=biome)
        assert info["camera"]["trajectory"] == traj
        scene = bpy.context.scene
        cam = scene.camera
        for ob in scene.objects:  # fog and falling drops are not things a camera runs into
            ob.hide_viewport = ob.get("gs_class") in ("fog", "rain", "snowfall")
        for f in range(scene.frame_start, scene.frame_end + 1):
            scene.frame_set(f)
            dg = bpy.context.evaluated_depsgraph_get()
            p = cam.matrix_world.translation.copy()
            # Nothing within half a metre in any direction: not inside terrain, a rock, a wall or a crown ...
            for d in directions:
                hit, loc, *_ = scene.ray_cast(dg, p, d, distance=0.45)
                assert not hit, (biome, traj, f, tuple(d))
            # ... and the ground (or an object) is below, at a clearance.
            hit, loc, *_ = scene.ray_cast(dg, p, Vector((0, 0, -1)))
            assert hit and (p - loc).length > 1.0, (biome, traj, f)


def _pose(ob) -> np.ndarray:
    """An object's world matrix and evaluated vertices, flat: a plant leans or bends in the wind."""
    me = ob.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    co = np.empty(len(me.vertices) * 3)
    me.vertices.foreach_get("co", co)
    return np.concatenate([np.ravel(ob.matrix_world), co])


def test_objects_are_tagged_info_is_stored_and_things_move():
    t0 = time.perf_counter()
    info = _generate(seed=11)
    elapsed = time.perf_counter() - t0
    assert elapsed < 15.0  # the tiny preset is for tests: seconds, not minutes
    scene = bpy.context.scene
    classes = {o.get("gs_class") for o in scene.objects}
    assert None not in classes and classes <= CLASSES
    assert {"terrain", "rock", "camera", "light", "tree", "leaf_litter"} <= classes
    stored = json.loads(scene["gs_scene_info"])
    assert stored["config"] == SceneConfig.from_preset("tiny", seed=11, biome="broadleaf_forest").to_dict()
    assert stored["biome"]["name"] == "broadleaf_forest"
    assert stored["seed"] == 11 and stored["timings"]["total"] > 0
    assert stored["counts"]["objects"] == len(scene.objects)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (64, 64)
    assert scene.frame_end - scene.frame_start + 1 == 4 and scene.render.engine == "CYCLES"
    # A rolling rock and swaying plants move independently of the camera.
    rolling = scene.objects["rock_rolling_000"]
    scene.frame_set(1)
    m1 = np.array(rolling.matrix_world)
    sway = {o.name: _pose(o) for o in scene.objects if o.get("gs_class") in ("tree", "bush")}
    scene.frame_set(3)
    assert np.abs(np.array(rolling.matrix_world) - m1).max() > 0.05
    assert any(np.abs(_pose(scene.objects[n]) - m).max() > 1e-4 for n, m in sway.items())
    # Instancing: dense cover is one carrier object per kind whose points place a few shared clump meshes.
    litter = scene.objects["leaf_litter"]
    assert litter["gs_instances"] == len(litter.data.vertices) > 20
    assert info["counts"]["leaf_litter"] >= 20 * len(litter.data.vertices)
    sources = [o for o in scene.objects if o.name.startswith("leaf_litter_source_")]
    assert 1 <= len(sources) <= 8 and all(o.hide_render for o in sources)


def _cli_args(**kw):
    p = argparse.ArgumentParser()
    generate_cli.add_arguments(p)
    argv = ["--preset", "tiny", "--out", kw.pop("out"), "--no-render"] + kw.pop("extra", [])
    return p.parse_args(argv)


def test_generate_command_saves_scenes_and_reports_failed_seeds(tmp_path):
    out = str(tmp_path / "one")
    assert generate_cli.run(_cli_args(out=out, extra=["--seed", "2", "--frames", "3", "--biome", "wetland"])) == 0
    blend = os.path.join(out, "scene.blend")
    assert os.path.isfile(blend)
    bpy.ops.wm.open_mainfile(filepath=blend)
    info = json.loads(bpy.context.scene["gs_scene_info"])
    assert info["seed"] == 2 and bpy.context.scene.frame_end == 3
    assert info["biome"]["name"] == info["config"]["biome"] == "wetland" and info["terrain"]["kind"] == "valley"
    assert bpy.data.objects["reed"]["gs_instances"] > 0  # reeds grow only by the water
    assert not [f for f in os.listdir(out) if f.endswith(".tmp.blend")]
    # A different scene in the same folder is refused without --overwrite.
    assert generate_cli.run(_cli_args(out=out, extra=["--seed", "3"])) == 1
    bpy.ops.wm.open_mainfile(filepath=blend)
    assert json.loads(bpy.context.scene["gs_scene_info"])["seed"] == 2
    # Several seeds: a broken one is reported, the others are still made.
    many = tmp_path / "many"
    os.makedirs(many / "seed_000001")
    (many / "seed_000001" / "scene.blend").write_bytes(b"not a blend file")
    assert generate_cli.run(_cli_args(out=str(many), extra=["--seeds", "0-2"])) == 1
    for s in (0, 2):
        assert os.path.isfile(many / f"seed_{s:06d}" / "scene.blend")  # the names batch gives them too


def test_generate_resumes_in_the_seed_folder_an_older_version_named(tmp_path):
    # generate once named its seed folders seed_NNNN (batch: seed_NNNNNN); such a folder is used again
    legacy = tmp_path / "many"
    assert generate_cli.run(_cli_args(out=str(legacy / "seed_0002"), extra=["--seed", "2"])) == 0
    made = os.stat(legacy / "seed_0002" / "scene.blend").st_mtime_ns
    assert generate_cli.run(_cli_args(out=str(legacy), extra=["--seeds", "2-3"])) == 0
    assert sorted(n for n in os.listdir(legacy) if n.startswith("seed_")) == ["seed_000003", "seed_0002"]
    assert os.stat(legacy / "seed_0002" / "scene.blend").st_mtime_ns == made  # the same scene, reused


def test_generate_again_on_a_complete_dataset_succeeds_and_changes_nothing(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "blender_gs_addon", "generate", "--seed", "2", "--preset", "tiny",
           "--out", str(tmp_path / "s")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    def files():  # the lock file records who ran last; everything else must stay untouched
        return {p: p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("*") if p.is_file() and p.name != ".gs-lock"}

    before = files()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already complete" in again.stdout
    assert files() == before


def test_rain_and_snow_fall_steadily_with_their_own_class_and_keep_off_the_camera():
    for weather, cls in (("rain", "rain"), ("snow", "snowfall")):
        _generate(seed=6, sky={"weather": weather, "precipitation_count": 3000})
        scene = bpy.context.scene
        ob = scene.objects[weather]
        assert ob["gs_class"] == cls and ob.get("gs_moving")
        co = np.empty(len(ob.data.vertices) * 3, np.float32)
        ob.data.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)
        assert len(co) > 1000
        places, cams = [], []
        for f in range(scene.frame_start, scene.frame_end + 2):  # one frame past the end: extrapolated
            scene.frame_set(f)
            places.append(np.array(ob.matrix_world.translation))
            cams.append(np.array(scene.camera.matrix_world.translation))
            if f <= scene.frame_end:  # no drop close to the camera at any rendered frame
                near = np.linalg.norm(co + places[-1] - cams[-1], axis=1).min()
                assert near > 1.0, (weather, f, near)
        steps = np.diff(np.array(places), axis=0)
        assert np.allclose(steps, steps[0], atol=1e-5) and steps[0][2] < 0  # constant velocity, falling
        speed = np.linalg.norm(steps[0]) * scene.render.fps
        assert (5.0 < speed < 12.0) if weather == "rain" else (0.5 < speed < 3.0), (weather, speed)
