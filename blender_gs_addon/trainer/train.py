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
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from procgen.core.atomic import write_text
from procgen.core.jobs_protocol import Reporter

from .checkpoint import (
    checkpoint_iteration,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    write_error,
)
from .dataset_loader import RANDOM_POINTS, Camera, Dataset, has_alpha, load_dataset
from .densify import DensifyConfig
from .fingerprint import dataset_fingerprint, resume_problem, settings_fingerprint
from .live_preview import report_held_out
from .losses import depth_loss, mask_alpha_loss, photometric_loss
from .metrics import depth_error, psnr, psnr_where, ssim_value, ssim_where
from .model import GaussianModel
from .optim import Adam
from .schedule import Schedule
from .sky import SkyConfig, SkyShell, composite
from .strategy import DefaultStrategy, Strategy
from .strategy_mcmc import MCMCConfig, MCMCStrategy

# Weight of the relative depth loss where a dataset has depth (ours always do); see docs/training.md.
DEFAULT_DEPTH_WEIGHT = 1.0


STRATEGIES = ("default", "mcmc")


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
    depth_weight: float = DEFAULT_DEPTH_WEIGHT  # the depth loss, where the dataset has depth (0 = off)
    checkpoint_every: int = 0  # 0 = about ten per run
    progress_every: int = 10
    eval_every: int = 0  # 0 = only at the end; else also held-out PSNR every N iterations
    progress_json: bool = False
    show_bar: bool = True
    random_points: int = RANDOM_POINTS
    time_limit_s: float = 0.0  # > 0: stop (keeping everything) once training has run this long
    out_format: str = "ply"  # also write point_cloud.<out_format> (a suffix of splats.io.FORMATS)
    final_out: str = ""  # where the results end up when `out` is a staging folder (--overwrite): the cancel file
    trust_checkpoint: bool = False  # resume from a checkpoint that records no dataset/settings fingerprint
    strategy: str = "default"  # default (clone/split/prune) | mcmc (relocate and grow to a budget)
    densify: DensifyConfig = field(default_factory=DensifyConfig)
    mcmc: MCMCConfig = field(default_factory=MCMCConfig)
    sky: SkyConfig = field(default_factory=SkyConfig)
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

    def __init__(self, path: str):
        self.path = path
        self.signalled = False
        self.source: str | None = None  # what asked to stop: SIGINT, SIGTERM or "cancel file"
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
        self.source = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def requested(self) -> bool:
        if not self.signalled and os.path.exists(self.path):
            self.source = "cancel file"
        return self.signalled or self.source is not None


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

    def __init__(self, cam: Camera, device: torch.device):
        self.cam = cam
        self.viewmat = torch.as_tensor(cam.viewmat, device=device)
        self.K = torch.as_tensor(cam.K, device=device)
        self.image = torch.as_tensor(cam.image, device=device)  # [H, W, 3] uint8
        self.alpha = None if cam.alpha is None else torch.as_tensor(cam.alpha, device=device)
        self.depth = None if cam.depth is None else torch.as_tensor(cam.depth, device=device)  # [H, W], inf = sky
        self.sky = None if cam.depth is None else ~torch.isfinite(self.depth)  # [H, W] bool

    def target(self, background: torch.Tensor) -> torch.Tensor:
        """Ground truth [H, W, 3] float in [0, 1], RGBA composited on `background` [3]."""
        img = self.image.float() / 255.0
        if self.alpha is not None:
            a = self.alpha.float() / 255.0
            img = img * a + background * (1 - a)
        return img


def render(model: GaussianModel, view: _ViewTensors, sh_degree: int, background: torch.Tensor,
           sky: SkyShell | None = None, absgrad: bool = False):
    """-> rgb [H, W, 3] (the scene over the sky over `background`), and the scene's own alpha
    [H, W, 1], depth [H, W, 1] (sum of w_i z_i) and rasterizer meta (with absgrad, the scene's
    means2d_absgrad too)."""
    from cuda_ext import rasterize

    w, h = view.cam.width, view.cam.height
    out = rasterize(model.means, model.params["quats"], model.scales(), model.opacities(),
                    model.colors(model.max_sh_degree), view.viewmat, view.K, w, h,
                    sh_degree=sh_degree, background=background if sky is None else None, absgrad=absgrad)
    if sky is None:
        return out
    rgb, alpha, depth, meta = out
    s = sky.model
    sky_rgb = rasterize(s.means, s.params["quats"], s.scales(), s.opacities(), s.colors(0), view.viewmat, view.K,
                        w, h, sh_degree=0, background=background)[0]
    return composite(rgb, alpha, sky_rgb), alpha, depth, meta


