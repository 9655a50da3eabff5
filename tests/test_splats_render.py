"""Transform baking seen through the rasterizer: baked splats look exactly like the object seen
from the equivalent camera (the camera moved into the object's frame instead)."""
from __future__ import annotations

import numpy as np
from helpers import compact_scene, look_at, render_rgba

from blender_gs_addon.splats import SplatData
from blender_gs_addon.splats.transform import bake_transform, quat_to_matrix

W, H = 96, 72
K = np.array([[90.0, 0, W / 2], [0, 90.0, H / 2], [0, 0, 1]])


def scene(n=300, degree=3, seed=0) -> SplatData:
    return compact_scene(n, degree, seed, opacity_sd=1.0)


def render(data: SplatData, viewmat: np.ndarray) -> np.ndarray:
    return render_rgba(data, viewmat, K, W, H)


def object_matrix(scale, seed=4) -> np.ndarray:
    M = np.eye(4)
    M[:3, :3] = quat_to_matrix(np.random.default_rng(seed).normal(size=(1, 4)))[0] @ np.diag(scale)
    M[:3, 3] = (0.4, -0.3, 0.8)
    return M


def test_baked_rotation_and_uniform_scale_render_like_the_camera_moved_instead():
    data = scene()
    M = object_matrix((1.7, 1.7, 1.7))
    V = look_at(np.array([4.0, -5.0, 3.0]), M[:3, 3])
    baked = render(bake_transform(data, M), V)
    # the same picture: the untransformed splats seen from the camera expressed in object space;
    # dividing the view by the scale keeps it rigid and leaves every projection unchanged
    V_obj = V @ M
    V_obj[:3, :] /= 1.7
    reference = render(data, V_obj)
    assert reference[..., 3].mean() > 0.1  # the splats fill a good part of the image
    np.testing.assert_allclose(baked, reference, atol=2e-3)
    # and SH rotation matters: without rotating the coefficients the picture is different
    unrotated = bake_transform(data, M)
    unrotated.sh_rest = data.sh_rest
    assert np.abs(render(unrotated, V) - reference).max() > 0.05


def test_baked_non_uniform_scale_renders_like_the_scaled_view():
    data = scene(degree=0, seed=2)
    M = object_matrix((0.6, 1.5, 2.2), seed=9)
    V = look_at(np.array([5.0, 4.0, 2.0]), M[:3, 3])
    baked = render(bake_transform(data, M), V)
    # a view matrix that is not rigid applies the object's scale inside the projection
    reference = render(data, V @ M)
    assert reference[..., 3].mean() > 0.1
    np.testing.assert_allclose(baked, reference, atol=2e-3)
