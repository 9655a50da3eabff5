"""Optical flow from Blender's Vector pass.

The Vector pass holds, per pixel, (previous - current, current - next) screen positions in
pixels with the origin at the bottom left: channels X, Y = towards frame t-1, Z, W = towards
t+1 (negated). In the dataset's convention (x right, y down, "where this pixel is in the
other frame" minus "where it is now"):
    forward  = (-Z, +W)
    backward = ( X, -Y)
tests/test_render_geometry.py proves this against reprojected depth.

Pixels without a surface (depth inf) get ``rotation_flow``: where their viewing direction is
seen from the other camera (the Vector pass holds 0 there).
"""
from __future__ import annotations

import numpy as np

from ..core.axes import c2w_opencv


def flow_from_vector(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flow [H, W, 2] float32 from a Vector pass [H, W, 4]."""
    v = np.asarray(vector, dtype=np.float32)
    fwd = np.stack([-v[..., 2], v[..., 3]], axis=-1)
    bwd = np.stack([v[..., 0], -v[..., 1]], axis=-1)
    return fwd, bwd


def rotation_flow(shape: tuple[int, int], K_a: np.ndarray, c2w_a: np.ndarray, K_b: np.ndarray,
                  c2w_b: np.ndarray) -> np.ndarray:
    """Flow [H, W, 2] float32 of directions at infinity (the sky) from camera a to camera b.

    A pixel without a surface sees a direction, not a point: in camera b it lies where that
    direction projects, whatever the cameras' positions (the rotation-only reprojection, the
    homography ``K_b R_b^T R_a K_a^-1``). Poses are camera-to-world with OpenGL axes
    (transforms.json); a direction behind camera b has no image there and gets NaN.
    """
    h, w = shape
    R_a = c2w_opencv(c2w_a)[:3, :3]
    R_b = c2w_opencv(c2w_b)[:3, :3]
    H = np.asarray(K_b, np.float64) @ R_b.T @ R_a @ np.linalg.inv(np.asarray(K_a, np.float64))
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    p = np.stack([u, v, np.ones_like(u)], axis=-1) @ H.T  # [H, W, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(p[..., 2] > 0, p[..., 0] / p[..., 2], np.nan)
        y = np.where(p[..., 2] > 0, p[..., 1] / p[..., 2], np.nan)
    return np.stack([x - u, y - v], axis=-1).astype(np.float32)
