"""Optical flow from Blender's Vector pass.

The Vector pass holds, per pixel, (previous - current, current - next) screen positions in
pixels with the origin at the bottom left: channels X, Y = towards frame t-1, Z, W = towards
t+1 (negated). In the dataset's convention (x right, y down, "where this pixel is in the
other frame" minus "where it is now"):
    forward  = (-Z, +W)
    backward = ( X, -Y)
tests/test_render_flow.py proves this against reprojected depth.
"""
from __future__ import annotations

import numpy as np


def flow_from_vector(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flow [H, W, 2] float32 from a Vector pass [H, W, 4]."""
    v = np.asarray(vector, dtype=np.float32)
    fwd = np.stack([-v[..., 2], v[..., 3]], axis=-1)
    bwd = np.stack([v[..., 0], -v[..., 1]], axis=-1)
    return fwd, bwd
