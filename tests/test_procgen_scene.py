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

from blender_gs_addon.procgen import generate_cli, materials, plants, rocks
from blender_gs_addon.procgen.config import SceneConfig
from blender_gs_addon.procgen.scene import generate_scene
from blender_gs_addon.procgen.seeding import stream

pytestmark = pytest.mark.blender

CLASSES = {"terrain", "water", "rock", "tree", "bush", "grass", "flower", "pebble", "ground_cover",
           "camera", "light", "fog"}


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
    return generate_scene(SceneConfig.preset("tiny", **overrides))


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
    # Sky settings feed nothing downstream but the sun: every mesh and the camera stay identical.
    _generate(seed=9, sky={"sun_elevation": 33.0, "sun_azimuth": 120.0})
    sky = _digests()
    same = [k for k in base if not k.startswith("sun@")]
    assert all(base[k] == sky[k] for k in same)
    assert base["sun@1"] != sky["sun@1"]
    # More trees: the terrain and the boulders are untouched, the trees change.
    _generate(seed=9, plants__trees=5)
    more = _digests()
    for k in base:
        if k.startswith(("terrain@", "water@", "rock_0")):
            assert more[k] == base[k], k
    assert len([k for k in more if k.startswith("tree_")]) > len([k for k in base if k.startswith("tree_")])


def test_asset_factories_make_sane_meshes():
    t0 = time.perf_counter()
    v, f = rocks.rock_shape(stream(0, "t_rock"), subdivisions=3)
    assert len(v) == 162 and f.shape[1] == 3
    ext = v.max(axis=0) - v.min(axis=0)
    assert np.isclose(v[:, 2].min(), 0.0) and ext[:2].max() <= 1.0 + 1e-6 and ext.min() > 0.15
    # Not a sphere: distances from the centre vary a lot.
    r = np.linalg.norm(v - (v.max(0) + v.min(0)) / 2, axis=1)
    assert r.std() / r.mean() > 0.08
    v2, _ = rocks.rock_shape(stream(1, "t_rock"), subdivisions=3)
    assert np.abs(v2 - v).max() > 0.05  # two rocks differ

    for kind, height in (("broadleaf", 7.0), ("conifer", 10.0), ("bush", 1.2)):
        tv, tf, tm = plants.tree_geometry(stream(0, "t_tree"), kind, height, attractors=150,
                                          step=0.4 * height / 8, leaves_per_tip=3)
        assert 500 < len(tv) < 200_000 and np.isfinite(tv).all()
        assert tf.max() < len(tv)
        assert {0, 1} <= set(np.unique(tm))  # bark and leaves
        top = tv[:, 2].max()
        assert 0.6 * height < top < 1.4 * height, (kind, top)
        assert tv[:, 2].min() > -0.2
        # A tree's crown is narrower than twice its height; a bush may be wider than tall.
        assert np.abs(tv[:, :2]).max() < (1.6 if kind == "bush" else 1.0) * height
    gv, gf = plants.grass_geometry(stream(0, "t_grass"))
    assert len(gv) > 50 and 0.1 < gv[:, 2].max() < 0.8 and gv[:, 2].min() >= 0
    fv, ff, fm = plants.flower_geometry(stream(0, "t_flower"))
    assert 0.15 < fv[:, 2].max() < 0.7 and fm.max() == 1
    cv, cf = plants.ground_cover_geometry(stream(0, "t_cover"))
    assert cv[:, 2].max() < 0.3
    assert time.perf_counter() - t0 < 20.0


def test_every_material_family_builds_a_surface():
    for fam in materials.FAMILIES:
        mat = materials.make_material(fam, f"m_{fam}", stream(0, "t_mat", len(fam)))
        nodes = mat.node_tree.nodes
        out = next(n for n in nodes if n.type == "OUTPUT_MATERIAL")
        assert out.inputs["Surface"].is_linked, fam
        assert any(n.type == "BSDF_PRINCIPLED" for n in nodes)
    # Randomised: two draws of one family differ in their colours.
    a = materials.make_material("rock", "ra", stream(1, "t_mat"))
    b = materials.make_material("rock", "rb", stream(2, "t_mat"))
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
    shading = materials.TerrainShading(base="grass", rock_slope=0.2, snow_line=15.0, beach_level=None)
    mat = materials.make_terrain_material("terrain_t", shading, stream(0, "t_terrain"))
    flat_low = _render_patch(mat, (0, 0, 1), 0.0)
    steep_low = _render_patch(mat, (0.87, 0, 0.5), 0.0)   # 60 degrees: slope 0.5
    flat_high = _render_patch(mat, (0, 0, 1), 30.0)
    # Grass is green, rock is grey, snow is bright and grey-white.
    assert flat_low[1] > 1.2 * flat_low[0] and flat_low[1] > 1.2 * flat_low[2]
    assert np.ptp(steep_low) / steep_low.mean() < 0.3 and steep_low[1] < 1.1 * max(steep_low[0], steep_low[2])
    assert flat_high.mean() > 2.0 * flat_low.mean()
    assert np.ptp(flat_high) / flat_high.mean() < 0.25


