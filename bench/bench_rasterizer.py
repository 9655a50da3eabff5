"""Rasterizer benchmark: forward and forward+backward time and peak memory of cuda_ext.rasterize.

Inputs are fixed by seed: N random Gaussians in the camera frustum (60 degree horizontal
field of view) at depth 2..10 m, log-scales ~ N(log(0.01 depth), 0.5), logit opacities
~ N(0, 1), SH degree 3. CPU figures are compared with the pure-torch reference where it
fits in time; the CUDA section runs only where torch sees a GPU.

Times are the best of several repeats (the machine is shared). Memory: on CPU the growth
of the process's peak resident set (ru_maxrss) over one fresh forward+backward, which
includes torch's allocator caching; on CUDA torch.cuda.max_memory_allocated.
"""
from __future__ import annotations

import gc
import math
import os
import resource
import sys
import time

import torch

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cuda_ext import rasterize  # noqa: E402
from cuda_ext import _torch_impl  # noqa: E402

SH_DEGREE = 3


def make_scene(n: int, width: int, height: int, seed: int = 0, device: str = "cpu") -> dict:
    """The benchmark's fixed random scene: tensors on `device`, camera at the origin looking down +z."""
    g = torch.Generator().manual_seed(seed)
    f = 0.5 * width / math.tan(math.radians(30.0))
    depth = 2.0 + 8.0 * torch.rand(n, generator=g)
    u = torch.rand(n, generator=g) * width
    v = torch.rand(n, generator=g) * height
    means = torch.stack([(u - width / 2) / f * depth, (v - height / 2) / f * depth, depth], dim=-1)
    scales = torch.exp(torch.log(0.01 * depth)[:, None] + 0.5 * torch.randn(n, 3, generator=g))
    quats = torch.randn(n, 4, generator=g)
    opacities = torch.sigmoid(torch.randn(n, generator=g))
    k = (SH_DEGREE + 1) ** 2
    colors = torch.cat([torch.randn(n, 1, 3, generator=g) * 0.5, torch.randn(n, k - 1, 3, generator=g) * 0.1], 1)
    K = torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    scene = dict(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors,
                 viewmat=torch.eye(4), K=K)
    return {name: t.to(device) for name, t in scene.items()}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _step(fn, scene: dict, width: int, height: int, backward: bool, device: str):
    leaves = {n: (t.clone().requires_grad_(backward) if n in ("means", "quats", "scales", "opacities", "colors")
                  else t) for n, t in scene.items()}
    rgb, alpha, depth, meta = fn(leaves["means"], leaves["quats"], leaves["scales"], leaves["opacities"],
                                 leaves["colors"], leaves["viewmat"], leaves["K"], width, height,
                                 sh_degree=SH_DEGREE)
    if backward:
        (rgb.sum() + alpha.sum() + 0.1 * depth.sum()).backward()
    _sync(device)
    return meta


def best_time(fn, scene, width, height, backward, device, repeats: int, budget_s: float = 20.0) -> float:
    """Best wall time in ms over `repeats` runs (fewer if the budget runs out), after one warm-up."""
    _step(fn, scene, width, height, backward, device)
    best = float("inf")
    t_start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        if backward:
            _step(fn, scene, width, height, backward, device)
        else:
            with torch.no_grad():
                _step(fn, scene, width, height, backward, device)
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - t_start > budget_s:
            break
    return best * 1e3


def peak_memory_mb(fn, scene, width, height, device) -> float:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _step(fn, scene, width, height, True, device)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _step(fn, scene, width, height, True, device)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) / 1024.0  # ru_maxrss is in KiB on Linux


def _case(n, w, h, device, repeats, with_reference):
    scene = make_scene(n, w, h, seed=n + w, device=device)
    meta = _step(rasterize, scene, w, h, False, device)
    row = {
        "n": n, "width": w, "height": h, "device": device,
        "visible": int((meta["radii"] > 0).sum()), "tile_intersections": meta["n_isects"],
        "forward_ms": round(best_time(rasterize, scene, w, h, False, device, repeats), 2),
        "forward_backward_ms": round(best_time(rasterize, scene, w, h, True, device, repeats), 2),
    }
    row["peak_memory_growth_mb"] = round(peak_memory_mb(rasterize, scene, w, h, device), 1)
    if with_reference:
        ref = _torch_impl.rasterize
        t_ref_f = best_time(ref, scene, w, h, False, device, 1, budget_s=60)
        t_ref_fb = best_time(ref, scene, w, h, True, device, 1, budget_s=60)
        row["reference_forward_ms"] = round(t_ref_f, 1)
        row["reference_forward_backward_ms"] = round(t_ref_fb, 1)
        row["ratio_vs_reference_forward"] = round(t_ref_f / row["forward_ms"], 1)
        row["ratio_vs_reference_forward_backward"] = round(t_ref_fb / row["forward_backward_ms"], 1)
    print(f"[bench rasterizer] {row}", flush=True)
    return row


def run(quick: bool) -> dict:
    torch.manual_seed(0)
    out: dict = {"threads": torch.get_num_threads(), "sh_degree": SH_DEGREE, "cpu": []}
    if quick:
        cases = [(10_000, 256, 256), (100_000, 256, 256)]
    else:
        cases = [(n, w, h) for n in (10_000, 100_000, 1_000_000) for (w, h) in ((256, 256), (512, 512), (1920, 1080))]
    # the reference holds a [pixels x Gaussians] matrix: only small cases fit in time and memory
    ref_case = (2_000, 128, 128)
    out["cpu"].append(_case(*ref_case, "cpu", 5, True))
    for n, w, h in cases:
        repeats = 7 if n * w * h <= 100_000 * 512 * 512 else 2
        out["cpu"].append(_case(n, w, h, "cpu", repeats, False))
    target = next((r for r in out["cpu"] if (r["n"], r["width"]) == (100_000, 256)), None)
    if target:
        out["target_cpu_100k_256_fwd_bwd_ms"] = 150.0
        out["ratio_target_vs_measured_cpu_100k_256"] = round(150.0 / target["forward_backward_ms"], 2)
    if torch.cuda.is_available():
        out["cuda"] = [_case(n, w, h, "cuda", 10, False) for n, w, h in cases]
    return out


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    print(json.dumps(run(ap.parse_args().quick), indent=1))
