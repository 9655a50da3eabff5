"""Every stage of the compiled rasterizer module, called directly (no validate() in front),
refuses tensors that no kernel of the build can read, with an error naming the stage and the
device, instead of returning unfilled outputs or running CPU code on device memory.

A CPU-only torch has no CUDA tensors, so CUDA (and other accelerators) are stood in for by
fake tensors: they carry a device but no data, and torch's fake mode answers the
allocations the stages make for them. The `meta` device is a real one on every torch.
"""
from __future__ import annotations

import contextlib
import re
import sys

import pytest
import torch
from helpers_torch import make_scene
from torch._subclasses.fake_tensor import FakeTensorMode

from cuda_ext import _build

W, H = 20, 16
STAGES = ["validate", "project_forward", "project_backward", "sh_forward", "sh_backward", "bin_gaussians",
          "raster_forward", "raster_backward"]
PREFIX = {"validate": "rasterize"}  # the name validate()'s messages give


def stage_calls(background=True) -> dict[str, list]:
    """Arguments of one call of each stage, as a CPU run of the pipeline makes them."""
    ext = _build.load_extension()
    s = make_scene(6, W, H, sh_degree=1, seed=3)
    bg = torch.tensor([0.1, 0.2, 0.3]) if background else None
    project = [s["means"], s["quats"], s["scales"], s["opacities"], s["viewmat"], s["K"], W, H]
    means2d, conics, depths, radii, rects = ext.project_forward(*project)
    assert int((radii > 0).sum()) > 0  # some Gaussian is on screen, so every stage has work
    sh = [s["colors"], s["means"], s["viewmat"], radii, 1]
    colors, clamped = ext.sh_forward(*sh)
    tile_offsets, isect_ids = ext.bin_gaussians(radii, rects, depths, W, H)
    raster = [means2d, conics, colors, s["opacities"], depths, bg, tile_offsets, isect_ids, W, H]
    rgb, alpha, depth, final_T, n_contrib = ext.raster_forward(*raster)
    ones = torch.ones_like
    return {
        "validate": [s[k] for k in ("means", "quats", "scales", "opacities", "colors", "viewmat", "K")]
        + [W, H, 1, bg],
        "project_forward": project,
        "project_backward": project[:3] + project[4:6] + [radii, ones(means2d), ones(conics), ones(depths)],
        "sh_forward": sh,
        "sh_backward": sh[:4] + [clamped, ones(colors), 1],
        "bin_gaussians": [radii, rects, depths, W, H],
        "raster_forward": raster,
        "raster_backward": raster + [final_T, n_contrib, ones(rgb), ones(alpha), ones(depth), True],
    }


@contextlib.contextmanager
def moved_to(device: str):
    """-> a function that puts a tensor argument on `device` ("meta", or "fake:<type>")."""
    if device == "meta":
        yield lambda a: a.to("meta") if isinstance(a, torch.Tensor) else a
        return
    with FakeTensorMode(allow_non_fake_inputs=True):
        kind = device.split(":", 1)[1]
        yield lambda a: torch.empty(a.shape, dtype=a.dtype, device=kind) if isinstance(a, torch.Tensor) else a


@pytest.fixture(scope="module")
def calls():
    return stage_calls()


@pytest.fixture(scope="module", params=["cpu_build", "cuda_emulation"])
def module(request):
    """The module build.py compiles here, and the emulation build whose stages take their CUDA branches."""
    if request.param == "cpu_build":
        return _build.load_extension()
    if not sys.platform.startswith("linux"):
        pytest.skip("the CUDA emulation uses Linux fibers")
    from tests.cuda_emulation.build_emulated import load_emulated_extension

    return load_emulated_extension()


def call(module, stage, args):
    return getattr(module, stage)(*args)


