"""Dataset life cycle: cancel and resume, refusing to overwrite, the user's settings kept, the CLI."""
from __future__ import annotations

import argparse
import json
import os

import bpy
import numpy as np
import pytest

from procgen.render import render_dataset
from procgen.render.exr import read_channels
from procgen.render.png import read_png
from procgen.render.reference_scenes import build_test_scene

pytestmark = pytest.mark.blender

RES = (40, 24)


def _frames_on_disk(out):
    return sorted(int(n[:5]) for n in os.listdir(os.path.join(out, "depth")) if n.endswith(".npy"))


def _transforms(out):
    with open(os.path.join(out, "transforms.json")) as fh:
        return json.load(fh)


def test_cancel_keeps_finished_frames_and_resume_completes(tmp_path):
    build_test_scene(resolution=RES, frames=5)
    calls = []
    summary = render_dataset(tmp_path, samples=1, device="cpu",
                             progress=lambda d, t, m: calls.append((d, t)),
                             should_cancel=lambda: len(calls) >= 3)  # the start call + 2 frames
    assert summary["cancelled"] and not summary["complete"] and summary["frames_done"] == 2
    assert _frames_on_disk(tmp_path) == [1, 2]
    tr = _transforms(tmp_path)  # a consistent dataset of the finished frames
    assert [f["frame"] for f in tr["frames"]] == [1, 2]
    for f in tr["frames"]:
        assert os.path.isfile(tmp_path / f["file_path"]) and os.path.isfile(tmp_path / f["semantic_file_path"])
    kept = {n: os.stat(tmp_path / "depth" / n).st_mtime_ns for n in os.listdir(tmp_path / "depth")}

    calls.clear()
    summary = render_dataset(tmp_path, samples=1, device="cpu", progress=lambda d, t, m: calls.append((d, t)))
    assert summary["complete"] and summary["frames_rendered_now"] == 3 and summary["frames_done"] == 5
    assert calls[0] == (2, 5) and calls[-1] == (5, 5)
    assert _frames_on_disk(tmp_path) == [1, 2, 3, 4, 5]
    assert [f["frame"] for f in _transforms(tmp_path)["frames"]] == [1, 2, 3, 4, 5]
    for n, mtime in kept.items():  # finished frames were not rendered again
        assert os.stat(tmp_path / "depth" / n).st_mtime_ns == mtime

    with pytest.raises(FileExistsError, match="overwrite"):
        render_dataset(tmp_path, samples=1, device="cpu")
    assert _frames_on_disk(tmp_path) == [1, 2, 3, 4, 5]
    bpy.context.scene.frame_end = 3
    summary = render_dataset(tmp_path, samples=1, device="cpu", overwrite=True)
    assert summary["complete"] and summary["frames_rendered_now"] == 3
    assert _frames_on_disk(tmp_path) == [1, 2, 3]


def test_interrupt_keeps_frames_and_other_settings_do_not_resume(tmp_path):
    build_test_scene(resolution=RES, frames=4)

    def progress(done, total, message):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_dataset(tmp_path, samples=1, device="cpu", progress=progress)
    assert _frames_on_disk(tmp_path) == [1]
    assert [f["frame"] for f in _transforms(tmp_path)["frames"]] == [1]
    with pytest.raises(FileExistsError, match="other settings"):
        render_dataset(tmp_path, samples=2, device="cpu")

    def failing(done, total, message):
        if done == 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):  # an error keeps the finished frames too
        render_dataset(tmp_path, samples=1, device="cpu", progress=failing)
    assert [f["frame"] for f in _transforms(tmp_path)["frames"]] == [1, 2]
    assert render_dataset(tmp_path, samples=1, device="cpu")["frames_rendered_now"] == 2


def test_a_foreign_dataset_is_not_overwritten(tmp_path):
    build_test_scene(resolution=RES, frames=2)
    (tmp_path / "transforms.json").write_text("{}")
    (tmp_path / "scene.blend").write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        render_dataset(tmp_path, samples=1, device="cpu")
    assert (tmp_path / "transforms.json").read_text() == "{}"
    render_dataset(tmp_path, samples=1, device="cpu", overwrite=True)
    assert (tmp_path / "scene.blend").read_bytes() == b"keep me"  # overwrite removes only dataset files
    assert len(_transforms(tmp_path)["frames"]) == 2


