"""The CUDA kernels (cuda_ext/csrc/cuda/*.cu) run on the CPU through a test-only emulation
(tests/cuda_emulation) and are compared with the C++ CPU kernels.

This checks the CUDA code's logic on machines without a GPU: thread and tile indexing,
shared-memory batches, barriers, warp vote and shuffle reductions, the 64-bit keys, the
radix sort and the tile ranges, and the bindings' CUDA branches. It does not replace the
real-GPU comparison (test_rasterizer.py::test_cuda_matches_cpu, marked cuda), which also
covers GPU rounding, the memory model and the real sort library.
"""
from __future__ import annotations

import ctypes
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_torch import DIFF_INPUTS, make_scene, random_weights, rasterize_args, render

from cuda_ext import _build, _wrapper, rasterize

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the emulation uses Linux fibers")


@pytest.fixture(scope="module")
def emulated():
    from tests.cuda_emulation.build_emulated import load_emulated_extension

    return load_emulated_extension()


def both(scene, width, height, sh_degree, background, emulated):
    """(CPU kernels, emulated CUDA kernels) results of one forward + backward with the same weights."""
    w = random_weights(height, width)
    cpu = render(rasterize, scene, width, height, sh_degree, background, grad=True, weights=w, absgrad=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_wrapper, "_ext", lambda: emulated)
        emu = render(rasterize, scene, width, height, sh_degree, background, grad=True, weights=w, absgrad=True)
    return cpu, emu


def assert_close(cpu, emu):
    for key, tol in (("rgb", 1e-5), ("alpha", 1e-5), ("depth", 1e-4)):
        assert float((emu[key] - cpu[key]).detach().abs().max()) <= tol, key
    assert torch.equal(emu["meta"]["radii"], cpu["meta"]["radii"])
    assert emu["meta"]["n_isects"] == cpu["meta"]["n_isects"]
    for name, g in cpu.get("grads", {}).items():
        scale = float(g.abs().max())
        err = float((emu["grads"][name] - g).abs().max())
        assert err <= 1e-4 * scale + 1e-7, f"{name}: max abs diff {err:.3g} vs max |grad| {scale:.3g}"


# ----------------------------------------------------------------------------- the emulation itself

@pytest.fixture(scope="module")
def selftest():
    from tests.cuda_emulation.build_emulated import build_selftest_library

    return ctypes.CDLL(str(build_selftest_library(_build.cache_root() / "cuda_emulation_selftest")))