@pytest.mark.parametrize("stage", STAGES)
def test_stages_run_on_cpu_tensors(module, calls, stage):
    """The control: the same calls on CPU tensors pass the device checks, with and without a background."""
    for args in (calls[stage], stage_calls(background=False)[stage]):
        out = call(module, stage, args)
        if stage == "validate":
            assert out is None
            continue
        assert len(out) >= 2 and all(t.device.type == "cpu" for t in out)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("device", ["meta", "fake:mps", "fake:xpu"])
def test_stages_refuse_devices_no_kernel_reads(module, calls, stage, device):
    with moved_to(device) as move:
        args = [move(a) for a in calls[stage]]
        shown = re.escape(str(args[0].device))
        with pytest.raises(ValueError, match=rf"^{PREFIX.get(stage, stage)}: tensors on {shown} "
                                             r"are not supported by this build \("):
            call(module, stage, args)


@pytest.mark.parametrize("stage", STAGES)
def test_stages_refuse_inputs_spread_over_devices(module, calls, stage):
    """One tensor argument on `meta`, the others on the CPU, for each tensor argument in turn
    (the optional background too): no kernel gets a pointer it cannot read."""
    tensors = [i for i, a in enumerate(calls[stage]) if isinstance(a, torch.Tensor)]
    assert len(tensors) >= 3
    for i in tensors:
        args = list(calls[stage])
        args[i] = args[i].to("meta")
        # validate() judges `means` first, so means alone on meta is refused as a device
        why = "tensors on meta are not supported" if (stage, i) == ("validate", 0) else "share one device"
        with pytest.raises(ValueError, match=rf"^{PREFIX.get(stage, stage)}: .*{why}"):
            call(module, stage, args)


@pytest.mark.parametrize("stage", STAGES)
def test_cpu_only_build_refuses_cuda_tensors_in_every_stage(calls, stage):
    """Each stage's CUDA branch, compiled without CUDA, says so instead of falling through."""
    ext = _build.load_extension()
    if ext.with_cuda:
        pytest.skip("this module is built with CUDA: CUDA tensors are its own")
    with moved_to("fake:cuda") as move:
        args = [move(a) for a in calls[stage]]
        if stage == "validate":
            expected = ValueError, r"^rasterize: tensors on cuda:0 are not supported by this build \(CPU tensors only\)"
        else:
            expected = RuntimeError, rf"^{stage}: tensors on cuda:0 need the CUDA kernels, but this module was built " \
                                     r"without CUDA"
        with pytest.raises(expected[0], match=expected[1]):
            call(ext, stage, args)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CUDA emulation uses Linux fibers")
@pytest.mark.parametrize("stage", STAGES)
def test_cuda_emulation_refuses_cuda_tensors(calls, stage):
    """The emulation runs its CUDA kernels on host memory: real device tensors are refused too."""
    from tests.cuda_emulation.build_emulated import load_emulated_extension

    with moved_to("fake:cuda") as move:
        args = [move(a) for a in calls[stage]]
        with pytest.raises(ValueError, match=rf"^{PREFIX.get(stage, stage)}: tensors on cuda:0 are not supported "
                                             r"by this build \(CPU tensors only, through the emulated CUDA kernels\)"):
            call(load_emulated_extension(), stage, args)


def test_a_lock_file_left_by_a_killed_process_does_not_hang_the_next_load(tmp_path):
    """torch waits forever on its build folder's "lock" file; a process killed (kill -9) while it
    loaded the kernels leaves one behind. The next load must go on, in a fresh interpreter."""
    import subprocess

    build_dir = _build.cache_root() / next(p.name for p in _build.cache_root().glob("torch*_cpu"))
    (build_dir / "lock").write_text("")  # what the killed process left
    code = "from cuda_ext import _build; _build.load_extension(); print('loaded')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                          cwd=str(_build.CSRC.parents[1]))
    assert proc.returncode == 0 and "loaded" in proc.stdout, proc.stderr[-2000:]
    assert not (build_dir / "lock").exists()