def _view_metrics(v: _ViewTensors, rgb: torch.Tensor, gt: torch.Tensor, alpha: torch.Tensor,
                  depth: torch.Tensor) -> dict:
    """PSNR/SSIM of one held-out view; with a sky mask also PSNR of the sky and of the rest, and
    with depth the median relative depth error of the scene's Gaussians over surface pixels."""
    out = {"name": v.cam.name, "psnr": psnr(rgb, gt), "ssim": ssim_value(rgb, gt)}
    if v.sky is not None:
        out["psnr_sky"] = psnr_where(rgb, gt, v.sky)
        out["psnr_rest"] = psnr_where(rgb, gt, ~v.sky)
        out["ssim_sky"] = ssim_where(rgb, gt, v.sky)
        out["ssim_rest"] = ssim_where(rgb, gt, ~v.sky)
        out["sky_fraction"] = float(v.sky.float().mean())
        out["depth_error"] = depth_error(depth, alpha, v.depth)
    return out


def _mean_of(per_view: list[dict], key: str) -> float | None:
    vals = [p[key] for p in per_view if p.get(key) is not None and math.isfinite(p[key])]
    return float(np.mean(vals)) if vals else None


@torch.no_grad()
def evaluate(model: GaussianModel, views: list[_ViewTensors], sh_degree: int, background: torch.Tensor,
             out_dir: str | None = None, sky: SkyShell | None = None) -> dict:
    """Held-out PSNR/SSIM (all pixels, sky, rest), depth error; writes `renders/<name>.png`
    (ground truth left, render right) if out_dir."""
    from procgen.render.png import write_png

    per_view = []
    for v in views:
        rgb, alpha, depth, _ = render(model, v, sh_degree, background, sky)
        rgb = rgb.clamp(0, 1)
        gt = v.target(background)
        per_view.append(_view_metrics(v, rgb, gt, alpha, depth))
        if out_dir is not None:
            d = os.path.join(out_dir, "renders")
            os.makedirs(d, exist_ok=True)
            pair = torch.cat([gt, rgb], dim=1).cpu().numpy()
            name = v.cam.name.replace("/", "_")
            write_png(os.path.join(d, f"{name}.png"), (pair * 255 + 0.5).astype(np.uint8))
    keys = ("psnr", "ssim", "psnr_sky", "psnr_rest", "ssim_sky", "ssim_rest", "depth_error")
    return {**{k: _mean_of(per_view, k) for k in keys}, "views": per_view}


def _write_json(path: str, obj) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


@contextmanager
def _writing(path: str):
    """Yield ``path``; a failed write becomes one line naming it ("no space left on device" when so)."""
    try:
        yield path
    except OSError as exc:
        raise write_error(exc, path) from None


def splat_data(model: GaussianModel, sky: SkyShell | None):
    """-> SplatData of the scene's Gaussians, then the sky's (marked by the `sky` column)."""
    from ..splats.sky_rows import with_sky

    scene = model.to_splat_data()
    return scene if sky is None else with_sky(scene, sky.model.to_splat_data())


def write_ply_atomic(model: GaussianModel, path: str, sky: SkyShell | None = None) -> None:
    from ..splats import write_ply

    write_ply(path, splat_data(model, sky))  # atomic itself


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


