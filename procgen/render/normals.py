"""Per-pixel normals: Blender's world-space Normal pass -> unit camera-space normals (OpenCV axes)."""
from __future__ import annotations

import numpy as np

from .camera_poses import c2w_opencv


def world_to_camera_normals(normal_world: np.ndarray, c2w_gl: np.ndarray,
                            valid: np.ndarray | None = None) -> np.ndarray:
    """Unit normals [H, W, 3] float32 in OpenCV camera axes; zero where ``valid`` [H, W] is False."""
    rot_w2c = c2w_opencv(c2w_gl)[:3, :3].T  # rotation only: normals do not translate
    n = np.asarray(normal_world, dtype=np.float64) @ rot_w2c.T
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    ok = length[..., 0] > 1e-8
    if valid is not None:
        ok &= valid
    out = np.zeros_like(n)
    out[ok] = n[ok] / length[ok]
    return out.astype(np.float32)
