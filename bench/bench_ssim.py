"""Benchmark section `ssim`: the training loss's SSIM term, forward + backward on the CPU, the fused
C++ kernel (cuda_ext/ssim.py) against the torch convolutions (`ssim_map` of trainer/losses.py), at
256x256 and 400x400 RGB. The two run alternately in the same process; medians and their ratio.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see blender_gs_addon/trainer/__init__.py
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (256, 400)


def _fwd_bwd_ms(fn, img, ref) -> float:
    x = img.clone().requires_grad_()
    t0 = time.perf_counter()
    fn(x, ref).backward()
    return (time.perf_counter() - t0) * 1e3


def run(quick: bool) -> dict:
    import torch

    from blender_gs_addon.trainer.losses import ssim_map
    from cuda_ext.ssim import fused_ssim

    def conv(x, ref):
        return ssim_map(x, ref).mean()

    reps = 5 if quick else 30
    out = {"threads": torch.get_num_threads(), "repetitions": reps}
    g = torch.Generator().manual_seed(0)
    for size in SIZES:
        img, ref = torch.rand(size, size, 3, generator=g), torch.rand(size, size, 3, generator=g)
        for fn in (conv, fused_ssim):  # warm-up (and the first call's build of the kernels)
            _fwd_bwd_ms(fn, img, ref)
        times = {"torch_conv": [], "fused": []}
        for _ in range(reps):  # alternate, so a busy moment on a shared machine hits both
            times["torch_conv"].append(_fwd_bwd_ms(conv, img, ref))
            times["fused"].append(_fwd_bwd_ms(fused_ssim, img, ref))
        conv_ms, fused_ms = statistics.median(times["torch_conv"]), statistics.median(times["fused"])
        out[f"{size}x{size}"] = {"torch_conv_ms": conv_ms, "fused_ms": fused_ms,
                                 "speedup_fused_vs_torch_conv": conv_ms / fused_ms}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