def _check_config(cfg: TrainConfig) -> None:
    if cfg.iterations < 1:
        raise TrainingError(f"iterations must be >= 1, got {cfg.iterations}")
    for name, value, low in (("time limit", cfg.time_limit_s, 0), ("depth weight", cfg.depth_weight, 0),
                             ("max gaussians", cfg.max_gaussians, 0), ("downscale", cfg.downscale, 1)):
        if not (math.isfinite(value) and value >= low):
            raise TrainingError(f"{name} must be a finite number >= {low}, got {value}")
    if not 0 <= cfg.sh_degree <= 3:
        raise TrainingError(f"sh degree must be 0..3, got {cfg.sh_degree}")
    if cfg.sky.mode not in ("auto", "on", "off"):
        raise TrainingError(f"sky must be auto, on or off, got {cfg.sky.mode}")
    if cfg.background not in ("random", "black", "white"):
        raise TrainingError(f"background must be random, black or white, got {cfg.background}")
    if cfg.strategy not in STRATEGIES:
        raise TrainingError(f"strategy must be {' or '.join(STRATEGIES)}, got {cfg.strategy}")


def _budget(cfg: TrainConfig) -> int:
    """The cap on scene Gaussians (0 = none): --max-gaussians, else the MCMC strategy's own budget."""
    return cfg.max_gaussians or (cfg.mcmc.max_gaussians if cfg.strategy == "mcmc" else 0)


def cancel_path(cfg: TrainConfig) -> str:
    """The add-on's cancel request: <out>/.cancel (of the final folder when training in a staging one)."""
    return os.path.join(cfg.final_out or cfg.out, ".cancel")


def _prepare_out_dir(cfg: TrainConfig) -> None:
    try:
        os.makedirs(cfg.out, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, cfg.out) from None
    try:
        os.remove(cancel_path(cfg))  # a stale request from an earlier run
    except FileNotFoundError:
        pass