def test_interrupted_overwrite_keeps_the_old_dataset_and_user_files(tmp_path):
    build_test_scene(resolution=RES, frames=3)
    render_dataset(tmp_path, samples=1, device="cpu")
    old = {n: (tmp_path / "depth" / n).read_bytes() for n in os.listdir(tmp_path / "depth")}
    (tmp_path / "images" / "my_extra.png").write_bytes(b"a user's file")
    bpy.context.scene.frame_end = 2
    bpy.context.scene.frame_start = 0

    def stop_after_one(done, total, message):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_dataset(tmp_path, samples=1, device="cpu", overwrite=True, progress=stop_after_one)
    # the old dataset is whole: the new frames went to the staging folder
    assert _frames_on_disk(tmp_path) == [1, 2, 3]
    assert {n: (tmp_path / "depth" / n).read_bytes() for n in old} == old
    assert (tmp_path / ".gs-overwrite" / "depth" / "00000.npy").exists()

    summary = render_dataset(tmp_path, samples=1, device="cpu", overwrite=True)  # resumes the staged run
    assert summary["complete"] and summary["frames_rendered_now"] == 2 and summary["out_dir"] == str(tmp_path)
    assert _frames_on_disk(tmp_path) == [0, 1, 2]  # frame 3 of the old dataset is gone with it
    assert [f["frame"] for f in _transforms(tmp_path)["frames"]] == [0, 1, 2]
    assert (tmp_path / "images" / "my_extra.png").read_bytes() == b"a user's file"
    assert not (tmp_path / ".gs-overwrite").exists()


def test_scene_settings_restored_and_scene_info_recorded(tmp_path):
    objs = build_test_scene(resolution=RES, frames=2)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_EEVEE_NEXT" if bpy.app.version < (5, 0, 0) else "BLENDER_EEVEE"
    scene.cycles.samples = 7
    scene.render.filepath = "//my_render_"
    scene.render.image_settings.file_format = "JPEG"
    objs["sphere"].pass_index = 42
    scene.frame_set(2)
    scene.view_settings.view_transform = "Standard"
    scene["gs_scene_info"] = json.dumps({"seed": 5, "preset": "tiny", "timings_s": {"generate": 1.5}})
    render_dataset(tmp_path, samples=1, device="cpu", exr=True)
    assert scene.render.engine in ("BLENDER_EEVEE_NEXT", "BLENDER_EEVEE")
    assert scene.cycles.samples == 7 and scene.render.filepath == "//my_render_"
    assert scene.render.image_settings.file_format == "JPEG"
    assert objs["sphere"].pass_index == 42 and scene.frame_current == 2
    info = json.loads((tmp_path / "scene.json").read_text())
    assert info["seed"] == 5 and info["timings_s"] == {"generate": 1.5}
    assert info["render"]["blender_version"] == bpy.app.version_string and info["render"]["samples"] == 1
    assert info["render"]["timings_s"]["render_rgb"] > 0 and info["render"]["timings_s"]["render_gt"] > 0
    # --exr: the linear-light image next to the PNG; with the "Standard" view transform the
    # PNG is exactly the sRGB encoding of it
    entry = _transforms(tmp_path)["frames"][0]
    ch = read_channels(tmp_path / entry["exr_file_path"])
    rgb = np.stack([ch[k] for k in sorted(ch) if k.split(".")[-1] in ("R", "G", "B")], -1)[..., ::-1]  # B G R -> R G B
    assert rgb.shape == (RES[1], RES[0], 3) and np.isfinite(rgb).all() and rgb.max() > 0
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * np.clip(rgb, 0, None) ** (1 / 2.4) - 0.055)
    png = read_png(tmp_path / entry["file_path"]).astype(np.float64) / 255
    diff = np.abs(np.clip(srgb, 0, 1) - png)
    assert diff.mean() < 1.5 / 255 and diff.max() < 4 / 255


def test_scene_without_camera_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no camera"):
        render_dataset(tmp_path, samples=1)


