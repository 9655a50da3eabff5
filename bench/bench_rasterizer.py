"""Rasterizer benchmark: forward and forward+backward time and peak memory of cuda_ext.rasterize.

Inputs are fixed by seed: N random Gaussians in the camera frustum (60 degree horizontal
field of view) at depth 2..10 m, log-scales ~ N(log(0.01 depth), 0.5), logit opacities
~ N(0, 1), SH degree 3. CPU figures are compared with the pure-torch reference where it
fits in time.

CUDA section (only where torch sees a GPU; otherwise a field says why): the full grid
N = 10k, 100k, 1M at 256x256, 512x512 and 1920x1080, also in quick mode (each case takes
milliseconds on a GPU), each case beside a public GPU rasterizer package on identical inputs
(its module name is given at run time: --peer-module NAME or $GS_BENCH_PEER_MODULE; see
bench/peer_rasterizer.py). The peer runs in both of its intermediate layouts ("packed" and
"unpacked"); the ratios compare us with its best layout per figure (fastest time, least
memory), ratio = peer / ours, so > 1 means we are faster or leaner. A cross-check on one
mid-size case records how far the peer's images and gradients are from ours, and
`target_gpu_1m_1080p` says whether the GPU target holds (forward+backward of 1M Gaussians at
1920x1080 no slower than the peer, peak memory no higher).

Times are the best of several repeats (the machine is shared); on CPU the process CPU time
(all threads) is reported beside the wall time, since other users disturb it much less. Memory: on CPU the growth
of the peak resident set over one forward+backward in a fresh process, after
the scene is built (outputs, saved tensors, gradients and kernel scratch together); on CUDA
the growth of torch.cuda.max_memory_allocated over one forward+backward, after the scene and
its differentiable copies are on the GPU (the same for us and the peer).

Nothing is made up: a section that could not run says why, and every failure is listed
under "errors" (the command-line run then exits with status 1).
"""
from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
import time
import traceback
from typing import Optional

import torch

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.peer_rasterizer import PEER_ENV, compare_gradients, compare_images, load_peer, make_peer_rasterize  # noqa: E402
from cuda_ext import (
    _torch_impl,  # noqa: E402
    rasterize,  # noqa: E402
)

SH_DEGREE = 3
DIFF_INPUTS = ("means", "quats", "scales", "opacities", "colors")
GRID = [(n, w, h) for n in (10_000, 100_000, 1_000_000) for (w, h) in ((256, 256), (512, 512), (1920, 1080))]
CROSS_CHECK_CASE = (10_000, 256, 256)
TARGET_GPU_CASE = (1_000_000, 1920, 1080)
PEER_LAYOUTS = {"packed": True, "unpacked": False}  # the peer's two intermediate layouts
# Same semantics leave isolated pixels apart (footprint cut-offs, the 1/255 skip under other
# rounding) but a mean difference above this means the conventions were not mapped right.
CROSS_CHECK_MEAN_TOLERANCE = 1e-3


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


def _leaves(scene: dict, backward: bool) -> dict:
    """Fresh copies of the differentiable inputs (requiring grad when `backward`); cameras as is."""
    return {n: (t.clone().requires_grad_(backward) if n in DIFF_INPUTS else t) for n, t in scene.items()}


def _render(fn, leaves: dict, width: int, height: int, backward: bool, device: str):
    """One render (and backward of rgb + alpha + 0.1 depth when `backward`); -> rgb, alpha, depth, meta."""
    rgb, alpha, depth, meta = fn(leaves["means"], leaves["quats"], leaves["scales"], leaves["opacities"],
                                 leaves["colors"], leaves["viewmat"], leaves["K"], width, height,
                                 sh_degree=SH_DEGREE)
    if backward:
        (rgb.sum() + alpha.sum() + 0.1 * depth.sum()).backward()
    _sync(device)
    return rgb, alpha, depth, meta


def _step(fn, scene: dict, width: int, height: int, backward: bool, device: str):
    return _render(fn, _leaves(scene, backward), width, height, backward, device)[3]


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
        leaves = _leaves(scene, True)  # the inputs' differentiable copies are not the renderer's memory
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _render(fn, leaves, width, height, True, device)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    if fn is not rasterize:
        raise ValueError("peak_memory_mb: on CPU only cuda_ext.rasterize is measured (in a fresh process)")
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
        t_ref_f = best_time(ref, scene, w, h, False, device, 3, budget_s=30)
        t_ref_fb = best_time(ref, scene, w, h, True, device, 3, budget_s=30)
        row["reference_forward_ms"] = round(t_ref_f, 1)
        row["reference_forward_backward_ms"] = round(t_ref_fb, 1)
        row["ratio_vs_reference_forward"] = round(t_ref_f / row["forward_ms"], 1)
        row["ratio_vs_reference_forward_backward"] = round(t_ref_fb / row["forward_backward_ms"], 1)
    print(f"[bench rasterizer] {row}", flush=True)
    return row


