"""Benchmark section `training_biomes`: the trainer on every biome's default dataset, CPU.

For each biome: its dataset (seed 0, 256x256, 24 frames; Cycles samples $GS_BENCH_SAMPLES, default
16 as the demo uses, to keep the whole section within hours on 2 cores) is generated once under
build/bench_biomes/<biome>/scene; then `train` runs 3000 iterations in its own process, as a user
runs it, measured for wall time and peak memory. Each biome's figures are kept in
build/bench_biomes/<biome>/result.json, so an interrupted section resumes where it stopped.

Recorded per biome: held-out PSNR and SSIM over all pixels, the sky and the rest, the depth error,
Gaussian counts, training time and peak memory, each quality figure beside its target as a ratio.
Quick mode: the tiny preset of two biomes, 60 iterations (checks the plumbing, no figures to read).

    python bench/bench_training_biomes.py [--quick] [--table] [BIOME ...]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITERATIONS = 3000
TARGET_EACH_DB = 28.0  # every biome
TARGET_MEDIAN_DB = 31.0
QUICK_BIOMES = ("meadow", "desert")
KEYS = ("psnr", "ssim", "psnr_sky", "psnr_rest", "ssim_sky", "ssim_rest", "depth_error", "gaussians",
        "scene_gaussians", "sky_gaussians", "wall_time_s")


def _run_measured(cmd: list[str], log: Path) -> tuple[float, float | None]:
    """Run cmd (output to log) -> (wall seconds, peak resident memory of the child in MB)."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            code, peak = os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024.0
        else:
            code, peak = proc.wait(), None
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {code}); see {log}")
    return time.perf_counter() - t0, peak


def _dataset(biome: str, work: Path, quick: bool) -> tuple[Path, float | None]:
    scene = work / "scene"
    if (scene / "transforms.json").exists():
        return scene, None
    cmd = [sys.executable, "-m", "blender_gs_addon", "generate", "--seed", "0", "--biome", biome,
           "--preset", "tiny" if quick else "default", "--samples", os.environ.get("GS_BENCH_SAMPLES", "16"),
           "--out", str(scene)]
    seconds, _ = _run_measured(cmd, work / "generate.log")
    return scene, seconds


def bench_biome(biome: str, root: Path, quick: bool) -> dict:
    work = root / biome
    work.mkdir(parents=True, exist_ok=True)
    done = work / "result.json"
    iterations = 60 if quick else ITERATIONS
    if done.exists():
        cached = json.loads(done.read_text())
        if cached.get("iterations") == iterations:
            return {**cached, "cached": True}
    scene, gen_s = _dataset(biome, work, quick)
    run = work / "train"
    cmd = [sys.executable, "-m", "blender_gs_addon", "train", str(scene), "--out", str(run), "--iterations",
           str(iterations), "--device", "cpu", "--overwrite"]
    seconds, peak = _run_measured(cmd, work / "train.log")
    m = json.loads((run / "metrics.json").read_text())
    out = {"biome": biome, "iterations": m["iterations"], **{k: m.get(k) for k in KEYS},
           "train_process_s": round(seconds, 1), "peak_memory_mb": peak and round(peak),
           "dataset_seconds": gen_s, "psnr_ratio_vs_target_28db": m["psnr"] / TARGET_EACH_DB}
    done.write_text(json.dumps(out, indent=2))
    return out


def run(quick: bool, biomes: list[str] | None = None) -> dict:
    from procgen.assembly.biomes import BIOME_NAMES

    root = ROOT / "build" / ("bench_biomes_quick" if quick else "bench_biomes")
    names = biomes or (list(QUICK_BIOMES) if quick else list(BIOME_NAMES))
    rows = []
    for b in names:
        print(f"[bench] training_biomes: {b} ...", flush=True)
        rows.append(bench_biome(b, root, quick))
        r = rows[-1]
        print(f"[bench]   {b}: {r['psnr']:.2f} dB (sky {r['psnr_sky'] or float('nan'):.2f}, rest "
              f"{r['psnr_rest'] or float('nan'):.2f}), depth error {100 * (r['depth_error'] or 0):.2f} %, "
              f"{r['gaussians']:,} Gaussians, {r['train_process_s']} s", flush=True)
    psnrs = [r["psnr"] for r in rows]
    return {"iterations": 60 if quick else ITERATIONS, "biomes": rows,
            "min_psnr": min(psnrs), "median_psnr": statistics.median(psnrs),
            "min_ratio_vs_target_28db": min(psnrs) / TARGET_EACH_DB,
            "median_ratio_vs_target_31db": statistics.median(psnrs) / TARGET_MEDIAN_DB}


def markdown_table(result: dict) -> str:
    """The docs table of a run's figures."""
    def f(v, fmt):
        return "–" if v is None else format(v, fmt)

    lines = ["| biome | PSNR all / sky / rest (dB) | SSIM all / sky / rest | depth error | Gaussians (sky) "
             "| train s | peak MB |", "|---|---|---|---|---|---|---|"]
    for r in result["biomes"]:
        lines.append(f"| {r['biome']} | {f(r['psnr'], '.2f')} / {f(r['psnr_sky'], '.2f')} / "
                     f"{f(r['psnr_rest'], '.2f')} | {f(r['ssim'], '.3f')} / {f(r['ssim_sky'], '.3f')} / "
                     f"{f(r['ssim_rest'], '.3f')} | {f(r['depth_error'] and 100 * r['depth_error'], '.2f')} % | "
                     f"{r['gaussians']:,} ({r['sky_gaussians']:,}) | {r['train_process_s']} | "
                     f"{r['peak_memory_mb']} |")
    lines.append(f"\nmin {result['min_psnr']:.2f} dB, median {result['median_psnr']:.2f} dB "
                 f"({len(result['biomes'])} biomes, {result['iterations']} iterations)")
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = [a for a in args if not a.startswith("--")] or None
    res = run("--quick" in args, chosen)
    print(markdown_table(res) if "--table" in args else json.dumps(res, indent=2))
