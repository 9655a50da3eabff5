"""Render Splats: the operator's image equals the rasterizer's picture from a hand-built camera,
in Blender's Python when it has torch, else through the training interpreter (as in a Blender without torch)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import bpy
import numpy as np
import pytest
from helpers import random_splats

import blender_gs_addon
from blender_gs_addon.blender import api
from blender_gs_addon.splat_render import render_in_child

pytestmark = pytest.mark.blender
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def addon():
    blender_gs_addon.register()
    yield
    blender_gs_addon.unregister()


def test_render_splats_matches_rasterizer_with_hand_built_camera(training_python, monkeypatch):
    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)  # used where this Python has no torch
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
    moved = api.SplatData(**{k: getattr(data, k) for k in ("scales_log", "quats", "opacity_logit", "sh_dc", "sh_rest")},
                          means=data.means + np.array([0.2, 0.0, -0.1], np.float32))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    want = render_in_child(training_python, env, moved, viewmat, K, 64, 48, device="cpu").clip(0, 1)
    assert want[..., 3].mean() > 0.05
    np.testing.assert_allclose(got, want, atol=1.0 / 255 + 1e-4)  # the image stores 8 bits per channel


def test_render_splats_needs_a_camera():
    obj = api.object_from_splats(random_splats(5, 0), "S")
    bpy.context.view_layer.objects.active = obj
    assert not bpy.ops.gs.render_splats.poll()
