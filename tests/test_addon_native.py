"""Blender's native Gaussian-splat point clouds: our import makes what Blender's own importer makes,
and every splat object exports (ours, Blender's PLY and SPZ imports, objects edited in Edit mode)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import bpy
import numpy as np
import pytest
from helpers import random_splats

from blender_gs_addon.blender import api, native_splats
from blender_gs_addon.splat_render import render_in_child
from blender_gs_addon.splats import SplatData, read_ply, write_ply

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]
needs_native = pytest.mark.skipif(not native_splats.has_native_splats(),
                                  reason="this Blender has no Gaussian-splat point clouds (PointCloud.type)")
ROOT = Path(__file__).resolve().parents[1]
KEY = {"FLOAT": ("value", 1), "INT": ("value", 1), "FLOAT_VECTOR": ("vector", 3), "FLOAT4": ("vector", 4),
       "QUATERNION": ("value", 4)}


def values(obj, name: str) -> np.ndarray:
    attr = obj.data.attributes[name]
    key, width = KEY[attr.data_type]
    buf = np.empty(len(attr.data) * width, np.int32 if attr.data_type == "INT" else np.float32)
    attr.data.foreach_get(key, buf)
    return buf.reshape(-1, width) if width > 1 else buf


def edge_splats(n: int = 400, degree: int = 3, seed: int = 1) -> SplatData:
    """Random splats plus the values float32 cannot carry through Blender: saturated opacities,
    underflowing scales, a zero quaternion, a non-unit one, non-zero normals and an extra property."""
    data = random_splats(n, degree, seed=seed)
    data.opacity_logit[:4] = [40.0, -120.0, 15.0, -15.0]
    data.scales_log[4] = [-120.0, 0.0, 3.0]
    data.quats[5] = 0.0
    data.quats[6] = [3.0, 0.0, 4.0, 0.0]
    data.extra["confidence"] = np.linspace(0, 1, n, dtype=np.float32)
    return data


def blender_import(path) -> bpy.types.Object:
    assert bpy.ops.wm.ply_import(filepath=str(path)) == {"FINISHED"}
    return bpy.context.active_object


def our_import(path) -> bpy.types.Object:
    assert bpy.ops.import_scene.gaussian_splats(filepath=str(path)) == {"FINISHED"}
    return bpy.context.active_object


def export(obj, path) -> None:
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.export_scene.gaussian_splats.poll()
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(path)) == {"FINISHED"}


@needs_native
def test_import_equals_blenders_own_importer_attribute_by_attribute(tmp_path):
    src = tmp_path / "in.ply"
    write_ply(src, edge_splats())
    theirs, ours = blender_import(src), our_import(src)
    assert ours.type == "POINTCLOUD" and ours.data.type == theirs.data.type == "GAUSSIAN_SPLAT"
    for attr in theirs.data.attributes:
        if attr.name.startswith("."):
            continue
        mine = ours.data.attributes.get(attr.name)
        assert mine is not None and (mine.data_type, mine.domain) == (attr.data_type, attr.domain), attr.name
        a, b = values(theirs, attr.name), values(ours, attr.name)
        # the same float32 values but for the last bit of exp, sigmoid and normalisation
        np.testing.assert_allclose(b, a, rtol=2 * native_splats.U, atol=native_splats.U, err_msg=attr.name)
    # what we keep besides: the file's opacity logit and log-scales, its quaternion, its normals
    kept = {a.name for a in ours.data.attributes} - {a.name for a in theirs.data.attributes}
    assert kept == {native_splats.RAW_OPACITY_SCALE, native_splats.RAW_ROTATION, native_splats.NORMAL}
    kept_bytes = sum(4 * KEY[ours.data.attributes[k].data_type][1] for k in kept - {native_splats.NORMAL})
    assert kept_bytes == 32  # a splat


@needs_native
def test_trainer_files_keep_no_normals_attribute(tmp_path):
    data = random_splats(50, 1, seed=2)
    data.normals[:] = 0.0  # what 3DGS trainers write
    write_ply(tmp_path / "in.ply", data)
    obj = our_import(tmp_path / "in.ply")
    assert native_splats.NORMAL not in obj.data.attributes
    export(obj, tmp_path / "out.ply")
    assert (tmp_path / "out.ply").read_bytes() == (tmp_path / "in.ply").read_bytes()


def test_our_import_then_export_is_bit_exact_with_edge_values(tmp_path):
    src, out = tmp_path / "in.ply", tmp_path / "out.ply"
    write_ply(src, edge_splats())
    export(our_import(src), out)
    assert out.read_bytes() == src.read_bytes()
    obj = api.object_from_splats(read_ply(src), "FromData")  # the SplatData path too
    export(obj, tmp_path / "again.ply")
    assert (tmp_path / "again.ply").read_bytes() == src.read_bytes()


def assert_within_export_tolerance(back: SplatData, data: SplatData) -> None:
    tol = native_splats.export_tolerance(data.opacity_logit, data.scales_log)
    for field in ("means", "sh_dc", "sh_rest"):
        np.testing.assert_array_equal(getattr(back, field), getattr(data, field), err_msg=field)
    live = ~tol["opacity_saturated"]
    assert np.all(np.abs(back.opacity_logit - data.opacity_logit)[live] <= tol["opacity"][live])
    # and every splat, saturated ones too, keeps its float32 opacity and scale but for the last bit
    np.testing.assert_allclose(native_splats.sigmoid(back.opacity_logit), native_splats.sigmoid(data.opacity_logit),
                               rtol=2 * native_splats.U, atol=native_splats.U)
    live = ~tol["scale_saturated"]
    assert np.all(np.abs(back.scales_log - data.scales_log)[live] <= tol["scale"][live])
    np.testing.assert_allclose(native_splats.exp_scales(back.scales_log), native_splats.exp_scales(data.scales_log),
                               rtol=4 * native_splats.U, atol=np.finfo(np.float32).tiny)  # subnormals flush to 0
    assert np.abs(back.quats - native_splats.unit_quats(data.quats)).max() <= tol["quat"]
    # pinned as numbers too (float32 roundoff U = 2**-24 = 6e-8), whatever export_tolerance says:
    # quaternions 4U; log-scales 4U + 2U |x| for |x| <= 20; logits 2U / (1 - sigmoid(x)) + 2U |x| for |x| <= 8
    assert np.abs(back.quats - native_splats.unit_quats(data.quats)).max() <= 2.4e-7
    usual = np.abs(data.scales_log) <= 20
    assert np.abs(back.scales_log - data.scales_log)[usual].max() <= 2.7e-6
    usual = np.abs(data.opacity_logit) <= 8
    assert usual.sum() > len(data) // 2 and np.abs(back.opacity_logit - data.opacity_logit)[usual].max() <= 3.7e-4


def render_both(python: str, a: SplatData, b: SplatData, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Both splat sets through our rasterizer (in ``python``), from a camera 4 units away on -Z."""
    viewmat = np.eye(4)
    viewmat[2, 3] = 4.0
    f = size * 0.9
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return tuple(render_in_child(python, env, d, viewmat, K, size, size, device="cpu") for d in (a, b))