class Trainer:
    """One training run in three parts: the constructor sets it up (from a checkpoint when
    cfg.resume), `run()` iterates until the end, a cancel request or the time limit, and
    `finish(status)` writes the results. Densification is the strategy's business (default:
    `DefaultStrategy` on this run's schedule)."""

    def __init__(self, cfg: TrainConfig, strategy: Strategy | None = None):
        self.t_start = time.perf_counter()
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        if self.device.type == "cpu":
            _set_threads()
        _check_config(cfg)
        if cfg.max_gaussians:
            cfg.densify.max_gaussians = cfg.mcmc.max_gaussians = cfg.max_gaussians
        _prepare_out_dir(cfg)

        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        self.data: Dataset = load_dataset(cfg.dataset, downscale=cfg.downscale, load_depth=True,
                                          seed=cfg.seed, random_point_count=cfg.random_points,
                                          max_points=_budget(cfg))
        self.train_views = [_ViewTensors(c, self.device) for c in self.data.train]
        self.test_views = [_ViewTensors(c, self.device) for c in self.data.test]
        self.sched = Schedule.for_run(cfg.iterations, self.data.extent)
        self.model = GaussianModel.from_points(self.data.points, self.data.colors, cfg.sh_degree, self.device)
        self.sky = SkyShell.create(self.data, cfg.sky, self.device)
        self.opt = Adam(self.model.params, self.sched.initial_lrs())  # shares the model's parameter dict
        cfg.densify.grad_threshold = cfg.densify.threshold(objects=has_alpha(self.data))  # recorded as used
        if strategy is None and cfg.strategy == "mcmc":
            strategy = MCMCStrategy(cfg.mcmc, self.sched, self.device, cfg.seed)
        elif strategy is None:
            strategy = DefaultStrategy(cfg.densify, self.sched, len(self.model), self.device, cfg.seed)
        self.strategy = strategy
        self.sampler = _ViewSampler(len(self.train_views), cfg.seed)
        self.history = {"iteration": [], "loss": [], "psnr": [], "gaussians": [], "eval": []}
        self.loss_ema: float | None = None
        self.iteration = self.start_iter = 0
        self.elapsed_before = 0.0
        self.fixed_bg = torch.tensor([1.0, 1.0, 1.0] if cfg.background == "white" else [0.0, 0.0, 0.0],
                                     device=self.device)
        self.ckpt_every = cfg.checkpoint_every or max(100, cfg.iterations // 10)
        self.ckpts_written: list[str] = []  # this run's checkpoints, oldest first (it keeps the newest two)
        self.stopped_by: str | None = None
        self.fingerprint = {"dataset": dataset_fingerprint(self.data), "settings": settings_fingerprint(cfg)}
        self.reporter = Reporter("train", enabled=cfg.progress_json)
        self.t_loop = time.perf_counter()
        if cfg.resume:
            self._resume()

    # ------------------------------------------------------------------ checkpoints
    def _resume(self) -> None:
        cfg = self.cfg
        path = latest_checkpoint(cfg.out)
        if path is None:
            print(f"{cfg.out}: no checkpoint to resume from; starting fresh", file=sys.stderr)
            return
        ck = load_checkpoint(path)
        problem = resume_problem(ck, self.fingerprint, path, cfg.trust_checkpoint)
        if problem is not None:
            raise TrainingError(problem)
        if ck.get("total") != cfg.iterations or ck.get("max_sh_degree") != cfg.sh_degree:
            raise TrainingError(f"{path}: checkpoint is from a run of {ck.get('total')} iterations at SH degree "
                                f"{ck.get('max_sh_degree')}; resume with the same --iterations and --sh-degree")
        for k, v in ck["params"].items():
            self.model.params[k] = v.to(self.device).requires_grad_(True)
        self.opt.load_state_dict(ck["optimizer"])
        if (self.sky is None) != (ck.get("sky") is None):
            raise TrainingError(f"{path}: the checkpoint was trained {'without' if self.sky else 'with'} a sky; "
                                "resume with the same --sky")
        if self.sky is not None:
            self.sky.load_state_dict(ck["sky"], self.device)
        # checkpoints of earlier versions kept the strategy's two parts at the top level
        old = "strategy" not in ck
        self.strategy.load_state_dict({"stats": ck["stats"], "split_gen": ck["split_gen"]} if old else ck["strategy"])
        self.sampler.load(ck["sampler"])
        _set_rng_state(ck["rng"])
        self.history = ck["history"]
        self.iteration = self.start_iter = int(ck["iteration"])
        self.elapsed_before = float(ck.get("elapsed", 0.0))
        self.loss_ema = ck.get("loss_ema")
        self.ckpts_written = [p for p in list_checkpoints(cfg.out) if checkpoint_iteration(p) <= self.iteration]

    def _snapshot(self, elapsed: float | None = None) -> dict:
        return {"iteration": self.iteration, "total": self.cfg.iterations,
                "params": {k: v.detach().cpu().clone() for k, v in self.model.params.items()},
                "optimizer": self.opt.state_dict(), "strategy": self.strategy.state_dict(),
                "sampler": self.sampler.state(), "rng": _rng_state(), "history": self.history,
                "elapsed": self.elapsed() if elapsed is None else elapsed, "loss_ema": self.loss_ema,
                "max_sh_degree": self.cfg.sh_degree, "extent": self.data.extent, "fingerprint": self.fingerprint,
                "sky": None if self.sky is None else self.sky.state_dict()}

    def elapsed(self) -> float:
        """Training time of the whole run (earlier sessions included), in seconds."""
        return self.elapsed_before + time.perf_counter() - self.t_loop

    # ------------------------------------------------------------------ the loop
    def step(self) -> tuple[float, torch.Tensor, torch.Tensor]:
        """One iteration: render a training view, back-propagate, update, let the strategy
        densify. Returns (loss, render [H, W, 3], target [H, W, 3])."""
        cfg = self.cfg
        self.iteration += 1
        it = self.iteration
        self.opt.lrs["means"] = self.sched.means_lr(it)
        view = self.train_views[self.sampler.next()]
        bg = torch.rand(3, device=self.device) if cfg.background == "random" else self.fixed_bg
        rgb, alpha, depth, meta = render(self.model, view, self.sched.sh_degree(it, cfg.sh_degree), bg, self.sky,
                                         absgrad=self.strategy.wants_absgrad(it))
        gt = view.target(bg)
        loss = photometric_loss(rgb, gt)
        if cfg.depth_weight > 0 and view.depth is not None:
            loss = loss + cfg.depth_weight * depth_loss(depth, alpha, view.depth)
        if self.sky is not None and view.sky is not None and cfg.sky.alpha_weight > 0:
            loss = loss + cfg.sky.alpha_weight * mask_alpha_loss(alpha, view.sky)
        reg = self.strategy.regularization(self.model.params)
        if reg is not None:
            loss = loss + reg
        lv = loss.item()  # one host sync serves the guard and the running mean
        if not math.isfinite(lv):
            raise TrainingError(f"loss became {lv} at iteration {it}")
        info = {**meta, "width": view.cam.width, "height": view.cam.height}
        self.strategy.step_pre_backward(self.opt, info, it)
        loss.backward()
        with torch.no_grad():
            self.strategy.step_post_backward(self.opt, info, it)
            self.opt.step()
            self.opt.zero_grad()
            self.strategy.step_post_optimizer(self.opt, info, it)
            if self.sky is not None:
                self.sky.opt.step()
                self.sky.opt.zero_grad()
                self.sky.keep_inside(self.model.params["means"])
        self.loss_ema = lv if self.loss_ema is None else 0.9 * self.loss_ema + 0.1 * lv
        return lv, rgb, gt

    def _stop_reason(self, cancel: _CancelFlag) -> str | None:
        if cancel.requested():
            return "cancelled"
        if self.cfg.time_limit_s and self.elapsed() >= self.cfg.time_limit_s:
            return "time_limit"
        return None

    def run(self) -> str:
        """Iterate to cfg.iterations; returns the status: finished, cancelled or time_limit."""
        bar = None
        if self.cfg.show_bar and not self.cfg.progress_json:
            from tqdm import tqdm

            bar = tqdm(total=self.cfg.iterations, initial=self.start_iter, desc="train", unit="it",
                       dynamic_ncols=True)
        status = "finished"
        self.t_loop = time.perf_counter()
        with _CancelFlag(cancel_path(self.cfg)) as cancel:
            try:
                while self.iteration < self.cfg.iterations:
                    stop = self._stop_reason(cancel)
                    if stop is not None:
                        status = stop
                        self.stopped_by = cancel.source
                        break
                    bad = self.model.all_finite()
                    if bad is not None:
                        raise TrainingError(f"parameter '{bad}' became NaN/Inf before iteration {self.iteration + 1}")
                    _, rgb, gt = self.step()
                    self._after_step(rgb, gt, bar)
            except KeyboardInterrupt:  # a second Ctrl-C: stop mid-iteration
                status, self.stopped_by = "cancelled", "SIGINT"
                if not self.model.consistent() or self.model.all_finite() is not None:
                    raise TrainingError("interrupted in the middle of an update; the last checkpoint is kept") from None
            finally:
                if bar is not None:
                    bar.close()
        return status

    def _after_step(self, rgb: torch.Tensor, gt: torch.Tensor, bar) -> None:
        """Progress, periodic evaluation, the callback and periodic checkpoints."""
        cfg, it, n = self.cfg, self.iteration, len(self.model)
        if it % cfg.progress_every == 0 or it == cfg.iterations:
            train_psnr = psnr(rgb.detach().clamp(0, 1), gt)
            for key, value in (("iteration", it), ("loss", self.loss_ema), ("psnr", train_psnr), ("gaussians", n)):
                self.history[key].append(value)
            self.reporter.progress(it, cfg.iterations, f"iteration {it}/{cfg.iterations}, loss {self.loss_ema:.4f}, "
                                   f"PSNR {train_psnr:.2f} dB, {n:,} Gaussians",
                                   loss=self.loss_ema, psnr=train_psnr, gaussians=n)
            if bar is not None:
                bar.set_postfix(loss=f"{self.loss_ema:.4f}", psnr=f"{train_psnr:.2f}", n=n, refresh=False)
        if bar is not None:
            bar.update(1)
        if cfg.eval_every and it % cfg.eval_every == 0 and self.test_views:
            ev = evaluate(self.model, self.test_views, cfg.sh_degree, self.fixed_bg, sky=self.sky)
            self.history["eval"].append({"iteration": it, "psnr": ev["psnr"], "ssim": ev["ssim"],
                                         "wall_s": self.elapsed()})
            report_held_out(self, it, ev)
        if cfg.callback is not None:
            cfg.callback(it, self.model)
        if it % self.ckpt_every == 0 and it < cfg.iterations and self.model.all_finite() is None:
            save_checkpoint(cfg.out, self._snapshot(), written=self.ckpts_written)

    # ------------------------------------------------------------------ results
    def finish(self, status: str) -> dict:
        """Final checkpoint, point_cloud.ply, held-out evaluation and renders, metrics.json, curves."""
        cfg = self.cfg
        bad = self.model.all_finite()
        if bad is not None:
            raise TrainingError(f"parameter '{bad}' is NaN/Inf after iteration {self.iteration}")
        loop_time = time.perf_counter() - self.t_loop
        save_checkpoint(cfg.out, self._snapshot(self.elapsed_before + loop_time),  # as metrics' wall time
                        written=self.ckpts_written)
        ply_path = os.path.join(cfg.out, "point_cloud.ply")
        with _writing(ply_path):
            write_ply_atomic(self.model, ply_path, self.sky)
        if cfg.out_format != "ply":  # beside the .ply, which resuming and Blender read
            from ..splats import write_splats

            with _writing(os.path.join(cfg.out, f"point_cloud.{cfg.out_format}")) as path:
                write_splats(path, splat_data(self.model, self.sky))
        with _writing(os.path.join(cfg.out, "renders")):
            ev = evaluate(self.model, self.test_views, cfg.sh_degree, self.fixed_bg, out_dir=cfg.out, sky=self.sky)
        metrics = self._metrics(status, ev, loop_time)
        with _writing(os.path.join(cfg.out, "metrics.json")) as path:
            _write_json(path, metrics)
        if self.history["iteration"]:
            from procgen.render.png import write_png

            from .plots import curve_image

            with _writing(os.path.join(cfg.out, "curves.png")) as path:
                write_png(path, curve_image(self.history["iteration"], self.history["loss"], self.history["psnr"]))
        ply_path = os.path.join(cfg.final_out or cfg.out, "point_cloud.ply")  # where it is once committed
        self.reporter.result(ply=os.path.abspath(ply_path), metrics={
            k: metrics[k] for k in ("status", "psnr", "ssim", "gaussians", "iterations", "wall_time_s",
                                    "iterations_per_s", "device")})
        return metrics

    def _metrics(self, status: str, ev: dict, loop_time: float) -> dict:
        cfg, data, run_iters = self.cfg, self.data, self.iteration - self.start_iter
        return {
            "status": status, "stopped_by": self.stopped_by,
            "psnr": ev["psnr"], "ssim": ev["ssim"], "psnr_sky": ev["psnr_sky"], "psnr_rest": ev["psnr_rest"],
            "ssim_sky": ev["ssim_sky"], "ssim_rest": ev["ssim_rest"],
            "depth_error": ev["depth_error"], "test_views": len(self.test_views),
            "train_views": len(self.train_views),
            "gaussians": len(self.model) + (0 if self.sky is None else len(self.sky)),
            "scene_gaussians": len(self.model), "sky_gaussians": 0 if self.sky is None else len(self.sky),
            "sky_radius": None if self.sky is None else self.sky.radius,
            "iterations": self.iteration, "total_iterations": cfg.iterations,
            "wall_time_s": self.elapsed_before + loop_time,
            "iterations_per_s": (run_iters / loop_time) if loop_time > 0 else None,
            "device": str(self.device), "threads": torch.get_num_threads() if self.device.type == "cpu" else None,
            "sh_degree": cfg.sh_degree, "background": cfg.background, "depth_weight": cfg.depth_weight,
            "dataset": data.source, "layout": data.layout, "random_init": data.random_points,
            "initial_points": int(len(data.points)), "notes": data.notes,
            "per_view": ev["views"], "eval_curve": self.history["eval"],
            "total_time_s": time.perf_counter() - self.t_start,
        }


def train(cfg: TrainConfig, strategy: Strategy | None = None) -> dict:
    """Train on cfg.dataset, write results into cfg.out; returns the metrics dict.

    Raises DatasetError for bad input and TrainingError when training diverges (NaN/Inf);
    in the latter case the last good checkpoint is kept and nothing corrupt is written.
    """
    trainer = Trainer(cfg, strategy)
    return trainer.finish(trainer.run())
