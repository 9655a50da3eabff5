"""Benchmark section `trainer`: held-out PSNR/SSIM against wall time, CPU, 256x256.

Dataset: $GS_BENCH_DATASET if set, else the default procedural scene when `generate` works
(cached under build/bench_trainer/), else the synthetic scene of `trainer.synthetic`
(random ground-truth Gaussians rendered by cuda_ext from a ring of cameras).
Quick mode: a few dozen iterations on a small synthetic scene.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see blender_gs_addon/trainer/__init__.py
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_PSNR = 25.0
TIME_BUDGET_S = 600.0


def _procgen_dataset(cache: Path) -> str | None:
    """The default scene's dataset at 256x256, generated once; None when generation is unavailable."""
    found = sorted(cache.rglob("transforms.json")) if cache.exists() else []
    if found:
        return str(found[0].parent)
    cmd = [sys.executable, "-m", "blender_gs_addon", "generate", "--seed", "0", "--preset", "default",
           "--out", str(cache / "scene")]
    try:
        r = subprocess.run(cmd + ["--resolution", "256"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = sorted(cache.rglob("transforms.json")) if r.returncode == 0 else []
    return str(found[0].parent) if found else None


def _synthetic(dir_: str, size: int, views: int, gaussians: int) -> str:
    from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset

    scene = make_scene(n_gaussians=gaussians, n_views=views, size=size, seed=0)
    return write_transforms_dataset(scene, dir_, n_points=max(500, gaussians))


def _initial_psnr(dataset: str, downscale: int) -> float:
    import torch

    from blender_gs_addon.trainer.dataset_loader import load_dataset
    from blender_gs_addon.trainer.model import GaussianModel
    from blender_gs_addon.trainer.train import _ViewTensors, evaluate

    data = load_dataset(dataset, downscale=downscale)
    model = GaussianModel.from_points(data.points, data.colors, 3, torch.device("cpu"))
    views = [_ViewTensors(c, torch.device("cpu")) for c in data.test]
    return evaluate(model, views, 0, torch.zeros(3))["psnr"]


def run(quick: bool) -> dict:
    from blender_gs_addon.trainer.dataset_loader import load_dataset
    from blender_gs_addon.trainer.train import TrainConfig, train

    work = Path(tempfile.mkdtemp(prefix="bench_trainer_"))
    try:
        if quick:
            dataset, source = _synthetic(str(work / "ds"), size=128, views=16, gaussians=800), "synthetic"
            iterations, eval_every, time_limit = 40, 0, 50.0
        else:
            dataset = os.environ.get("GS_BENCH_DATASET") or _procgen_dataset(ROOT / "build" / "bench_trainer")
            source = "procgen default scene" if dataset else "synthetic"
            if not dataset:
                dataset = _synthetic(str(work / "ds"), size=256, views=48, gaussians=3000)
            iterations, eval_every, time_limit = 0, 0, TIME_BUDGET_S
        first = load_dataset(dataset)
        width = first.train[0].width
        downscale = max(1, round(width / 256))  # train at about 256 pixels wide
        before = _initial_psnr(dataset, downscale)
        if not quick:
            # pick the iteration count that fits the time budget from a short timed run
            probe = train(TrainConfig(dataset=dataset, out=str(work / "probe"), iterations=60, device="cpu",
                                      downscale=downscale, show_bar=False, background="black"))
            iterations = max(500, int(probe["iterations_per_s"] * TIME_BUDGET_S * 0.8))
            eval_every = max(100, iterations // 8)
        m = train(TrainConfig(dataset=dataset, out=str(work / "run"), iterations=iterations, device="cpu",
                              downscale=downscale, show_bar=False, eval_every=eval_every, background="black",
                              time_limit_s=time_limit))
        return {
            "dataset": source, "width": first.train[0].width // downscale,
            "height": first.train[0].height // downscale, "train_views": m["train_views"],
            "test_views": m["test_views"], "device": m["device"], "threads": m["threads"],
            "iterations": m["iterations"], "iterations_per_s": m["iterations_per_s"],
            "wall_time_s": m["wall_time_s"], "gaussians": m["gaussians"],
            "psnr": m["psnr"], "ssim": m["ssim"], "initial_psnr": before,
            "psnr_gain_db_vs_initial": m["psnr"] - before,
            "psnr_ratio_vs_target_25db": m["psnr"] / TARGET_PSNR,
            "time_ratio_vs_budget_600s": m["wall_time_s"] / TIME_BUDGET_S,
            "psnr_vs_wall_time": m["eval_curve"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