@needs_native
def test_blenders_import_then_our_export_within_the_derived_tolerance(tmp_path, training_python):
    data = edge_splats()
    data.normals = None  # Blender's importer drops normals: they are not compared
    src, out = tmp_path / "in.ply", tmp_path / "out.ply"
    write_ply(src, data)
    export(blender_import(src), out)
    back = read_ply(out)
    assert back.layout is not None and [n for n, _ in back.layout][-1] == "confidence"
    np.testing.assert_array_equal(back.extra["confidence"], data.extra["confidence"])
    assert_within_export_tolerance(back, data)
    # the tolerance is not slack: the logits moved, and they moved by less than a thousandth
    assert 0 < np.abs(back.opacity_logit - data.opacity_logit)[4:].max() < 1e-3
    original, exported = render_both(training_python, data, back)
    assert original[..., 3].mean() > 0.05
    assert np.abs(original - exported).mean() <= 1e-4


@needs_native
def test_spz_imports_of_blender_export(tmp_path):
    from tests.tools import npm

    data = random_splats(300, 2, normals=False, seed=4)
    write_ply(tmp_path / "in.ply", data)
    npm.splat_transform("-w", tmp_path / "in.ply", tmp_path / "in.spz")  # skips without Node, fails if broken
    assert bpy.ops.wm.spz_import(filepath=str(tmp_path / "in.spz")) == {"FINISHED"}
    obj = bpy.context.active_object
    export(obj, tmp_path / "out.ply")
    back = read_ply(tmp_path / "out.ply")
    assert len(back) == len(obj.data.points) == len(data)
    # the file holds what Blender holds (the .spz quantisation is Blender's and the file's business)
    np.testing.assert_array_equal(back.means, values(obj, "position"))
    base = values(obj, native_splats.BASE)
    np.testing.assert_array_equal(back.sh_dc, base[:, :3])
    u = native_splats.U
    np.testing.assert_allclose(native_splats.sigmoid(back.opacity_logit), base[:, 3], rtol=2 * u, atol=u)
    np.testing.assert_allclose(native_splats.exp_scales(back.scales_log), values(obj, "scale"), rtol=4 * u)
    np.testing.assert_array_equal(back.quats, values(obj, "rotation"))
    np.testing.assert_array_equal(back.sh_rest[:, 7], values(obj, native_splats.SH_PREFIX + "7"))
    # and it is close to the splats the .spz was made from (fixed-point positions; the axes turn on the way)
    np.testing.assert_allclose(np.linalg.norm(back.means, axis=1), np.linalg.norm(data.means, axis=1), atol=0.01)


