"""Viewing splats in Cycles: the trained colour, faded by opacity; discs sized by radius, or Blender's own splats."""
from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from blender_gs_addon.blender import api, native_splats
from blender_gs_addon.splats import SH_C0, SplatData

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]


def render_cycles(tmp_path, size=32, samples=4) -> np.ndarray:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    if scene.world is None:
        scene.world = bpy.data.worlds.new("World")
    scene.world.color = (0.0, 0.0, 0.0)
    if scene.world.node_tree is not None and "Background" in scene.world.node_tree.nodes:
        scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (0, 0, 0, 1)
    scene.render.filepath = str(tmp_path / "render.png")
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(tmp_path / "render.png"))
    px = np.empty(size * size * 4, np.float32)
    img.pixels.foreach_get(px)
    return px.reshape(size, size, 4)[::-1]


def splats(colours_srgb, alphas, xs, radius_sigma) -> SplatData:
    n = len(alphas)
    data = SplatData.empty_like_degree(n, 0)
    data.means[:, 0] = xs
    data.sh_dc[:] = (np.asarray(colours_srgb, np.float32) - 0.5) / SH_C0
    a = np.asarray(alphas, np.float64)
    data.opacity_logit[:] = np.log(a / (1 - a))
    data.scales_log[:] = np.log(radius_sigma / 1.5)  # display radius = 1.5 sigma
    return data


def srgb(c):
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.maximum(c, 0) ** (1 / 2.4) - 0.055)


def lin(c):
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def test_cycles_shows_splat_colours_faded_by_opacity(tmp_path):
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    # perspective: Cycles draws no Gaussian-splat point clouds through an orthographic camera
    cam.data.lens, cam.data.sensor_width, cam.data.sensor_fit = 50.0, 36.0, "HORIZONTAL"
    cam.location = (0.0, -4.0 * 50.0 / 36.0, 0.0)  # 4 units across the picture at y = 0
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    bpy.context.scene.camera = cam
    colours = [(0.9, 0.2, 0.1), (0.1, 0.6, 0.8)]
    obj = api.object_from_splats(splats(colours, [0.999, 0.5], [-1.0, 1.0], 0.6), "S")
    bpy.ops.object.select_all(action="DESELECT")
    img = render_cycles(tmp_path, samples=128 if native_splats.is_native(obj) else 4)  # splats: stochastic
    # 4 units over 32 px: x = -1 -> column 8, x = +1 -> column 24; z = 0 -> row 16
    opaque, half = img[16, 8, :3], img[16, 24, :3]
    np.testing.assert_allclose(opaque, colours[0], atol=0.04)  # the trained (sRGB) colour, as stored in PNG
    # half opacity over black: half the linear light
    np.testing.assert_allclose(lin(half), 0.5 * lin(np.array(colours[1])), atol=0.03)
    if native_splats.is_native(obj):  # a Gaussian of sigma 0.4 units = 3.2 px, blended in linear light
        # pixel (16 + i, 8 + j) has its centre (i + 0.5, j + 0.5) px from the splat's centre
        falloff = lambda px: srgb(0.999 * np.exp(-0.5 * (np.hypot(px + 0.5, 0.5) / 3.2) ** 2)  # noqa: E731
                                  * lin(colours[0][0]))
        assert abs(img[16, 8 + 7, 0] - falloff(7)) < 0.07 and abs(img[16 + 7, 8, 0] - falloff(7)) < 0.07  # pixel filter
        assert img[16 + 12, 8, :3].max() < 0.04
    else:  # discs sized by radius: 0.6 units = 4.8 px; 7 px away from the centre there is nothing
        assert img[16, 8 + 7, :3].max() < 0.02 and img[16 + 7, 8, :3].max() < 0.02
        assert img[16, 8 + 3, :3].max() > 0.5