def _ratio(peer: Optional[float], ours: Optional[float]) -> Optional[float]:
    """peer / ours (> 1: we are faster or leaner); None when either figure is missing."""
    if peer is None or ours is None or ours <= 0:
        return None
    return round(peer / ours, 3)


def _outputs_and_grads(fn, scene: dict, width: int, height: int, device: str):
    """-> (rgb, alpha, depth), {input name: gradient of rgb + alpha + 0.1 depth}."""
    leaves = _leaves(scene, True)
    rgb, alpha, depth, _ = _render(fn, leaves, width, height, True, device)
    return (rgb, alpha, depth), {n: leaves[n].grad for n in DIFF_INPUTS}


def cross_check(peers: dict, n: int, width: int, height: int, device: str) -> dict:
    """How far each peer layout's images and gradients are from ours on one scene (same loss)."""
    scene = make_scene(n, width, height, seed=_seed(n, width), device=device)
    ours_out, ours_grads = _outputs_and_grads(rasterize, scene, width, height, device)
    result: dict = {"n": n, "width": width, "height": height}
    for layout, fn in peers.items():
        peer_out, peer_grads = _outputs_and_grads(fn, scene, width, height, device)
        diffs = compare_images(ours_out, peer_out)
        diffs.update(compare_gradients(ours_grads, peer_grads))
        result[layout] = {k: (None if v is None else float(f"{v:.3g}")) for k, v in diffs.items()}
    return result


def warm_up_peer(peers: dict, device: str) -> float:
    """Seconds for the first forward+backward of every peer layout on a small scene; the peer may
    compile its kernels on first use (minutes), which must not land in the timings."""
    scene = make_scene(1_000, 64, 48, seed=1, device=device)
    t0 = time.perf_counter()
    for fn in peers.values():
        _step(fn, scene, 64, 48, True, device)
    return round(time.perf_counter() - t0, 2)


def _compare_case(n: int, w: int, h: int, device: str, peers: dict, repeats: int, budget_s: float,
                  errors: list) -> dict:
    """Ours and every peer layout on one scene: times, CUDA peak memory and ratios."""
    scene = make_scene(n, w, h, seed=_seed(n, w), device=device)
    meta = _step(rasterize, scene, w, h, False, device)
    row: dict = {"n": n, "width": w, "height": h, "device": device,
                 "visible": int((meta["radii"] > 0).sum()), "tile_intersections": meta["n_isects"]}
    row["forward_ms"] = round(best_time(rasterize, scene, w, h, False, device, repeats, budget_s), 3)
    row["forward_backward_ms"] = round(best_time(rasterize, scene, w, h, True, device, repeats, budget_s), 3)
    if device == "cuda":
        row["peak_memory_mb"] = round(peak_memory_mb(rasterize, scene, w, h, device), 1)
    measured = {}
    for layout, fn in peers.items():
        try:
            fig = {"forward_ms": round(best_time(fn, scene, w, h, False, device, repeats, budget_s), 3),
                   "forward_backward_ms": round(best_time(fn, scene, w, h, True, device, repeats, budget_s), 3)}
            if device == "cuda":
                fig["peak_memory_mb"] = round(peak_memory_mb(fn, scene, w, h, device), 1)
        except Exception as exc:  # e.g. out of memory in one layout: keep the other's figures
            row[f"peer_{layout}_error"] = f"{type(exc).__name__}: {exc}"
            errors.append(f"peer layout {layout}, N={n} {w}x{h}: {type(exc).__name__}: {exc}")
            continue
        measured[layout] = fig
        row.update({f"peer_{layout}_{k}": v for k, v in fig.items()})
    for key in ("forward_ms", "forward_backward_ms", "peak_memory_mb"):
        have = {layout: fig[key] for layout, fig in measured.items() if key in fig}
        if not have or key not in row:
            continue
        best = min(have, key=have.get)
        row[f"peer_{key}"] = have[best]
        row[f"peer_{key}_layout"] = best
        name = key.rsplit("_", 1)[0]  # forward, forward_backward, peak_memory
        row[f"ratio_peer_vs_ours_{name}"] = _ratio(have[best], row[key])
    print(f"[bench rasterizer] {row}", flush=True)
    return row