def _cli(argv):
    from procgen.render import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_cli_renders_a_blend_file_and_reports_bad_input(tmp_path, capsys):
    build_test_scene(resolution=RES, frames=3)
    blend = str(tmp_path / "scene.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    out = str(tmp_path / "ds")
    assert _cli([blend, "--out", out, "--samples", "1", "--frames", "2", "3", "--device", "cpu"]) == 0
    assert [f["frame"] for f in _transforms(out)["frames"]] == [2, 3]
    assert _cli([blend, "--out", out, "--samples", "1", "--frames", "2", "3", "--device", "cpu"]) == 1
    assert "overwrite" in capsys.readouterr().err
    missing = str(tmp_path / "nope.blend")
    assert _cli([missing, "--out", out]) == 2
    assert "nope.blend" in capsys.readouterr().err
    bpy.ops.wm.read_factory_settings(use_empty=True)
    empty = str(tmp_path / "empty.blend")
    bpy.ops.wm.save_as_mainfile(filepath=empty)
    assert _cli([empty, "--out", str(tmp_path / "ds2")]) == 2
    assert "no camera" in capsys.readouterr().err


def _instance_on_points_host(source, name="Scatter"):
    """A 2x2 grid whose four vertices each carry an instance of ``source`` (geometry nodes)."""
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=2, y_subdivisions=2, size=3.0, location=(0, 1.5, 0.3))
    host = bpy.context.object
    host.name = name
    host["gs_class"] = "pebble"
    ng = bpy.data.node_groups.new("ScatterNodes", "GeometryNodeTree")
    ng.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    ng.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    gin, gout = ng.nodes.new("NodeGroupInput"), ng.nodes.new("NodeGroupOutput")
    iop, info = ng.nodes.new("GeometryNodeInstanceOnPoints"), ng.nodes.new("GeometryNodeObjectInfo")
    info.inputs["Object"].default_value = source
    ng.links.new(gin.outputs[0], iop.inputs["Points"])
    ng.links.new(info.outputs["Geometry"], iop.inputs["Instance"])
    ng.links.new(iop.outputs[0], gout.inputs[0])
    host.modifiers.new("scatter", "NODES").node_group = ng
    return host


def test_geometry_node_instances_take_their_hosts_id_and_box(tmp_path):
    objs = build_test_scene(resolution=(48, 32), frames=2, instances=False)
    bpy.ops.mesh.primitive_ico_sphere_add(radius=0.3, location=(0, 0, 0))
    pebble = bpy.context.object
    pebble.name = "PebbleSource"
    pebble.hide_render = True  # renders only through the instances
    _instance_on_points_host(pebble)
    render_dataset(tmp_path, samples=1, device="cpu")
    seg = json.loads((tmp_path / "segmentation.json").read_text())
    by_name = {v["name"]: (int(k), v) for k, v in seg["objects"].items()}
    assert "PebbleSource" not in by_name
    sid, scatter = by_name["Scatter"]
    assert scatter["class"] == "pebble"
    # four pebbles of radius 0.3 on the corners of a 3 m grid centred at (0, 1.5, 0.3)
    assert np.allclose(scatter["aabb_min"], [-1.8, -0.3, 0.0], atol=0.02)
    assert np.allclose(scatter["aabb_max"], [1.8, 3.3, 0.6], atol=0.02)
    entry = _transforms(tmp_path)["frames"][0]
    inst = read_png(tmp_path / entry["instance_file_path"])
    assert (inst == sid).sum() > 10
    assert objs["cube"].name in by_name


def test_dataset_loads_in_the_trainer_with_matching_cameras(tmp_path):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    from blender_gs_addon.trainer import dataset_loader  # torch-free: runs in every Blender's Python
    from procgen.render.initial_points import read_ply

    build_test_scene(resolution=RES, frames=3)
    render_dataset(tmp_path, samples=1, device="cpu")
    ds = dataset_loader.load_dataset(str(tmp_path), load_depth=True)
    assert len(ds.train) == 2 and len(ds.test) == 1  # frame 1 is held out
    assert len(ds.points) == len(read_ply(tmp_path / "points3d.ply"))
    scene = bpy.context.scene
    p = np.array([0.4, 0.8, 0.5])
    for cam, frame in zip(ds.test + ds.train, (1, 2, 3)):
        assert np.asarray(cam.image).shape[:2] == (RES[1], RES[0])
        x = np.asarray(cam.viewmat, dtype=np.float64) @ np.append(p, 1.0)
        uv = (np.asarray(cam.K, dtype=np.float64) @ (x[:3] / x[2]))[:2]
        scene.frame_set(frame)
        ndc = world_to_camera_view(scene, scene.camera, Vector(p))
        assert np.allclose(uv, [ndc.x * RES[0], (1 - ndc.y) * RES[1]], atol=1e-3)
