"""SH rotation and transform baking, checked against direct evaluation and covariance algebra."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import random_splats

from blender_gs_addon.splats.sh_rotation import band_rotation_matrices, eval_sh_colour, rotate_sh_rest, sh_basis
from blender_gs_addon.splats.transform import TransformError, bake_transform
from procgen.core.rotations import matrix_to_quat, quat_to_matrix


def random_rotation(seed: int) -> np.ndarray:
    return quat_to_matrix(np.random.default_rng(seed).normal(size=(1, 4)))[0]


def test_sh_basis_is_orthonormal_on_the_sphere():
    # Monte Carlo over uniform directions: integral Y_i Y_j = delta_ij
    d = np.random.default_rng(0).normal(size=(400000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    Y = sh_basis(3, d)
    gram = 4 * np.pi * (Y.T @ Y) / len(d)
    np.testing.assert_allclose(gram, np.eye(16), atol=0.02)


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_rotated_sh_seen_from_rotated_direction_matches(degree):
    rng = np.random.default_rng(degree)
    data = random_splats(30, degree, seed=degree)
    for seed in range(3):
        R = random_rotation(10 * degree + seed)
        if seed == 2:
            R = R @ np.diag([1.0, -1.0, 1.0])  # a mirror too
        dirs = rng.normal(size=(30, 3))
        before = eval_sh_colour(data.sh_dc, data.sh_rest, dirs)
        after = eval_sh_colour(data.sh_dc, rotate_sh_rest(data.sh_rest, R), dirs @ R.T)
        np.testing.assert_allclose(after, before, atol=2e-5)


def test_band_one_rotation_is_the_permuted_rotation_matrix():
    # band 1 in the 3DGS order is proportional to (-y, z, -x): M_1 = P R P^T with P that permutation
    R = random_rotation(5)
    P = np.array([[0, -1, 0], [0, 0, 1], [-1, 0, 0]], float)
    np.testing.assert_allclose(band_rotation_matrices(R, 1)[0], P @ R @ P.T, atol=1e-12)


def covariances(quats, scales_log):
    M = quat_to_matrix(quats) * np.exp(scales_log.astype(np.float64))[:, None, :]
    return M @ np.transpose(M, (0, 2, 1))


@pytest.mark.parametrize("scale", [(2.0, 2.0, 2.0), (0.5, 2.0, 3.0), (-1.5, 1.5, 1.5)])
def test_bake_transform_maps_means_covariances_and_sh(scale):
    data = random_splats(40, 3, seed=1)
    R = random_rotation(3)
    A = R @ np.diag(scale)
    M = np.eye(4)
    M[:3, :3] = A
    M[:3, 3] = (1.0, -2.0, 0.5)
    out = bake_transform(data, M)
    np.testing.assert_allclose(out.means, data.means @ A.T + M[:3, 3], atol=1e-5)
    want = A @ covariances(data.quats, data.scales_log) @ A.T
    np.testing.assert_allclose(covariances(out.quats, out.scales_log), want, rtol=1e-4, atol=1e-8)
    Q = A / np.abs(np.array(scale))
    dirs = np.random.default_rng(0).normal(size=(40, 3))
    np.testing.assert_allclose(eval_sh_colour(out.sh_dc, out.sh_rest, dirs @ Q.T),
                               eval_sh_colour(data.sh_dc, data.sh_rest, dirs), atol=3e-5)
    np.testing.assert_array_equal(out.opacity_logit, data.opacity_logit)


def test_identity_transform_returns_data_unchanged():
    data = random_splats(5, 2)
    assert bake_transform(data, np.eye(4)) is data


def test_shear_is_rejected_clearly():
    M = np.eye(4)
    M[0, 1] = 0.5
    with pytest.raises(TransformError, match="shear"):
        bake_transform(random_splats(3, 0), M)


def test_quaternion_matrix_round_trip():
    q = np.random.default_rng(2).normal(size=(1000, 4))
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(quat_to_matrix(q))), quat_to_matrix(q), atol=1e-12)
