"""Render a splat object from a camera with our rasterizer (cuda_ext) into a Blender image.

The rasterizer needs torch. Where Blender's own Python imports it, the render runs here;
elsewhere it runs in a child process of the training interpreter (see ``splat_render``).
"""
from __future__ import annotations

import time

import bpy
import numpy as np

from ..splat_render import render_in_child, render_splats
from ..splats.sky_rows import with_sky
from .splat_objects import sky_object_of, splats_from_object


def camera_matrices(camera, scene) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(viewmat [4,4] world-to-camera OpenCV, K [3,3], width, height) of a Blender camera."""
    from procgen.render.camera_poses import c2w_opengl, intrinsics_from_blender, w2c_opencv

    intr = intrinsics_from_blender(camera.data, scene.render)
    return w2c_opencv(c2w_opengl(camera.matrix_world)), intr.K, intr.w, intr.h


def rasterize_splats(data, viewmat: np.ndarray, K: np.ndarray, width: int, height: int, device: str = "auto",
                     background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Render SplatData -> RGBA float32 [H, W, 4] (rows top-down, colours as trained: sRGB display values).

    In this process when torch imports here, else in the training interpreter.
    """
    from . import torch_env

    if torch_env.torch_in_process()[0]:
        return render_splats(data, viewmat, K, width, height, device, background)
    python = torch_env.training_interpreter()
    if python == torch_env.python_executable():
        raise RuntimeError(f"torch cannot be imported in Blender's Python ({torch_env.torch_in_process()[1]}) and "
                           "no other training interpreter is set: set one in the add-on preferences, or install "
                           "torch (Preferences > Add-ons > Gaussian Scenes > Install torch)")
    return render_in_child(python, torch_env.child_env(), data, viewmat, K, width, height, device, background,
                           package=torch_env.package_module_name())


def render_object_to_image(obj, camera, scene, image_name: str = "Splats Render", device: str = "auto"):
    """Render ``obj`` (its transform applied) from ``camera`` into bpy.data.images[image_name].

    Returns (image, seconds spent rendering, the child process included where there is one).
    """
    data = splats_from_object(obj, apply_transform=True)
    sky = sky_object_of(obj)
    if sky is not None and not sky.hide_render:  # its trained sky, where it is shown in renders
        data = with_sky(data, splats_from_object(sky, apply_transform=True))
    viewmat, K, w, h = camera_matrices(camera, scene)
    t0 = time.perf_counter()
    rgba = rasterize_splats(data, viewmat, K, w, h, device)
    seconds = time.perf_counter() - t0
    image = bpy.data.images.get(image_name)
    if image is not None and (image.size[0] != w or image.size[1] != h):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(image_name, w, h, alpha=True)
    pixels = np.clip(rgba[::-1], 0.0, 1.0)  # Blender stores rows bottom-up
    image.pixels.foreach_set(np.ascontiguousarray(pixels).reshape(-1))
    image.update()
    return image, seconds
