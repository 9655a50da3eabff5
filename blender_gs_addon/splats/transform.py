"""Bake an affine object transform into splats (bpy-free).

Supported: rotation, translation, uniform scale, and non-uniform scale along the
object's own axes (matrix = T @ R @ diag(s)), mirrors included. Shear (a matrix whose
columns are not orthogonal) is rejected: SH colour has no meaning under shear.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from procgen.core.rotations import matrix_to_quat, quat_multiply, quat_to_matrix

from .data import SplatData
from .sh_rotation import rotate_sh_rest


class TransformError(ValueError):
    """The transform cannot be baked into splats (e.g. it has shear or zero scale)."""


def decompose(matrix: np.ndarray, tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4x4 affine -> (translation [3], orthogonal Q [3,3] (det +-1), positive scales [3]) with A = Q diag(s)."""
    M = np.asarray(matrix, np.float64)
    if M.shape != (4, 4) or not np.allclose(M[3], (0, 0, 0, 1)):
        raise TransformError("the transform is not affine (last row must be 0 0 0 1)")
    A = M[:3, :3]
    s = np.linalg.norm(A, axis=0)
    if (s < 1e-12).any():
        raise TransformError("the transform has a zero scale; splats would collapse")
    Q = A / s
    off = Q.T @ Q - np.eye(3)
    if np.abs(off).max() > tol:
        raise TransformError("the transform has shear (non-uniform scale of a rotated child, or a sheared parent); "
                             "only rotation, translation and scale along the object's own axes can be baked")
    return M[:3, 3].copy(), Q, s


def is_identity(matrix: np.ndarray) -> bool:
    return bool(np.array_equal(np.asarray(matrix, np.float64), np.eye(4)))


def bake_transform(data: SplatData, matrix: np.ndarray) -> SplatData:
    """Splats in world space for an object whose 4x4 world matrix is ``matrix``.

    Positions get the full affine map; covariances become A Sigma A^T (re-factored into
    rotation and log-scales); SH bands 1..3 are rotated by the orthogonal part. An
    identity matrix returns the data unchanged (bit-exact export).
    """
    if is_identity(matrix):
        return data
    t, Q, s = decompose(matrix)
    A = Q * s
    means = (data.means.astype(np.float64) @ A.T + t).astype(np.float32)
    uniform = np.allclose(s, s[0], rtol=1e-6) and np.linalg.det(Q) > 0
    if uniform:
        qR = matrix_to_quat(Q[None])[0]
        quats = quat_multiply(qR, data.quats).astype(np.float32)
        scales_log = (data.scales_log.astype(np.float64) + np.log(s[0])).astype(np.float32)
    else:
        # Sigma' = (A R S)(A R S)^T; its eigen-decomposition gives the new axes and scales
        B = A @ (quat_to_matrix(data.quats) * np.exp(data.scales_log.astype(np.float64))[:, None, :])
        w, V = np.linalg.eigh(B @ np.transpose(B, (0, 2, 1)))
        V[np.linalg.det(V) < 0, :, 2] *= -1  # proper rotation
        quats = matrix_to_quat(V).astype(np.float32)
        scales_log = (0.5 * np.log(np.maximum(w, 1e-300))).astype(np.float32)
    sh_rest = rotate_sh_rest(data.sh_rest, Q) if data.sh_rest.shape[1] else data.sh_rest
    normals = None if data.normals is None else (data.normals.astype(np.float64) @ Q.T).astype(np.float32)
    return dataclasses.replace(data, means=np.ascontiguousarray(means), quats=np.ascontiguousarray(quats),
                               scales_log=np.ascontiguousarray(scales_log), sh_rest=sh_rest, normals=normals)
