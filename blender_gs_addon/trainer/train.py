"""The training loop: `train(config) -> dict` of final metrics.

One view per iteration (random order, reshuffled each epoch), loss 0.8 L1 + 0.2 (1 - SSIM)
(+ optional depth term), per-parameter Adam, adaptive density control, periodic atomic
checkpoints, cancel via KeyboardInterrupt / SIGTERM / `<out>/.cancel`, evaluation on the
held-out views. Rendering is `cuda_ext.rasterize` only (C++ on CPU tensors, CUDA on CUDA tensors).
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .datasets import Camera, Dataset, load_dataset
from .densify import DensifyConfig, DensifyStats, densify_and_prune, reset_opacity
from .losses import depth_loss, photometric_loss
from .metrics import psnr, ssim_value
from .model import GaussianModel
from .optim import Adam
from .schedule import Schedule


class TrainingError(RuntimeError):
    """Training cannot go on (bad numbers, bad checkpoint); the message says why."""


@dataclass
class TrainConfig:
    dataset: str
    out: str
    iterations: int = 7000
    device: str = "auto"  # auto | cpu | cuda
    sh_degree: int = 3
    max_gaussians: int = 0  # 0 = no cap
    resume: bool = False
    downscale: int = 1
    background: str = "random"  # random | black | white
    seed: int = 0
    depth_weight: float = 0.0  # > 0 adds the depth loss against ground-truth depth
    checkpoint_every: int = 0  # 0 = about ten per run
    progress_every: int = 10
    eval_every: int = 0  # 0 = only at the end; else also held-out PSNR every N iterations
    progress_json: bool = False
    show_bar: bool = True
    random_points: int = 20000
    time_limit_s: float = 0.0  # > 0: stop (keeping everything) once training has run this long
    densify: DensifyConfig = field(default_factory=DensifyConfig)
    # called after every iteration with (iteration, model); used by tools and tests
    callback: Callable | None = None


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda asked for, but this torch has no CUDA device")
    if name not in ("cpu", "cuda"):
        raise TrainingError(f"unknown device '{name}' (auto, cpu or cuda)")
    return torch.device(name)


def _set_threads() -> None:
    """Use every core unless the user limited it (OMP_NUM_THREADS)."""
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, os.cpu_count() or 1))


class _CancelFlag:
    """Cancel requests: SIGTERM, the first Ctrl-C (SIGINT), or the file <out>/.cancel (the add-on's
    cancel button). They stop the loop between two iterations, so the saved state is exact; a second
    Ctrl-C interrupts at once."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, ".cancel")
        self.signalled = False
        self._old: dict = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: rely on the file
                pass
        return self

    def _handler(self, signum, frame):
        if self.signalled and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signalled = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def requested(self) -> bool:
        return self.signalled or os.path.exists(self.path)