@needs_native
def test_blenders_object_edited_in_edit_mode_exports_what_is_left(tmp_path):
    data = random_splats(200, 1, normals=False, seed=3)
    src, out = tmp_path / "in.ply", tmp_path / "out.ply"
    write_ply(src, data)
    obj = blender_import(src)
    doomed = data.means[:, 0] > 0.3
    bpy.ops.object.mode_set(mode="EDIT")
    sel = obj.data.attributes.get(".selection") or obj.data.attributes.new(".selection", "BOOLEAN", "POINT")
    sel.data.foreach_set("value", doomed)
    assert bpy.ops.pointcloud.delete() == {"FINISHED"}
    export(obj, out)  # from Edit mode, as a user would
    assert obj.mode == "EDIT"
    back = read_ply(out)
    assert len(back) == int((~doomed).sum()) < len(data)
    assert_within_export_tolerance(back, data.subset(~doomed))


@needs_native
def test_native_values_edited_after_import_win_over_the_kept_ones(tmp_path):
    data = random_splats(20, 0, normals=False, seed=5)
    write_ply(tmp_path / "in.ply", data)
    obj = our_import(tmp_path / "in.ply")
    scale = values(obj, "scale")
    scale[3] *= 2.0
    obj.data.attributes["scale"].data.foreach_set("vector", scale.reshape(-1))
    back = api.splats_from_object(obj)
    np.testing.assert_allclose(back.scales_log[3], data.scales_log[3] + np.log(2.0), atol=1e-6)
    keep = np.arange(20) != 3
    np.testing.assert_array_equal(back.scales_log[keep], data.scales_log[keep])  # the others stay bit-exact
    np.testing.assert_array_equal(back.opacity_logit, data.opacity_logit)


def test_export_polls_for_every_splat_object_and_nothing_else(tmp_path):
    write_ply(tmp_path / "in.ply", random_splats(10, 0))
    objects = [our_import(tmp_path / "in.ply")]
    if native_splats.has_native_splats():
        objects.append(blender_import(tmp_path / "in.ply"))
    for obj in objects:
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.export_scene.gaussian_splats.poll() and bpy.ops.gs.render_splats.poll() is False  # no camera
    cube = bpy.data.objects.new("Plain", bpy.data.meshes.new("Plain"))
    bpy.context.scene.collection.objects.link(cube)
    bpy.context.view_layer.objects.active = cube
    assert not bpy.ops.export_scene.gaussian_splats.poll()
    entries = [f.__name__ for f in getattr(bpy.types.TOPBAR_MT_file_export.draw, "_draw_funcs", [])]
    assert "menu_export" in entries


