"""OpenGL and OpenCV camera axes (bpy-free).

OpenGL (Blender cameras, transforms.json): x right, y up, looking along -z.
OpenCV (COLMAP, the rasterizer): x right, y down, looking along +z.
The same camera in both differs by a half turn about its x axis: flip y and z.
"""
from __future__ import annotations

import numpy as np

GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])  # [4, 4], its own inverse


def c2w_opencv(c2w_gl: np.ndarray) -> np.ndarray:
    """Camera-to-world [4, 4] with OpenGL camera axes -> the same with OpenCV axes (float64)."""
    return np.asarray(c2w_gl, np.float64) @ GL_TO_CV


def w2c_opencv(c2w_gl: np.ndarray) -> np.ndarray:
    """World-to-camera [4, 4] in OpenCV camera axes (a view matrix) from an OpenGL camera-to-world."""
    return np.linalg.inv(c2w_opencv(c2w_gl))
