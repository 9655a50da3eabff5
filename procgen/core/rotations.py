"""Unit quaternions (w, x, y, z) and rotation matrices in numpy (bpy-free).

Quaternions of any norm are accepted and normalised first: splat files store them
unnormalised. The torch version is ``cuda_ext.quaternions.quat_to_rotmat`` (tested equal).
"""
from __future__ import annotations

import numpy as np


def matrix_entries(w, x, y, z) -> list:
    """The nine entries, row by row, of the rotation of the unit quaternion (w, x, y, z)."""
    return [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]


def quat_to_matrix(q) -> np.ndarray:
    """Quaternions [..., 4] (w, x, y, z), any norm -> rotation matrices [..., 3, 3] (float64)."""
    q = np.asarray(q, np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-30)
    entries = matrix_entries(*np.moveaxis(q, -1, 0))
    return np.stack(entries, axis=-1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quat(m) -> np.ndarray:
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] (w, x, y, z) with w >= 0 (float64).

    Of the four ways to recover a quaternion, each uses the one whose pivot component is
    largest, so no division by a small number happens for any rotation.
    """
    m = np.asarray(m, np.float64)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    # row k: 4 |q_k| q (unnormalised) computed from component k's formula
    cand = np.stack([
        np.stack([1 + tr, m21 - m12, m02 - m20, m10 - m01], -1),
        np.stack([m21 - m12, 1 + 2 * m00 - tr, m01 + m10, m02 + m20], -1),
        np.stack([m02 - m20, m01 + m10, 1 + 2 * m11 - tr, m12 + m21], -1),
        np.stack([m10 - m01, m02 + m20, m12 + m21, 1 + 2 * m22 - tr], -1),
    ], axis=-2)  # [..., 4 candidates, 4]
    pivot = np.stack([1 + tr, 1 + 2 * m00 - tr, 1 + 2 * m11 - tr, 1 + 2 * m22 - tr], -1)
    best = np.argmax(pivot, axis=-1)[..., None, None]
    q = np.take_along_axis(cand, best, axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quat_multiply(a, b) -> np.ndarray:
    """Hamilton product a * b of (w, x, y, z) quaternions, broadcasting [..., 4] (float64)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, np.float64), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)