def sheet(n: int = 4000, seed: int = 3) -> SplatData:
    """A dense, nearly opaque sheet of flat splats facing -Y with view-dependent (SH 3) colour:
    what trained surfaces look like, where compositing order and space matter little."""
    rng = np.random.default_rng(seed)
    means = np.stack([rng.uniform(-1.3, 1.3, n), rng.normal(0, 0.02, n), rng.uniform(-1.3, 1.3, n)], 1)
    scales = np.stack([rng.uniform(0.03, 0.08, n), np.full(n, 0.01), rng.uniform(0.03, 0.08, n)], 1)
    turn = rng.uniform(0, np.pi, n)  # about the sheet's normal
    quats = np.stack([np.cos(turn / 2), np.zeros(n), np.sin(turn / 2), np.zeros(n)], 1)
    return SplatData(means=means.astype(np.float32), scales_log=np.log(scales).astype(np.float32),
                     quats=quats.astype(np.float32), opacity_logit=rng.normal(4, 1, n).astype(np.float32),
                     sh_dc=rng.normal(0, 0.3, (n, 3)).astype(np.float32),
                     sh_rest=rng.normal(0, 0.1, (n, 15, 3)).astype(np.float32))


def cycles_image(tmp_path, size: int, samples: int, height: int | None = None) -> np.ndarray:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.use_denoising = samples, False
    scene.render.resolution_x, scene.render.resolution_y = size, height or size
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.world = bpy.data.worlds.new("Black")
    scene.world.color = (0.0, 0.0, 0.0)
    if scene.world.node_tree is not None and "Background" in scene.world.node_tree.nodes:
        scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (0, 0, 0, 1)
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(tmp_path / "cycles.png")
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(scene.render.filepath)
    px = np.empty(size * (height or size) * 4, np.float32)
    img.pixels.foreach_get(px)
    return px.reshape(height or size, size, 4)[::-1, :, :3]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@needs_native
def test_cycles_native_splats_agree_with_render_splats(tmp_path, training_python, monkeypatch):
    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)
    obj = api.object_from_splats(sheet(), "Sheet")
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    # square on: a sheet seen at an angle is composited in another order per pixel by the two
    # (nearest hit along each ray against each splat's centre depth), which is not a convention
    cam.location, cam.rotation_euler = (0.0, -3.0, 0.0), (math.radians(90), 0.0, 0.0)
    bpy.context.scene.camera = cam
    cycles = cycles_image(tmp_path, 64, 64)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.gs.render_splats() == {"FINISHED"}
    px = np.empty(64 * 64 * 4, np.float32)
    bpy.data.images["Splats Render"].pixels.foreach_get(px)
    ours = px.reshape(64, 64, 4)[::-1, :, :3]
    assert ours.mean() > 0.2
    assert psnr(cycles, ours) >= 25.0


@needs_native
def test_render_splats_draws_blenders_own_splat_object(tmp_path, training_python, monkeypatch):
    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)
    data = random_splats(300, 2, normals=False, seed=8)
    data.means[:] *= 0.4
    write_ply(tmp_path / "in.ply", data)
    obj = blender_import(tmp_path / "in.ply")
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 48, 40, 100
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0.0, 0.0, 4.0), (0.0, 0.0, 0.0)  # looks down -Z
    scene.camera = cam
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.gs.render_splats() == {"FINISHED"}
    px = np.empty(48 * 40 * 4, np.float32)
    bpy.data.images["Splats Render"].pixels.foreach_get(px)
    got = px.reshape(40, 48, 4)[::-1]
    # the file's own splats from the same camera: OpenCV axes x = X, y = -Y, z = -Z, 4 units away
    viewmat = np.diag([1.0, -1.0, -1.0, 1.0])
    viewmat[2, 3] = 4.0
    f = 50.0 / 36.0 * 48
    K = np.array([[f, 0, 24], [0, f, 20], [0, 0, 1]])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    want = render_in_child(training_python, env, data, viewmat, K, 48, 40, device="cpu").clip(0, 1)
    assert want[..., 3].mean() > 0.05
    np.testing.assert_allclose(got, want, atol=1.0 / 255 + 1e-4)  # 8 bits per channel in the image


