"""The rasterizer benchmark's peer adapter and comparison, checked on CPU.

The stand-in peer is our OWN rasterizer behind the peer's batched calling convention (one
image per camera, colours and depth in one [C,H,W,4] output). Getting our own images and
gradients back bit-for-bit through the adapter shows that its layout conversion is
lossless and that it passes our conventions (near plane, 2D blur, classic mode, depth kind).
"""
from __future__ import annotations

import math
import sys
import types

import pytest
import torch

from bench import bench_rasterizer as bench
from bench import peer_rasterizer as peer
from cuda_ext import rasterize

STAND_IN = "gs_test_stand_in_peer"


def _stand_in_rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height,
                            near_plane, eps2d, sh_degree, packed, tile_size, backgrounds, render_mode,
                            rasterize_mode):
    """Our rasterizer in the peer's batched convention; only our own semantics are accepted."""
    if (near_plane, eps2d, tile_size, render_mode, rasterize_mode) != (0.2, 0.3, 16, "RGB+D", "classic"):
        raise ValueError(f"stand-in: conventions differ from ours: {near_plane}, {eps2d}, {tile_size}, "
                         f"{render_mode}, {rasterize_mode}")
    assert isinstance(packed, bool)
    images, alphas = [], []
    for c in range(viewmats.shape[0]):
        rgb, alpha, depth, _ = rasterize(means, quats, scales, opacities, colors, viewmats[c], Ks[c],
                                         width, height, sh_degree=sh_degree,
                                         background=None if backgrounds is None else backgrounds[c])
        images.append(torch.cat([rgb, depth], dim=-1))
        alphas.append(alpha)
    return torch.stack(images), torch.stack(alphas), {}


def _posed_scene(n: int, width: int, height: int, seed: int) -> dict:
    """The benchmark scene seen by a rotated, shifted camera (a non-symmetric world-to-camera
    matrix, so a transposed or misplaced camera could not pass unnoticed)."""
    scene = bench.make_scene(n, width, height, seed=seed)
    a = 0.3
    cam_to_world = torch.tensor([[math.cos(a), 0.0, math.sin(a), 0.4], [0.0, 1.0, 0.0, -0.3],
                                 [-math.sin(a), 0.0, math.cos(a), 0.2], [0.0, 0.0, 0.0, 1.0]])
    scene["means"] = scene["means"] @ cam_to_world[:3, :3].T + cam_to_world[:3, 3]
    scene["viewmat"] = torch.linalg.inv(cam_to_world)
    return scene


@pytest.fixture
def stand_in(monkeypatch):
    mod = types.ModuleType(STAND_IN)
    mod.rasterization = _stand_in_rasterization
    mod.__version__ = "0-test"
    monkeypatch.setitem(sys.modules, STAND_IN, mod)
    return mod


def test_adapter_gives_our_image_and_gradients_back_bit_for_bit(stand_in):
    scene = _posed_scene(3_000, 80, 56, seed=5)
    mod, version = peer.load_peer(STAND_IN)
    assert version == "0-test"
    for packed in (True, False):
        ours, g_ours = bench._outputs_and_grads(rasterize, scene, 80, 56, "cpu")
        theirs, g_theirs = bench._outputs_and_grads(peer.make_peer_rasterize(mod, packed), scene, 80, 56, "cpu")
        assert float(ours[1].detach().max()) > 0.5  # the scene covers the image: the check has something to compare
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and torch.equal(a, b)
        for name in bench.DIFF_INPUTS:
            assert g_ours[name].abs().max() > 0
            assert torch.equal(g_ours[name], g_theirs[name]), name
        d = peer.compare_images(ours, theirs)
        assert d["max_abs_diff_rgb"] == 0.0 and d["max_abs_diff_depth"] == 0.0


def test_adapter_passes_background_through(stand_in):
    scene = _posed_scene(500, 48, 32, seed=2)
    bg = torch.tensor([0.2, 0.5, 0.9])
    args = [scene[k] for k in ("means", "quats", "scales", "opacities", "colors", "viewmat", "K")]
    ours = rasterize(*args, 48, 32, sh_degree=3, background=bg)
    theirs = peer.make_peer_rasterize(stand_in)(*args, 48, 32, sh_degree=3, background=bg)
    for a, b in zip(ours[:3], theirs[:3]):
        assert torch.equal(a, b)


