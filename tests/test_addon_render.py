"""Render Splats: the operator's image equals the rasterizer's picture from a hand-built camera."""
from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

import blender_gs_addon
from blender_gs_addon.blender import api
from test_splats_io import random_splats

pytestmark = pytest.mark.blender
torch = pytest.importorskip("torch", reason="Render Splats needs torch")


@pytest.fixture(autouse=True)
def addon():
    blender_gs_addon.register()
    yield
    blender_gs_addon.unregister()


def test_render_splats_matches_rasterizer_with_hand_built_camera():
    from blender_gs_addon.cuda_ext import rasterize

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 64, 48, 100
    cam_data = bpy.data.cameras.new("Cam")
    cam_data.lens, cam_data.sensor_width, cam_data.sensor_fit = 50.0, 36.0, "AUTO"
    cam = bpy.data.objects.new("Cam", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (0.0, -4.0, 0.0)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)  # looks along +Y
    scene.camera = cam
    data = random_splats(200, 1, seed=11)
    data.means[:] = np.clip(data.means * 0.4, -0.8, 0.8)
    obj = api.object_from_splats(data, "S")
    obj.location = (0.2, 0.0, -0.1)
    bpy.context.view_layer.update()
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.gs.render_splats() == {"FINISHED"}
    image = bpy.data.images["Splats Render"]
    assert tuple(image.size) == (64, 48)
    pixels = np.empty(64 * 48 * 4, np.float32)
    image.pixels.foreach_get(pixels)
    got = pixels.reshape(48, 64, 4)[::-1]  # Blender rows are bottom-up
    # OpenCV camera: x = world X, y (down) = world -Z, z (forward) = world +Y; sensor 36 mm spans the width
    viewmat = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 4], [0, 0, 0, 1]], np.float32)
    f = 50.0 / 36.0 * 64
    K = np.array([[f, 0, 32], [0, f, 24], [0, 0, 1]], np.float32)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    colors = np.concatenate([data.sh_dc[:, None], data.sh_rest], axis=1)
    rgb, alpha, _, _ = rasterize(t(data.means + np.array([0.2, 0.0, -0.1], np.float32)), t(data.quats),
                                 t(data.scales()), t(data.alphas()), t(colors), t(viewmat), t(K), 64, 48,
                                 sh_degree=1)
    want = np.concatenate([rgb.numpy(), alpha.numpy()], -1).clip(0, 1)
    assert want[..., 3].mean() > 0.05
    np.testing.assert_allclose(got, want, atol=1.0 / 255 + 1e-4)  # the image stores 8 bits per channel


def test_render_splats_needs_a_camera():
    obj = api.object_from_splats(random_splats(5, 0), "S")
    bpy.context.view_layer.objects.active = obj
    assert not bpy.ops.gs.render_splats.poll()