@needs_native
def test_cycles_and_render_splats_agree_on_every_sh_coefficient(tmp_path, training_python, monkeypatch):
    """15 separate opaque splats, each lit by one SH coefficient of degrees 1-3 only, seen from an
    oblique camera: the colour at each centre is the same in both (axes, signs and order of SH)."""
    from blender_gs_addon.blender.render_splats import camera_matrices

    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)
    data = SplatData.empty_like_degree(15, 3)
    data.means[:, 0] = np.linspace(-1.5, 1.5, 15)
    data.means[:, 2] = np.where(np.arange(15) % 2, 0.25, -0.25)
    data.scales_log[:] = np.log(0.06)
    data.opacity_logit[:] = 8.0
    for k in range(15):
        data.sh_rest[k, k] = (0.5, -0.4, 0.3)
    obj = api.object_from_splats(data, "Coefficients")
    scene = bpy.context.scene
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (1.2, -5.0, 1.6), (math.radians(73), 0.0, math.radians(13))
    scene.camera = cam
    cycles = cycles_image(tmp_path, 128, 64, height=64)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.gs.render_splats() == {"FINISHED"}
    px = np.empty(128 * 64 * 4, np.float32)
    bpy.data.images["Splats Render"].pixels.foreach_get(px)
    ours = px.reshape(64, 128, 4)[::-1, :, :3]
    viewmat, K, _, _ = camera_matrices(cam, scene)
    cam_pts = (viewmat[:3, :3] @ data.means.T + viewmat[:3, 3:4]).T
    uv = (K @ cam_pts.T).T
    cols, rows = (uv[:, 0] / uv[:, 2]).astype(int), (uv[:, 1] / uv[:, 2]).astype(int)
    assert np.all((cols >= 0) & (cols < 128) & (rows >= 0) & (rows < 64))
    at_ours, at_cycles = ours[rows, cols], cycles[rows, cols]
    assert (np.abs(at_ours - 0.5).max(axis=1) > 0.04).sum() >= 12  # the coefficients moved the colours
    np.testing.assert_allclose(at_cycles, at_ours, atol=0.03)


@needs_native
def test_eevee_renders_our_object_as_splats_like_cycles(tmp_path):
    """EEVEE draws our import as Blender's own splats (software GL here: slow, so small)."""
    api.object_from_splats(sheet(2000), "Sheet")
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0.0, -3.0, 0.0), (math.radians(90), 0.0, 0.0)
    bpy.context.scene.camera = cam
    cycles = cycles_image(tmp_path, 24, 16)
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_EEVEE"
    scene.eevee.taa_render_samples = 4
    scene.render.filepath = str(tmp_path / "eevee.png")
    bpy.ops.render.render(write_still=True)
    px = np.empty(24 * 24 * 4, np.float32)
    bpy.data.images.load(scene.render.filepath).pixels.foreach_get(px)
    eevee = px.reshape(24, 24, 4)[::-1, :, :3]
    assert eevee.mean() > 0.2
    assert psnr(eevee, cycles) >= 20.0


@needs_native
def test_our_object_drawn_as_points_still_exports_bit_exact(tmp_path):
    src, out = tmp_path / "in.ply", tmp_path / "out.ply"
    write_ply(src, random_splats(40, 1, seed=9))
    obj = our_import(src)
    obj.data.type = "POINTS"  # a user switched the display
    export(obj, out)
    assert out.read_bytes() == src.read_bytes()
