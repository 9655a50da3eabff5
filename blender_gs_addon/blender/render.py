"""Render a splat object from a camera with our rasterizer (cuda_ext) into a Blender image."""
from __future__ import annotations

import time

import bpy
import numpy as np

from .pointcloud import splats_from_object


def camera_matrices(camera, scene) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(viewmat [4,4] world-to-camera OpenCV, K [3,3], width, height) of a Blender camera."""
    from ..procgen.render.cameras import c2w_opengl, intrinsics_from_blender, w2c_opencv

    intr = intrinsics_from_blender(camera.data, scene.render)
    return w2c_opencv(c2w_opengl(camera.matrix_world)), intr.K, intr.w, intr.h


def rasterize_splats(data, viewmat: np.ndarray, K: np.ndarray, width: int, height: int, device: str = "auto",
                     background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Render SplatData -> RGBA float32 [H, W, 4] (rows top-down, colours as trained: sRGB display values)."""
    import torch

    from ..cuda_ext import rasterize

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(dev)

    colors = np.concatenate([data.sh_dc[:, None, :], data.sh_rest], axis=1)  # [N, K, 3]
    with torch.no_grad():
        rgb, alpha, _, _ = rasterize(t(data.means), t(data.quats), t(data.scales()), t(data.alphas()), t(colors),
                                     t(viewmat), t(K), int(width), int(height), sh_degree=data.sh_degree,
                                     background=t(np.asarray(background)))
    out = np.empty((height, width, 4), np.float32)
    out[..., :3] = rgb.cpu().numpy()
    out[..., 3] = alpha.cpu().numpy()[..., 0]
    return out


def render_object_to_image(obj, camera, scene, image_name: str = "Splats Render", device: str = "auto"):
    """Render ``obj`` (its transform applied) from ``camera`` into bpy.data.images[image_name].

    Returns (image, seconds spent rasterizing).
    """
    data = splats_from_object(obj, apply_transform=True)
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
