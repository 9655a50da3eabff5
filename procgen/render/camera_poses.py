"""Camera intrinsics and poses from Blender cameras (bpy-free: works on duck-typed objects).

Conventions:
- Pixel coordinates are continuous, x right, y down, origin at the top-left corner of the
  image, so the centre of pixel (col, row) is (col + 0.5, row + 0.5); cx = w / 2 without shift.
- ``c2w`` (transforms.json) is camera-to-world with OpenGL camera axes (x right, y up,
  looking along -z): Blender's camera ``matrix_world`` without scale.
- OpenCV camera axes are x right, y down, looking along +z: ``c2w_cv = c2w_gl @ diag(1, -1, -1, 1)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.axes import c2w_opencv, w2c_opencv


@dataclass(frozen=True)
class Intrinsics:
    fl_x: float
    fl_y: float
    cx: float
    cy: float
    w: int
    h: int

    @property
    def K(self) -> np.ndarray:  # [3, 3]
        return np.array([[self.fl_x, 0.0, self.cx], [0.0, self.fl_y, self.cy], [0.0, 0.0, 1.0]])

    def as_dict(self) -> dict:
        return {"fl_x": self.fl_x, "fl_y": self.fl_y, "cx": self.cx, "cy": self.cy, "w": self.w, "h": self.h}


def render_size(render) -> tuple[int, int]:
    """(width, height) in pixels of a scene's render settings, resolution percentage applied."""
    w = int(render.resolution_x * render.resolution_percentage / 100)
    h = int(render.resolution_y * render.resolution_percentage / 100)
    return w, h


def intrinsics_from_blender(cam_data, render) -> Intrinsics:
    """Pinhole intrinsics of a perspective Blender camera (``bpy.types.Camera``) for ``scene.render``.

    Follows Blender's own projection: sensor fit (AUTO / HORIZONTAL / VERTICAL), focal
    length in mm, lens shift (in units of the larger image side) and pixel aspect ratio.
    """
    if cam_data.type != "PERSP":
        raise ValueError(f"camera '{cam_data.name}' is {cam_data.type}; only perspective cameras are supported")
    w, h = render_size(render)
    aspect_x, aspect_y = float(render.pixel_aspect_x), float(render.pixel_aspect_y)
    pixel_ratio = aspect_y / aspect_x  # height of a pixel over its width
    fit = cam_data.sensor_fit
    sensor = cam_data.sensor_height if fit == "VERTICAL" else cam_data.sensor_width
    if fit == "AUTO":
        fit = "HORIZONTAL" if w * aspect_x >= h * aspect_y else "VERTICAL"
    view_extent = w if fit == "HORIZONTAL" else pixel_ratio * h  # image extent the sensor spans, in x pixels
    fl_x = cam_data.lens / sensor * view_extent
    fl_y = fl_x / pixel_ratio
    cx = w / 2.0 - cam_data.shift_x * view_extent
    cy = h / 2.0 + cam_data.shift_y * view_extent / pixel_ratio
    return Intrinsics(float(fl_x), float(fl_y), float(cx), float(cy), w, h)


def c2w_opengl(matrix_world) -> np.ndarray:
    """Camera-to-world [4, 4] in OpenGL camera axes from a Blender ``matrix_world`` (scale removed)."""
    m = np.array(matrix_world, dtype=np.float64).reshape(4, 4)
    m[:3, :3] /= np.linalg.norm(m[:3, :3], axis=0, keepdims=True)
    return m


def project(points: np.ndarray, K: np.ndarray, c2w_gl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points [N, 3] to pixels [N, 2] (x right, y down) and their z-depth [N]."""
    w2c = w2c_opencv(c2w_gl)
    cam = points @ w2c[:3, :3].T + w2c[:3, 3]
    z = cam[:, 2]
    uv = (cam[:, :2] / z[:, None]) * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
    return uv, z


def unproject_depth(depth: np.ndarray, K: np.ndarray, c2w_gl: np.ndarray) -> np.ndarray:
    """World points [H, W, 3] of the pixel centres of a planar z-depth map [H, W]."""
    h, w = depth.shape
    u = (np.arange(w) + 0.5 - K[0, 2]) / K[0, 0]
    v = (np.arange(h) + 0.5 - K[1, 2]) / K[1, 1]
    cam = np.empty((h, w, 3))
    cam[..., 0] = u[None, :] * depth
    cam[..., 1] = v[:, None] * depth
    cam[..., 2] = depth
    c2w = c2w_opencv(c2w_gl)
    return cam @ c2w[:3, :3].T + c2w[:3, 3]