def test_emulation_barriers_votes_and_shuffles_follow_cuda_semantics(selftest, schedule):
    out = (ctypes.c_int * 3)()
    assert selftest.run_block_sum(1, 3, out) == 0
    assert list(out) == [256 * 257 // 2] * 3
    # the same kernel without its barrier must come out wrong: the check can fail
    assert selftest.run_block_sum(0, 3, out) == 0
    assert list(out) != [256 * 257 // 2] * 3
    x = np.random.default_rng(0).standard_normal(96).astype(np.float32)
    sums = np.zeros(3, np.float32)
    selftest.run_warp_sums(x.ctypes.data_as(ctypes.c_void_p), sums.ctypes.data_as(ctypes.c_void_p))
    np.testing.assert_allclose(sums, x.reshape(3, 32).sum(1), rtol=1e-5)
    c = (ctypes.c_int * 5)()
    selftest.run_counts(c)
    assert list(c) == [len(range(0, 128, 3)), 0, 1, 0, 0]  # syncthreads_count; any() only in warp 1
    assert selftest.run_deadlock() == 1  # reported, not hung
    assert selftest.run_bad_launch() != 0  # 2048 threads per block: a launch error


# ----------------------------------------------------------------------------- kernels against the CPU

@pytest.fixture(params=["forward", "reverse"])
def schedule(request, monkeypatch):
    """The order in which the emulation runs a block's threads (a GPU promises none)."""
    monkeypatch.setenv("GS_EMULATION_SCHEDULE", request.param)
    return request.param


@pytest.mark.parametrize("sh_degree", [None, 0, 3])
@pytest.mark.parametrize("density", ["dense", "sparse"])
@pytest.mark.parametrize("with_background", [False, True])
def test_emulated_cuda_matches_cpu(emulated, schedule, sh_degree, density, with_background):
    width, height = (61, 45) if density == "dense" else (40, 33)
    n = 400 if density == "dense" else 12
    scene = make_scene(n, width, height, sh_degree, seed=5 + n + (sh_degree or 0))
    bg = torch.tensor([0.2, 0.3, 0.4]) if with_background else None
    cpu, emu = both(scene, width, height, sh_degree, bg, emulated=emulated)
    assert_close(cpu, emu)


def test_emulated_binning_is_identical_to_cpu_binning(emulated):
    """Same tile ranges and the same per-tile order, ties in depth included (stable sort)."""
    real = _build.load_extension()
    width, height = 100, 70
    scene = make_scene(300, width, height, seed=2)
    means2d, conics, depths, radii, rects = real.project_forward(
        scene["means"], scene["quats"], scene["scales"], scene["opacities"], scene["viewmat"], scene["K"],
        width, height)
    depths = depths.clone()
    depths[1::3] = depths[0:-1:3][: depths[1::3].shape[0]]  # many exact ties
    cpu_offsets, cpu_ids = real.bin_gaussians(radii, rects, depths, width, height)
    emu_offsets, emu_ids = emulated.bin_gaussians(radii, rects, depths, width, height)
    assert cpu_ids.shape[0] > 300
    assert torch.equal(emu_offsets, cpu_offsets)
    assert torch.equal(emu_ids, cpu_ids)
    # and the projection stage agrees with the CPU kernels
    emu_proj = emulated.project_forward(scene["means"], scene["quats"], scene["scales"], scene["opacities"],
                                        scene["viewmat"], scene["K"], width, height)
    for a, b in zip(emu_proj, (means2d, conics, depths, radii, rects)):
        if a.dtype == torch.int32:
            assert torch.equal(a, b)
    assert float((emu_proj[0] - means2d).abs().max()) <= 1e-4


def tile_counts(scene, width, height):
    """Tile intersections per 16x16 tile, from the CPU kernels. -> [T] int64"""
    real = _build.load_extension()
    _, _, depths, radii, rects = real.project_forward(scene["means"], scene["quats"], scene["scales"],
                                                      scene["opacities"], scene["viewmat"], scene["K"], width, height)
    offsets, _ = real.bin_gaussians(radii, rects, depths, width, height)
    return offsets[1:] - offsets[:-1]


def test_more_than_three_shared_memory_batches_per_tile(emulated, schedule):
    """1000 large, faint Gaussians over a 32x32 image: every tile lists more than 3 batches of 256."""
    width, height = 32, 32
    scene = make_scene(1000, width, height, seed=9, scale=0.3)
    scene["opacities"] = 0.01 + 0.02 * torch.rand(1000, generator=torch.Generator().manual_seed(1))
    assert int(tile_counts(scene, width, height).min()) > 3 * 256
    cpu, emu = both(scene, width, height, None, torch.tensor([0.5, 0.5, 0.5]), emulated=emulated)
    assert float(cpu["alpha"].detach().max()) < 0.999  # no pixel ends early: every batch is blended
    assert_close(cpu, emu)


def test_early_termination_behind_opaque_layers(emulated, schedule):
    """Stacks of 0.98-opaque Gaussians. Blending stops before transmittance would drop below
    1e-4, so alpha never exceeds 0.9999; without the stop, pixels under ten or more layers
    would reach alpha = 1 in float32."""
    width, height = 48, 32
    scene = make_scene(500, width, height, seed=4, scale=0.15)
    scene["opacities"] = torch.full((500,), 0.98)
    cpu, emu = both(scene, width, height, None, None, emulated=emulated)
    alpha = cpu["alpha"].detach()
    assert float(alpha.max()) <= 0.9999 + 1e-7
    assert float((alpha > 0.9998).float().mean()) > 0.5
    assert_close(cpu, emu)


def test_zero_gaussians_and_all_culled(emulated):
    bg = torch.tensor([0.1, 0.2, 0.3])
    cpu, emu = both(make_scene(0, 20, 12, sh_degree=1), 20, 12, 1, bg, emulated=emulated)
    assert torch.equal(emu["rgb"], bg.expand(12, 20, 3))
    assert emu["grads"]["means"].shape == (0, 3)
    scene = make_scene(50, 24, 24)
    cam = scene["means"] @ scene["viewmat"][:3, :3].T + scene["viewmat"][:3, 3]
    cam[:, 2] = -cam[:, 2].abs() - 0.1
    scene["means"] = (cam - scene["viewmat"][:3, 3]) @ scene["viewmat"][:3, :3]
    cpu, emu = both(scene, 24, 24, None, None, emulated=emulated)
    assert torch.count_nonzero(emu["rgb"]) == 0 and emu["meta"]["n_isects"] == 0
    for name in DIFF_INPUTS:
        assert torch.count_nonzero(emu["grads"][name]) == 0


def test_zero_quaternions_are_the_identity_in_the_cuda_kernels(emulated):
    """The CUDA kernels draw a zero quaternion as the identity rotation, as the CPU kernels and the
    torch reference do (docs/rasterizer.md), with the same (zero) quaternion gradient."""
    width, height = 40, 30
    scene = make_scene(80, width, height, 1, seed=12, scale=0.08)
    zero = torch.arange(80) % 4 == 0
    scene["quats"] = torch.where(zero[:, None], 0.0, scene["quats"])
    cpu, emu = both(scene, width, height, 1, None, emulated=emulated)
    assert int((emu["meta"]["radii"][zero] > 0).sum()) >= 10
    assert_close(cpu, emu)
    assert torch.count_nonzero(emu["grads"]["quats"][zero]) == 0


# ----------------------------------------------------------------------------- compile checks

BUILD_OBJECTS = Path(__file__).resolve().parents[1] / "build" / "cuda_objects"  # shared with build.py build
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs the CUDA compiler (nvcc)")


@needs_nvcc
def test_cuda_kernels_compile_with_nvcc():
    objs = _build.compile_cuda_objects(BUILD_OBJECTS)
    assert sorted(Path(o).stem for o in objs) == sorted(p.stem for p in (_build.CSRC / "cuda").glob("*.cu"))
    assert all(Path(o).stat().st_size > 0 for o in objs)


@needs_nvcc
def test_bindings_cuda_branches_compile_and_the_check_catches_errors(tmp_path):
    assert _build.check_cuda_bindings(BUILD_OBJECTS) is True
    broken = tmp_path / "bindings.cpp"
    text = (_build.CSRC / "bindings.cpp").read_text()
    call = "gs::kernel##_cuda(__VA_ARGS__, GS_STREAM)"  # every stage's CUDA kernel call, in its WITH_CUDA branch
    assert call in text
    broken.write_text(text.replace(call, "gs::kernel##_cuda(__VA_ARGS__, 1, GS_STREAM)"))  # one argument too many
    with pytest.raises(RuntimeError, match="does not compile with WITH_CUDA"):
        _build.check_cuda_bindings(tmp_path / "objects", source=broken)


# ----------------------------------------------------------------------------- input checks on the device path

@pytest.mark.parametrize("name", ["means", "quats", "scales", "opacities", "colors", "viewmat", "K", "background"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_device_input_checks_name_the_bad_tensor(emulated, name, bad):
    """The checks GPU tensors take (flags computed on the device, read back once), run here
    on CPU tensors by the emulation build: each bad tensor is named."""
    scene = make_scene(10, 16, 16)
    scene["background"] = torch.tensor([0.1, 0.2, 0.3])
    scene[name] = scene[name].clone()
    scene[name].view(-1)[-1] = bad
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_wrapper, "_ext", lambda: emulated)
        with pytest.raises(ValueError, match=f"{name}.*NaN or Inf"):
            rasterize(*rasterize_args(scene), 16, 16, background=scene["background"])


def test_device_input_checks_opacity_range_and_overflowing_sums(emulated):
    scene = make_scene(10, 16, 16, sh_degree=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_wrapper, "_ext", lambda: emulated)
        for value in (1.5, -0.25):
            bad = dict(scene, opacities=scene["opacities"].clone())
            bad["opacities"][3] = value
            with pytest.raises(ValueError, match=r"opacities must lie in \[0, 1\]"):
                rasterize(*rasterize_args(bad), 16, 16, sh_degree=1)
        # finite values whose float32 sum overflows to inf are not an error
        big = dict(scene, colors=scene["colors"].clone())
        big["colors"][:, 1:, :] = 3e38
        assert torch.isinf(big["colors"].sum())
        rgb, _, _, _ = rasterize(*rasterize_args(big), 16, 16, sh_degree=0)
        assert torch.isfinite(rgb).all()