def test_cameras_stay_above_ground_and_out_of_objects():
    for seed, traj in ((1, "orbit"), (2, "flythrough"), (3, "multiview")):
        info = _generate(seed=seed, camera__trajectory=traj, rocks__count=8, plants__trees=4)
        assert info["camera"]["trajectory"] == traj
        scene = bpy.context.scene
        cam = scene.camera
        solid = [o for o in scene.objects if o.get("gs_class") in ("rock", "tree", "bush")]
        for f in range(scene.frame_start, scene.frame_end + 1):
            scene.frame_set(f)
            dg = bpy.context.evaluated_depsgraph_get()
            p = cam.matrix_world.translation.copy()
            # Nothing above the camera (it is not under terrain nor inside a rock or crown) ...
            hit_up = scene.ray_cast(dg, p, Vector((0, 0, 1)))[0]
            assert not hit_up, (seed, traj, f)
            # ... and the ground (or an object) is below, at a clearance.
            hit, loc, *_ = scene.ray_cast(dg, p, Vector((0, 0, -1)))
            assert hit and (p - loc).length > 1.0, (seed, traj, f)
            for ob in solid:
                c = np.array([ob.matrix_world @ Vector(b) for b in ob.bound_box])
                inside = np.all(np.array(p) > c.min(0)) and np.all(np.array(p) < c.max(0))
                assert not inside, (seed, traj, f, ob.name)


def test_objects_are_tagged_info_is_stored_and_things_move():
    t0 = time.perf_counter()
    info = _generate(seed=11)
    elapsed = time.perf_counter() - t0
    assert elapsed < 15.0  # the tiny preset is for tests: seconds, not minutes
    scene = bpy.context.scene
    classes = {o.get("gs_class") for o in scene.objects}
    assert None not in classes and classes <= CLASSES
    assert {"terrain", "rock", "camera", "light"} <= classes
    stored = json.loads(scene["gs_scene_info"])
    assert stored["config"] == SceneConfig.preset("tiny", seed=11).to_dict()
    assert stored["seed"] == 11 and stored["timings"]["total"] > 0
    assert stored["counts"]["objects"] == len(scene.objects)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (64, 64)
    assert scene.frame_end - scene.frame_start + 1 == 4 and scene.render.engine == "CYCLES"
    # A rolling rock and swaying plants move independently of the camera.
    rolling = scene.objects["rock_rolling_000"]
    scene.frame_set(1)
    m1 = np.array(rolling.matrix_world)
    sway = {o.name: np.array(o.matrix_world) for o in scene.objects if o.get("gs_class") in ("tree", "bush")}
    scene.frame_set(3)
    assert np.abs(np.array(rolling.matrix_world) - m1).max() > 0.05
    assert any(np.abs(np.array(scene.objects[n].matrix_world) - m).max() > 1e-4 for n, m in sway.items())
    # Instancing: many scattered objects share few meshes.
    small = [o for o in scene.objects if o.get("gs_class") in ("pebble", "grass")]
    assert len({o.data.name for o in small}) < len(small) / 3


def _cli_args(**kw):
    p = argparse.ArgumentParser()
    generate_cli.add_arguments(p)
    argv = ["--preset", "tiny", "--out", kw.pop("out"), "--no-render"] + kw.pop("extra", [])
    return p.parse_args(argv)


def test_generate_command_saves_scenes_and_reports_failed_seeds(tmp_path):
    out = str(tmp_path / "one")
    assert generate_cli.run(_cli_args(out=out, extra=["--seed", "2", "--frames", "3"])) == 0
    blend = os.path.join(out, "scene.blend")
    assert os.path.isfile(blend)
    bpy.ops.wm.open_mainfile(filepath=blend)
    info = json.loads(bpy.context.scene["gs_scene_info"])
    assert info["seed"] == 2 and bpy.context.scene.frame_end == 3
    assert not [f for f in os.listdir(out) if f.endswith(".tmp.blend")]
    # A different scene in the same folder is refused without --overwrite.
    assert generate_cli.run(_cli_args(out=out, extra=["--seed", "3"])) == 1
    bpy.ops.wm.open_mainfile(filepath=blend)
    assert json.loads(bpy.context.scene["gs_scene_info"])["seed"] == 2
    # Several seeds: a broken one is reported, the others are still made.
    many = tmp_path / "many"
    os.makedirs(many / "seed_0001")
    (many / "seed_0001" / "scene.blend").write_bytes(b"not a blend file")
    assert generate_cli.run(_cli_args(out=str(many), extra=["--seeds", "0-2"])) == 1
    for s in (0, 2):
        assert os.path.isfile(many / f"seed_{s:04d}" / "scene.blend")


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