def _emit(cfg: TrainConfig, obj: dict) -> None:
    if cfg.progress_json:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class _ViewSampler:
    """Random order over the training views, reshuffled after each pass (checkpointable)."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []

    def next(self) -> int:
        if not self.order:
            self.order = self.rng.permutation(self.n).tolist()
        return self.order.pop()

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "order": list(self.order)}

    def load(self, st: dict) -> None:
        self.rng.bit_generator.state = st["rng"]
        self.order = list(st["order"])


class _ViewTensors:
    """Per-camera tensors on the device, converted once (images stay uint8 until used)."""

    def __init__(self, cam: Camera, device: torch.device, with_depth: bool):
        self.cam = cam
        self.viewmat = torch.as_tensor(cam.viewmat, device=device)
        self.K = torch.as_tensor(cam.K, device=device)
        self.image = torch.as_tensor(cam.image, device=device)  # [H, W, 3] uint8
        self.alpha = None if cam.alpha is None else torch.as_tensor(cam.alpha, device=device)
        self.depth = torch.as_tensor(cam.depth, device=device) if (with_depth and cam.depth is not None) else None

    def target(self, background: torch.Tensor) -> torch.Tensor:
        """Ground truth [H, W, 3] float in [0, 1], RGBA composited on `background` [3]."""
        img = self.image.float() / 255.0
        if self.alpha is not None:
            a = self.alpha.float() / 255.0
            img = img * a + background * (1 - a)
        return img


def render(model: GaussianModel, view: _ViewTensors, sh_degree: int, background: torch.Tensor):
    from ..cuda_ext import rasterize

    return rasterize(model.means, model.params["quats"], model.scales(), model.opacities(),
                     model.colors(model.max_sh_degree), view.viewmat, view.K, view.cam.width, view.cam.height,
                     sh_degree=sh_degree, background=background)


@torch.no_grad()
def evaluate(model: GaussianModel, views: list[_ViewTensors], sh_degree: int, background: torch.Tensor,
             out_dir: str | None = None) -> dict:
    """Held-out PSNR/SSIM; writes `renders/<name>.png` (ground truth left, render right) if out_dir."""
    from ..procgen.render.png import write_png

    per_view = []
    for v in views:
        rgb, _, _, _ = render(model, v, sh_degree, background)
        rgb = rgb.clamp(0, 1)
        gt = v.target(background)
        per_view.append({"name": v.cam.name, "psnr": psnr(rgb, gt), "ssim": ssim_value(rgb, gt)})
        if out_dir is not None:
            d = os.path.join(out_dir, "renders")
            os.makedirs(d, exist_ok=True)
            pair = torch.cat([gt, rgb], dim=1).cpu().numpy()
            name = v.cam.name.replace("/", "_")
            write_png(os.path.join(d, f"{name}.png"), (pair * 255 + 0.5).astype(np.uint8))
    if not per_view:
        return {"psnr": None, "ssim": None, "views": []}
    return {"psnr": float(np.mean([p["psnr"] for p in per_view])),
            "ssim": float(np.mean([p["ssim"] for p in per_view])), "views": per_view}


def _write_json(path: str, obj) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_ply_atomic(model: GaussianModel, path: str) -> None:
    from ..splats import write_ply

    tmp = f"{path}.tmp{os.getpid()}.ply"
    write_ply(tmp, model.to_splat_data())
    os.replace(tmp, path)


def _rng_state() -> dict:
    st = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    torch.set_rng_state(st["torch"])
    random.setstate(st["python"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def train(cfg: TrainConfig) -> dict:
    """Train on cfg.dataset, write results into cfg.out; returns the metrics dict.

    Raises DatasetError for bad input and TrainingError when training diverges (NaN/Inf);
    in the latter case the last good checkpoint is kept and nothing corrupt is written.
    """
    t_start = time.perf_counter()
    device = pick_device(cfg.device)
    if device.type == "cpu":
        _set_threads()
    if cfg.iterations < 1:
        raise TrainingError(f"iterations must be >= 1, got {cfg.iterations}")
    if not 0 <= cfg.sh_degree <= 3:
        raise TrainingError(f"sh degree must be 0..3, got {cfg.sh_degree}")
    if cfg.background not in ("random", "black", "white"):
        raise TrainingError(f"background must be random, black or white, got {cfg.background}")
    if cfg.max_gaussians:
        cfg.densify.max_gaussians = cfg.max_gaussians
    os.makedirs(cfg.out, exist_ok=True)
    try:
        os.remove(os.path.join(cfg.out, ".cancel"))  # a stale request from an earlier run
    except FileNotFoundError:
        pass

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    data: Dataset = load_dataset(cfg.dataset, downscale=cfg.downscale, load_depth=cfg.depth_weight > 0,
                                 seed=cfg.seed, random_point_count=cfg.random_points)
    train_views = [_ViewTensors(c, device, cfg.depth_weight > 0) for c in data.train]
    test_views = [_ViewTensors(c, device, False) for c in data.test]
    sched = Schedule.for_run(cfg.iterations, data.extent)
    model = GaussianModel.from_points(data.points, data.colors, cfg.sh_degree, device)
    opt = Adam(model.params, sched.initial_lrs())
    stats = DensifyStats(len(model), device)
    sampler = _ViewSampler(len(train_views), cfg.seed)
    split_gen = torch.Generator(device=device)
    split_gen.manual_seed(cfg.seed + 1)
    history = {"iteration": [], "loss": [], "psnr": [], "gaussians": [], "eval": []}
    loss_ema = None
    start_iter = 0
    elapsed_before = 0.0

    ckpt_path = latest_checkpoint(cfg.out) if cfg.resume else None
    if cfg.resume and ckpt_path is None:
        print(f"{cfg.out}: no checkpoint to resume from; starting fresh", file=sys.stderr)
    if ckpt_path is not None:
        ck = load_checkpoint(ckpt_path)
        if ck.get("total") != cfg.iterations or ck.get("max_sh_degree") != cfg.sh_degree:
            raise TrainingError(f"{ckpt_path}: checkpoint is from a run of {ck.get('total')} iterations at SH degree "
                                f"{ck.get('max_sh_degree')}; resume with the same --iterations and --sh-degree")
        for k, v in ck["params"].items():
            model.params[k] = v.to(device).requires_grad_(True)
        opt.load_state_dict(ck["optimizer"])
        stats = DensifyStats(len(model), device)
        stats.load_state_dict(ck["stats"])
        sampler.load(ck["sampler"])
        _set_rng_state(ck["rng"])
        split_gen.set_state(ck["split_gen"])
        history = ck["history"]
        start_iter = int(ck["iteration"])
        elapsed_before = float(ck.get("elapsed", 0.0))
        loss_ema = ck.get("loss_ema")

    fixed_bg = torch.tensor([1.0, 1.0, 1.0] if cfg.background == "white" else [0.0, 0.0, 0.0], device=device)
    ckpt_every = cfg.checkpoint_every or max(100, cfg.iterations // 10)

    def snapshot(iteration: int, elapsed: float) -> dict:
        return {"iteration": iteration, "total": cfg.iterations,
                "params": {k: v.detach().cpu().clone() for k, v in model.params.items()},
                "optimizer": opt.state_dict(), "stats": stats.state_dict(), "sampler": sampler.state(),
                "rng": _rng_state(), "split_gen": split_gen.get_state(), "history": history,
                "elapsed": elapsed, "loss_ema": loss_ema, "max_sh_degree": cfg.sh_degree, "extent": data.extent}

    bar = None
    if cfg.show_bar and not cfg.progress_json:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start_iter, desc="train", unit="it", dynamic_ncols=True)

    status = "finished"
    iteration = start_iter
    t_loop = time.perf_counter()
    with _CancelFlag(cfg.out) as cancel:
        try:
            while iteration < cfg.iterations:
                if cancel.requested():
                    status = "cancelled"
                    break
                if cfg.time_limit_s and elapsed_before + time.perf_counter() - t_loop >= cfg.time_limit_s:
                    status = "time_limit"
                    break
                bad = model.all_finite()
                if bad is not None:
                    raise TrainingError(f"parameter '{bad}' became NaN/Inf before iteration {iteration + 1}")
                iteration += 1
                opt.lrs["means"] = sched.means_lr(iteration)
                view = train_views[sampler.next()]
                bg = torch.rand(3, device=device) if cfg.background == "random" else fixed_bg
                degree = sched.sh_degree(iteration, cfg.sh_degree)
                rgb, alpha, depth, meta = render(model, view, degree, bg)
                gt = view.target(bg)
                loss = photometric_loss(rgb, gt)
                if cfg.depth_weight > 0 and view.depth is not None:
                    loss = loss + cfg.depth_weight * depth_loss(depth, alpha, view.depth, data.extent)
                lv = loss.item()  # one host sync serves the guard and the running mean
                if not math.isfinite(lv):
                    raise TrainingError(f"loss became {lv} at iteration {iteration}")
                loss.backward()
                with torch.no_grad():
                    if iteration <= sched.densify_until and meta["means2d"].grad is not None:
                        stats.update(meta["means2d"].grad, meta["radii"], view.cam.width, view.cam.height)
                    opt.step()
                    opt.zero_grad()
                    if sched.is_densify_step(iteration):
                        densify_and_prune(opt, stats, cfg.densify, data.extent,
                                          prune_large=iteration > sched.opacity_reset_interval, generator=split_gen)
                    if sched.is_opacity_reset_step(iteration):
                        reset_opacity(opt)
                model.params = opt.params
                loss_ema = lv if loss_ema is None else 0.9 * loss_ema + 0.1 * lv
                if iteration % cfg.progress_every == 0 or iteration == cfg.iterations:
                    train_psnr = psnr(rgb.detach().clamp(0, 1), gt)
                    history["iteration"].append(iteration)
                    history["loss"].append(loss_ema)
                    history["psnr"].append(train_psnr)
                    history["gaussians"].append(len(model))
                    _emit(cfg, {"type": "progress", "iteration": iteration, "total": cfg.iterations,
                                "loss": loss_ema, "psnr": train_psnr, "gaussians": len(model)})
                    if bar is not None:
                        bar.set_postfix(loss=f"{loss_ema:.4f}", psnr=f"{train_psnr:.2f}", n=len(model), refresh=False)
                if bar is not None:
                    bar.update(1)
                if cfg.eval_every and iteration % cfg.eval_every == 0 and test_views:
                    ev = evaluate(model, test_views, cfg.sh_degree, fixed_bg)
                    history["eval"].append({"iteration": iteration, "psnr": ev["psnr"], "ssim": ev["ssim"],
                                            "wall_s": elapsed_before + time.perf_counter() - t_loop})
                if cfg.callback is not None:
                    cfg.callback(iteration, model)
                if iteration % ckpt_every == 0 and iteration < cfg.iterations:
                    if model.all_finite() is None:
                        save_checkpoint(cfg.out, snapshot(iteration, elapsed_before + time.perf_counter() - t_loop))
        except KeyboardInterrupt:  # a second Ctrl-C: stop mid-iteration
            status = "cancelled"
            if not model.consistent() or model.all_finite() is not None:
                raise TrainingError("interrupted in the middle of an update; the last checkpoint is kept") from None
        finally:
            if bar is not None:
                bar.close()

    if model.all_finite() is not None:
        raise TrainingError(f"parameter '{model.all_finite()}' is NaN/Inf after iteration {iteration}")
    loop_time = time.perf_counter() - t_loop
    elapsed = elapsed_before + loop_time
    save_checkpoint(cfg.out, snapshot(iteration, elapsed))
    ply_path = os.path.join(cfg.out, "point_cloud.ply")
    write_ply_atomic(model, ply_path)
    ev = evaluate(model, test_views, cfg.sh_degree, fixed_bg, out_dir=cfg.out)
    run_iters = iteration - start_iter
    metrics = {
        "status": status,
        "psnr": ev["psnr"], "ssim": ev["ssim"], "test_views": len(test_views), "train_views": len(train_views),
        "gaussians": len(model), "iterations": iteration, "total_iterations": cfg.iterations,
        "wall_time_s": elapsed, "iterations_per_s": (run_iters / loop_time) if loop_time > 0 else None,
        "device": str(device), "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "sh_degree": cfg.sh_degree, "background": cfg.background, "depth_weight": cfg.depth_weight,
        "dataset": data.source, "layout": data.layout, "random_init": data.random_points,
        "initial_points": int(len(data.points)), "notes": data.notes,
        "per_view": ev["views"], "eval_curve": history["eval"],
        "total_time_s": time.perf_counter() - t_start,
    }
    _write_json(os.path.join(cfg.out, "metrics.json"), metrics)
    if history["iteration"]:
        from ..procgen.render.png import write_png

        from .plots import curve_image

        write_png(os.path.join(cfg.out, "curves.png"),
                  curve_image(history["iteration"], history["loss"], history["psnr"]))
    _emit(cfg, {"type": "done", "ply": os.path.abspath(ply_path), "metrics": {
        k: metrics[k] for k in ("status", "psnr", "ssim", "gaussians", "iterations", "wall_time_s",
                                "iterations_per_s", "device")}})
    return metrics
