"""Rasterizer benchmark: forward and forward+backward time and peak memory of cuda_ext.rasterize.

Inputs are fixed by seed: N random Gaussians in the camera frustum (60 degree horizontal
field of view) at depth 2..10 m, log-scales ~ N(log(0.01 depth), 0.5), logit opacities
~ N(0, 1), SH degree 3. CPU figures are compared with the pure-torch reference where it
fits in time; the CUDA section runs only where torch sees a GPU.

Times are the best of several repeats (the machine is shared); on CPU the process CPU time
(all threads) is reported beside the wall time, since other users disturb it much less. Memory: on CPU the growth
of the peak resident set over one forward+backward in a fresh process, after
the scene is built (outputs, saved tensors, gradients and kernel scratch together); on CUDA torch.cuda.max_memory_allocated.
"""
from __future__ import annotations

import gc
import math
import os
import resource
import subprocess
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


def best_time(fn, scene, width, height, backward, device, repeats: int, budget_s: float = 20.0,
              cpu_time: bool = False):
    """Best wall time in ms over `repeats` runs (fewer if the budget runs out), after one warm-up.
    With cpu_time, also the best process CPU time in ms (all threads), which other users of a
    shared machine disturb much less than wall time."""
    _step(fn, scene, width, height, backward, device)
    best, best_cpu = float("inf"), float("inf")
    t_start = time.perf_counter()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        if backward:
            _step(fn, scene, width, height, backward, device)
        else:
            with torch.no_grad():
                _step(fn, scene, width, height, backward, device)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
        if time.perf_counter() - t_start > budget_s:
            break
    return (best * 1e3, best_cpu * 1e3) if cpu_time else best * 1e3


def peak_memory_mb(fn, scene, width, height, device) -> float:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _step(fn, scene, width, height, True, device)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    # CPU: freed heap pages stay resident, so measure in a fresh process: growth of the peak
    # resident set over one forward+backward, after the scene is built (Linux: VmHWM reset
    # through /proc/self/clear_refs; elsewhere ru_maxrss).
    code = (
        "import resource, sys, torch\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})\n"
        "from bench.bench_rasterizer import make_scene, _step\n"
        "from cuda_ext import rasterize, _build\n"
        "_build.load_extension()\n"
        f"s = make_scene({scene['means'].shape[0]}, {width}, {height}, seed={_seed(scene['means'].shape[0], width)})\n"
        "def kib(k):\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(k + ':'))\n"
        "try:\n"
        "    open('/proc/self/clear_refs', 'w').write('5')  # Linux: peak := current\n"
        "    b = kib('VmRSS')\n"
        f"    _step(rasterize, s, {width}, {height}, True, 'cpu')\n"
        "    print((kib('VmHWM') - b) / 1024.0)\n"
        "except OSError:\n"
        "    b = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"    _step(rasterize, s, {width}, {height}, True, 'cpu')\n"
        "    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - b) / 1024.0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _seed(n: int, width: int) -> int:
    return n + width


def _case(n, w, h, device, repeats, with_reference):
    scene = make_scene(n, w, h, seed=_seed(n, w), device=device)
    meta = _step(rasterize, scene, w, h, False, device)
    row = {
        "n": n, "width": w, "height": h, "device": device,
        "visible": int((meta["radii"] > 0).sum()), "tile_intersections": meta["n_isects"],
    }
    t_f, c_f = best_time(rasterize, scene, w, h, False, device, repeats, cpu_time=True)
    t_fb, c_fb = best_time(rasterize, scene, w, h, True, device, repeats, cpu_time=True)
    row.update(forward_ms=round(t_f, 2), forward_backward_ms=round(t_fb, 2))
    if device == "cpu":
        row.update(forward_cpu_time_ms=round(c_f, 2), forward_backward_cpu_time_ms=round(c_fb, 2))
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
    ref_case = (1_000, 96, 96)
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