def test_differences_are_measured_not_assumed():
    a = (torch.zeros(4, 5, 3), torch.zeros(4, 5, 1), torch.zeros(4, 5, 1))
    b = (a[0].clone(), a[1].clone(), a[2].clone())
    b[0][1, 2, 0] = 0.25
    d = peer.compare_images(a, b)
    assert d["max_abs_diff_rgb"] == 0.25
    assert d["fraction_rgb_values_off_by_more_than_1e-3"] == pytest.approx(1 / 60)
    g = peer.compare_gradients({"means": torch.tensor([2.0, -4.0])}, {"means": torch.tensor([2.0, -3.0])})
    assert g["grad_rel_max_diff_means"] == pytest.approx(0.25)


def test_unexpected_peer_shapes_and_missing_modules_fail_loudly(monkeypatch):
    with pytest.raises(peer.PeerError, match="expected"):
        peer.split_outputs(torch.zeros(1, 8, 8, 3), torch.zeros(1, 8, 8, 1), 8, 8)
    with pytest.raises(peer.PeerError, match="cannot import"):
        peer.load_peer("gs_test_no_such_module_anywhere")
    empty = types.ModuleType("gs_test_empty_peer")
    monkeypatch.setitem(sys.modules, "gs_test_empty_peer", empty)
    with pytest.raises(peer.PeerError, match="rasterization"):
        peer.load_peer("gs_test_empty_peer")
    empty.rasterization = lambda means, quats, scales, opacities, colors, viewmat, K, width, height: None
    with pytest.raises(peer.PeerError, match="lacks the arguments"):
        peer.load_peer("gs_test_empty_peer")


def test_comparison_section_on_cpu_with_stand_in(stand_in):
    case = (2_000, 64, 48)
    sec = bench.compare_section([case], "cpu", STAND_IN, repeats=2, budget_s=2.0, cross_check_case=case)
    assert sec["errors"] == []
    assert sec["peer"]["version"] == "0-test" and sec["peer"]["warmup_s"] >= 0
    for layout in bench.PEER_LAYOUTS:
        cc = sec["cross_check"][layout]
        assert cc["max_abs_diff_rgb"] == 0.0 and cc["max_abs_diff_alpha"] == 0.0
        assert cc["grad_rel_max_diff_means"] == 0.0
    (row,) = sec["cases"]
    best = min(row["peer_packed_forward_backward_ms"], row["peer_unpacked_forward_backward_ms"])
    assert row["peer_forward_backward_ms"] == best
    assert row["ratio_peer_vs_ours_forward_backward"] == pytest.approx(best / row["forward_backward_ms"], rel=1e-2)
    assert "peak_memory_mb" not in row  # memory is compared on CUDA only
    summary = bench.target_summary(sec, case)
    assert summary["ours_forward_backward_ms"] == row["forward_backward_ms"]
    assert summary["forward_backward_not_slower"] == (best >= row["forward_backward_ms"])
    assert summary["peak_memory_not_higher"] is None and summary["met"] is False
    assert bench.target_summary(sec).startswith("not measured")


def test_cross_check_flags_a_peer_whose_images_differ(stand_in):
    def brighter(*args, **kwargs):  # a peer whose convention differs: every colour 0.01 higher
        colors, alphas, meta = _stand_in_rasterization(*args, **kwargs)
        return colors + torch.tensor([0.01, 0.01, 0.01, 0.0]), alphas, meta

    stand_in.rasterization = brighter
    sec = bench.compare_section([], "cpu", STAND_IN, cross_check_case=(500, 32, 32))
    assert sec["cross_check"]["packed"]["mean_abs_diff_rgb"] == pytest.approx(0.01, rel=1e-3)
    assert sum("conventions differ" in e for e in sec["errors"]) == 2


def test_bad_peer_is_recorded_as_an_error_not_skipped():
    sec = bench.compare_section([(500, 32, 32)], "cpu", "gs_test_no_such_module_anywhere", repeats=1,
                                budget_s=1.0, cross_check_case=None)
    assert sec["peer"].startswith("error:") and any("cannot import" in e for e in sec["errors"])
    assert sec["cases"][0]["forward_ms"] > 0 and "peer_forward_ms" not in sec["cases"][0]
    assert bench.compare_section([], "cpu", None, cross_check_case=None)["peer"].startswith("skipped:")