def compare_section(cases, device: str, peer_name: Optional[str], repeats: int = 10, budget_s: float = 20.0,
                    cross_check_case=CROSS_CHECK_CASE) -> dict:
    """Every case on `device` for us and (when a peer module is named) for the peer, plus the
    cross-check. Failures are recorded under "errors", never skipped silently."""
    sec: dict = {"device": device,
                 "device_name": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
                 "repeats": repeats, "errors": []}
    peers: dict = {}
    if not peer_name:
        sec["peer"] = f"skipped: no peer module given (--peer-module NAME or ${PEER_ENV})"
    else:
        try:
            mod, version = load_peer(peer_name)
            peers = {layout: make_peer_rasterize(mod, packed) for layout, packed in PEER_LAYOUTS.items()}
            sec["peer"] = {"module": peer_name, "version": version, "layouts": list(PEER_LAYOUTS),
                           "loss": "rgb.sum() + alpha.sum() + 0.1 * depth.sum() for both (same depth: sum w_i z_i)"}
            sec["peer"]["warmup_s"] = warm_up_peer(peers, device)
        except Exception as exc:
            traceback.print_exc()
            sec["errors"].append(f"peer {peer_name!r}: {type(exc).__name__}: {exc}")
            sec["peer"] = f"error: {type(exc).__name__}: {exc}"
            peers = {}
    if peers and cross_check_case:
        try:
            sec["cross_check"] = cc = cross_check(peers, *cross_check_case, device)
            cc["mean_tolerance"] = CROSS_CHECK_MEAN_TOLERANCE
            for layout in peers:
                worst = max(cc[layout][f"mean_abs_diff_{k}"] for k in ("rgb", "alpha"))
                if worst > CROSS_CHECK_MEAN_TOLERANCE:
                    sec["errors"].append(
                        f"cross-check: peer layout {layout} differs from ours by a mean of {worst:.3g} "
                                         f"(rgb or alpha, > {CROSS_CHECK_MEAN_TOLERANCE}): conventions differ")
        except Exception as exc:
            traceback.print_exc()
            sec["errors"].append(f"cross-check: {type(exc).__name__}: {exc}")
    sec["cases"] = []
    for n, w, h in cases:
        try:
            sec["cases"].append(_compare_case(n, w, h, device, peers, repeats, budget_s, sec["errors"]))
        except Exception as exc:
            traceback.print_exc()
            sec["errors"].append(f"case N={n} {w}x{h}: {type(exc).__name__}: {exc}")
            sec["cases"].append({"n": n, "width": w, "height": h, "error": f"{type(exc).__name__}: {exc}"})
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
    return sec


def target_summary(sec: dict, case=TARGET_GPU_CASE):
    """Where the GPU target stands: forward+backward no slower than the peer and peak memory no
    higher, at `case` (N, width, height). A string says why when it was not measured."""
    row = next((r for r in sec.get("cases", []) if (r["n"], r["width"], r["height"]) == tuple(case)), None)
    if row is None or "error" in row:
        return f"not measured: case N={case[0]} {case[1]}x{case[2]} " + ("failed" if row else "not run")
    if "peer_forward_backward_ms" not in row:
        return f"not measured: no peer figures ({sec.get('peer')})"
    ours_t, peer_t = row["forward_backward_ms"], row["peer_forward_backward_ms"]
    ours_m, peer_m = row.get("peak_memory_mb"), row.get("peer_peak_memory_mb")
    not_slower = peer_t >= ours_t
    not_higher = None if ours_m is None or peer_m is None else peer_m >= ours_m
    return {
        "n": case[0], "width": case[1], "height": case[2],
        "ours_forward_backward_ms": ours_t, "peer_forward_backward_ms": peer_t,
        "peer_forward_backward_layout": row["peer_forward_backward_ms_layout"],
        "ratio_peer_vs_ours_forward_backward": row["ratio_peer_vs_ours_forward_backward"],
        "ours_peak_memory_mb": ours_m, "peer_peak_memory_mb": peer_m,
        "ratio_peer_vs_ours_peak_memory": row.get("ratio_peer_vs_ours_peak_memory"),
        "forward_backward_not_slower": not_slower, "peak_memory_not_higher": not_higher,
        "met": bool(not_slower and not_higher),
    }


def run(quick: bool, peer_module: Optional[str] = None) -> dict:
    """CPU section, and the CUDA section with the peer comparison where torch sees a GPU.
    The peer module name comes from `peer_module`, else $GS_BENCH_PEER_MODULE."""
    torch.manual_seed(0)
    peer_name = peer_module or os.environ.get(PEER_ENV) or None
    out: dict = {"threads": torch.get_num_threads(), "sh_degree": SH_DEGREE, "errors": []}
    # GPU first: it is what a lent GPU session is for, and its figures should not wait on the CPU part
    if torch.cuda.is_available():
        sec = compare_section(GRID, "cuda", peer_name)
        out["cuda"] = sec
        out["errors"] += [f"cuda: {e}" for e in sec["errors"]]
        out["target_gpu_1m_1080p"] = target_summary(sec)
    else:
        out["cuda"] = "skipped: torch sees no GPU" + (f" (peer module {peer_name!r} not used)" if peer_name else "")
        out["target_gpu_1m_1080p"] = "not measured: torch sees no GPU"
    out["cpu"] = []
    if quick:
        cases = [(10_000, 256, 256), (100_000, 256, 256)]
    else:
        cases = GRID
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
    for e in out["errors"]:
        print(f"[bench rasterizer] ERROR {e}", file=sys.stderr, flush=True)
    return out


def main(argv=None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CPU: two cases; CUDA: the full grid anyway")
    ap.add_argument("--peer-module", default=None,
                    help=f"Python module of the peer GPU rasterizer (default: ${PEER_ENV})")
    ap.add_argument("--out", default=None, help="also write the JSON here (atomically)")
    args = ap.parse_args(argv)
    result = run(args.quick, args.peer_module)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.out)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
