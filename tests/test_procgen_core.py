"""The shared helpers (procgen.core) against independent constructions."""
from __future__ import annotations

import os

import numpy as np
import pytest

from procgen.core import atomic, axes
from procgen.core.rotations import matrix_to_quat, quat_multiply, quat_to_matrix


def rodrigues(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation [3, 3] by ``angle`` about the unit ``axis``: I + sin(a) K + (1 - cos(a)) K^2."""
    x, y, z = axis
    K = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def axis_angles(n: int, seed: int):
    """Random unit axes, and angles over the whole range with the half turn included (the hard case)."""
    rng = np.random.default_rng(seed)
    axes_ = rng.normal(size=(n, 3))
    axes_ /= np.linalg.norm(axes_, axis=1, keepdims=True)
    angles = rng.uniform(0, np.pi, n)
    angles[:4] = np.pi  # trace -1: the w pivot vanishes, an x/y/z pivot must be used
    axes_[1:4] = np.eye(3)  # half turns about x, y, z: each of those pivots is the only one
    angles[4] = 0.0  # the identity
    return axes_, angles


def test_quaternion_to_matrix_matches_axis_angle():
    ax, ang = axis_angles(200, 0)
    q = np.concatenate([np.cos(ang / 2)[:, None], np.sin(ang / 2)[:, None] * ax], axis=1)
    scale = np.random.default_rng(1).uniform(0.1, 10, (len(q), 1))  # stored quaternions are not unit
    want = np.stack([rodrigues(a, t) for a, t in zip(ax, ang)])
    np.testing.assert_allclose(quat_to_matrix(q * scale), want, atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(-q), want, atol=1e-12)  # q and -q are one rotation


def test_matrix_to_quaternion_inverts_axis_angle_with_w_non_negative():
    ax, ang = axis_angles(200, 2)
    R = np.stack([rodrigues(a, t) for a, t in zip(ax, ang)])
    q = matrix_to_quat(R)
    want = np.concatenate([np.cos(ang / 2)[:, None], np.sin(ang / 2)[:, None] * ax], axis=1)
    want[want[:, 0] < 0] *= -1
    assert (q[:, 0] >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    # at a half turn (w = 0) q and -q both have w >= 0: compare the rotations there
    turn = np.isclose(ang, np.pi)
    np.testing.assert_allclose(q[~turn], want[~turn], atol=1e-9)
    np.testing.assert_allclose(quat_to_matrix(q[turn]), R[turn], atol=1e-12)


def test_rotations_broadcast_over_leading_axes():
    q = np.random.default_rng(3).normal(size=(2, 5, 4))
    R = quat_to_matrix(q)
    assert R.shape == (2, 5, 3, 3)
    np.testing.assert_allclose(R[1, 3], quat_to_matrix(q[1, 3]), atol=0)
    assert matrix_to_quat(R).shape == (2, 5, 4)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(R)), R, atol=1e-12)


def test_quaternion_product_composes_rotations():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    np.testing.assert_allclose(quat_to_matrix(quat_multiply(a, b)), quat_to_matrix(a) @ quat_to_matrix(b),
                               atol=1e-12)


def test_torch_rotation_matches_numpy_and_has_exact_gradients():
    torch = pytest.importorskip("torch")
    from cuda_ext.quaternions import quat_to_rotmat

    q = torch.tensor(np.random.default_rng(5).normal(size=(3, 7, 4)), dtype=torch.float64, requires_grad=True)
    R = quat_to_rotmat(q)
    assert R.shape == (3, 7, 3, 3) and R.dtype == torch.float64
    np.testing.assert_allclose(R.detach().numpy(), quat_to_matrix(q.detach().numpy()), atol=1e-12)
    assert torch.autograd.gradcheck(quat_to_rotmat, (q[0],))
    assert torch.isfinite(quat_to_rotmat(torch.zeros(1, 4))).all()  # a zero quaternion gives no NaN


def test_gl_to_cv_puts_what_the_camera_sees_at_positive_depth():
    # a camera at c looking at target t with world z up, built from its OpenGL axes (it looks along -z)
    c, t = np.array([3.0, -4.0, 2.0]), np.array([0.5, 1.0, 0.0])
    back = (c - t) / np.linalg.norm(c - t)
    right = np.cross([0.0, 0.0, 1.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    c2w_gl = np.eye(4)
    c2w_gl[:3, :3] = np.stack([right, up, back], axis=1)
    c2w_gl[:3, 3] = c
    view = axes.w2c_opencv(c2w_gl)
    target_cam = view @ np.append(t, 1.0)
    np.testing.assert_allclose(target_cam[:3], [0.0, 0.0, np.linalg.norm(c - t)], atol=1e-12)
    above = view @ np.append(t + up, 1.0)  # above the target in the picture: y down in OpenCV axes
    assert above[1] < -0.5
    np.testing.assert_allclose(axes.c2w_opencv(c2w_gl) @ axes.GL_TO_CV, c2w_gl, atol=0)


class Boom(Exception):
    pass


def test_atomic_write_replaces_the_file_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    atomic.write_bytes(path, [b"head", np.arange(3, dtype="<u2"), (b"%d" % i for i in range(3))])
    assert path.read_bytes() == b"head" + np.arange(3, dtype="<u2").tobytes() + b"012"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["out.bin"]
    atomic.write_text(tmp_path / "t.txt", "a\nb\n")
    assert (tmp_path / "t.txt").read_bytes() == b"a\nb\n"


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "data.npy"
    np.save(path, np.arange(4))

    def chunks():
        yield b"partial"
        raise error()

    with pytest.raises(error):
        atomic.write_bytes(path, [chunks()])
    with pytest.raises(error):
        with atomic.atomic_path(path, suffix=".npy") as tmp:
            np.save(tmp, np.zeros(9))
            assert os.path.exists(tmp) and tmp.endswith(".npy")
            raise error()
    np.testing.assert_array_equal(np.load(path), np.arange(4))
    assert os.listdir(tmp_path) == ["data.npy"]


def test_atomic_path_hands_a_name_in_the_same_folder_that_does_not_exist_yet(tmp_path):
    with atomic.atomic_path(tmp_path / "scene.blend", suffix=".blend") as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and tmp.endswith(".blend")
        assert not os.path.exists(tmp)  # writers that back up what they overwrite leave no backup
        with open(tmp, "wb") as f:
            f.write(b"BLENDER")
    assert (tmp_path / "scene.blend").read_bytes() == b"BLENDER"
    assert os.listdir(tmp_path) == ["scene.blend"]
