"""The trainer's densification strategy hooks, and resuming after the process was killed (kill -9)."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import blender_gs_addon.trainer  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
from blender_gs_addon.trainer.checkpoint import latest_checkpoint, load_checkpoint
from blender_gs_addon.trainer.dataset_loader import load_dataset
from blender_gs_addon.trainer.densify import DensifyConfig
from blender_gs_addon.trainer.schedule import Schedule
from blender_gs_addon.trainer.strategy import DefaultStrategy, Strategy
from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset
from blender_gs_addon.trainer.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
ITERATIONS = 300  # past the first opacity reset (300), so every hook has work to do


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    scene = make_scene(n_gaussians=150, n_views=16, size=32, seed=3)
    return write_transforms_dataset(scene, str(tmp_path_factory.mktemp("ds")), n_points=600)


@pytest.fixture(scope="module")
def full_run(dataset_dir, tmp_path_factory):
    """An uninterrupted run with the default strategy: (metrics, output folder)."""
    out = tmp_path_factory.mktemp("full")
    return train(_cfg(dataset_dir, out)), out


def _cfg(dataset, out, **kw):
    base = dict(dataset=dataset, out=str(out), iterations=ITERATIONS, device="cpu", sh_degree=1,
                background="black", show_bar=False, seed=1)
    base.update(kw)
    return TrainConfig(**base)


class _Recording(DefaultStrategy):
    """The default strategy, noting what each hook saw."""

    def __init__(self, *args):
        super().__init__(*args)
        self.calls = []

    def step_pre_backward(self, opt, info, step):
        self.calls.append(("pre", step, info["means2d"].grad is None))
        super().step_pre_backward(opt, info, step)

    def step_post_backward(self, opt, info, step):
        have_grads = info["means2d"].grad is not None and all(p.grad is not None for p in opt.params.values())
        self.calls.append(("post_backward", step, have_grads))
        super().step_post_backward(opt, info, step)

    def step_post_optimizer(self, opt, info, step):
        grads_cleared = all(p.grad is None for p in opt.params.values())
        counts = super().step_post_optimizer(opt, info, step)
        self.calls.append(("post_optimizer", step, grads_cleared, counts))
        return counts


def test_hooks_run_in_order_and_the_default_strategy_densifies_on_schedule(dataset_dir, full_run, tmp_path):
    data = load_dataset(dataset_dir)
    sched = Schedule.for_run(ITERATIONS, data.extent)
    rec = _Recording(DensifyConfig(), sched, len(data.points), torch.device("cpu"), 1)
    m = train(_cfg(dataset_dir, tmp_path), strategy=rec)

    assert [c[:2] for c in rec.calls] == [(kind, s) for s in range(1, ITERATIONS + 1)
                                          for kind in ("pre", "post_backward", "post_optimizer")]
    assert all(c[2] for c in rec.calls)  # no gradient before backward, all after it, none after the step
    densified = [c[1] for c in rec.calls if c[0] == "post_optimizer" and c[3] is not None]
    assert densified == [s for s in range(1, ITERATIONS + 1) if sched.is_densify_step(s)] and densified
    # a subclass that defers to the default behaves exactly like it
    full, full_out = full_run
    assert m["gaussians"] == full["gaussians"] and m["psnr"] == full["psnr"]
    assert (tmp_path / "point_cloud.ply").read_bytes() == (full_out / "point_cloud.ply").read_bytes()


def test_base_strategy_keeps_the_initial_gaussians(dataset_dir, full_run, tmp_path):
    m = train(_cfg(dataset_dir, tmp_path), strategy=Strategy())
    assert m["scene_gaussians"] == m["initial_points"] == 600 and m["gaussians"] == 600 + m["sky_gaussians"]
    assert full_run[0]["scene_gaussians"] != 600  # the default strategy does change the count on this run


def _train_cmd(dataset, out, *extra):
    return [sys.executable, "-m", "blender_gs_addon", "train", dataset, "--out", str(out), "--iterations",
            str(ITERATIONS), "--device", "cpu", "--sh-degree", "1", "--background", "black", "--seed", "1", *extra]


def test_resume_after_kill_9_gives_the_uninterrupted_result(dataset_dir, full_run, tmp_path):
    out = tmp_path / "killed"
    first = out / "checkpoints" / "ckpt_0000100.pt"
    proc = subprocess.Popen(_train_cmd(dataset_dir, out), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # no handler, no final save: as a crash or a power cut
    assert proc.wait(timeout=60) == -signal.SIGKILL
    killed_at = load_checkpoint(latest_checkpoint(str(out)))["iteration"]
    assert 100 <= killed_at < ITERATIONS and not (out / "point_cloud.ply").exists()
    # a write cut short by the kill leaves a temporary file; resuming must not take it
    (out / "checkpoints" / f"ckpt_{killed_at + 100:07d}.pt.tmp12345").write_bytes(b"cut short")

    resumed = subprocess.run(_train_cmd(dataset_dir, out, "--resume"), cwd=ROOT, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    full, full_out = full_run
    assert load_checkpoint(latest_checkpoint(str(out)))["iteration"] == ITERATIONS
    # same device, same thread count, exact checkpoints: the very same splats, bit for bit
    assert (out / "point_cloud.ply").read_bytes() == (full_out / "point_cloud.ply").read_bytes()


def test_a_lower_densify_threshold_from_the_command_line_grows_more_gaussians(dataset_dir, full_run, tmp_path):
    """`train --densify-threshold` reaches the default strategy: a tenth of the default threshold
    ends with more Gaussians than the default run of the same settings."""
    from blender_gs_addon.cli import main

    out = tmp_path / "low"
    code = main(["train", dataset_dir, "--out", str(out), "--iterations", str(ITERATIONS), "--device", "cpu",
                 "--sh-degree", "1", "--background", "black", "--seed", "1", "--densify-threshold", "2e-5"])
    assert code == 0
    low = json.loads((out / "metrics.json").read_text())
    assert low["scene_gaussians"] > full_run[0]["scene_gaussians"]


def test_absgrad_densifies_a_gaussian_whose_pixels_pull_in_opposite_directions():
    """A wide Gaussian centred on a thin bright line: by symmetry the pixels left and right of it
    pull its centre apart and its plain screen-space gradient cancels, so the usual signal leaves
    it alone; the sum of each pixel's |gradient| sees it, and the absgrad signal splits it."""
    from blender_gs_addon.trainer.densify import DensifyStats, densify_and_prune
    from blender_gs_addon.trainer.model import inverse_sigmoid
    from blender_gs_addon.trainer.optim import Adam
    from cuda_ext import rasterize

    w = h = 32
    K = torch.tensor([[32.0, 0, 16], [0, 32.0, 16], [0, 0, 1]])
    target = torch.zeros(h, w, 3)
    target[:, 15:17] = 1.0  # a line two pixels wide, symmetric about x = 16
    params = {"means": torch.tensor([[0.0, 0.0, 4.0]]), "quats": torch.tensor([[1.0, 0, 0, 0]]),
              "scales_log": torch.log(torch.tensor([[0.5, 0.5, 0.5]])),
              "opacity_logit": inverse_sigmoid(torch.tensor([0.5])), "sh_dc": torch.tensor([[[0.5, 0.5, 0.5]]])}
    stats = {}
    for kind in ("grad", "absgrad"):
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        rgb, _, _, meta = rasterize(p["means"], p["quats"], torch.exp(p["scales_log"]),
                                    torch.sigmoid(p["opacity_logit"]), p["sh_dc"][:, 0], torch.eye(4), K, w, h,
                                    absgrad=kind == "absgrad")
        meta["means2d"].retain_grad()
        (rgb - target).abs().mean().backward()
        s = DensifyStats(1, torch.device("cpu"))
        s.update(meta["means2d_absgrad"] if kind == "absgrad" else meta["means2d"].grad, meta["radii"], w, h)
        stats[kind] = s
    plain, absolute = float(stats["grad"].mean_grad()[0]), float(stats["absgrad"].mean_grad()[0])
    assert plain < 1e-3 * absolute  # cancelled, up to the float sums' rounding
    cfg = DensifyConfig(grad_threshold=0.5 * absolute, percent_dense=1e-3)
    counts = {}
    for kind, s in stats.items():
        opt = Adam({k: v.clone() for k, v in params.items()}, {k: 1e-3 for k in params})
        counts[kind] = densify_and_prune(opt, s, cfg, extent=10.0, prune_large=False)
    assert counts["grad"]["split"] + counts["grad"]["cloned"] == 0
    assert counts["absgrad"]["split"] == 1 and counts["absgrad"]["total"] == 2


def test_the_absgrad_signal_from_the_command_line_reaches_the_strategy(dataset_dir, full_run, tmp_path):
    from blender_gs_addon.cli import main

    out = tmp_path / "abs"
    code = main(["train", dataset_dir, "--out", str(out), "--iterations", str(ITERATIONS), "--device", "cpu",
                 "--sh-degree", "1", "--background", "black", "--seed", "1", "--densify-signal", "absgrad"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "finished" and m["scene_gaussians"] != full_run[0]["scene_gaussians"]


@pytest.mark.parametrize("extra", [["--densify-signal", "absgrad"], ["--densify-threshold", "1e-4"]])
def test_the_default_strategys_options_are_refused_with_mcmc(dataset_dir, tmp_path, capsys, extra):
    from blender_gs_addon.cli import main

    out = tmp_path / "mcmc"
    code = main(["train", dataset_dir, "--out", str(out), "--strategy", "mcmc", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--strategy mcmc" in err[0] and not out.exists(), err


def test_objects_on_a_transparent_background_grow_at_the_object_threshold(dataset_dir, tmp_path):
    """Without --densify-threshold the trainer picks the growth threshold by the kind of capture:
    the scenes' for opaque images, the objects' (lower) once the images carry alpha; a threshold
    that is given is kept."""
    from blender_gs_addon.trainer.schedule import DENSIFY_GRAD_THRESHOLD, OBJECT_DENSIFY_GRAD_THRESHOLD
    from blender_gs_addon.trainer.train import Trainer
    from procgen.render.png import read_png, write_png

    objects = tmp_path / "objects"
    shutil.copytree(dataset_dir, objects)
    for png in (objects / "images").glob("*.png"):
        rgb = read_png(str(png))[..., :3]
        alpha = np.where(rgb.max(-1, keepdims=True) > 0, 255, 0).astype(rgb.dtype)  # the black background clear
        write_png(str(png), np.concatenate([rgb, alpha], -1))
    used = {}
    for name, ds, given in (("scene", dataset_dir, None), ("object", str(objects), None),
                            ("given", str(objects), 3e-4)):
        cfg = _cfg(ds, tmp_path / name)
        cfg.densify.grad_threshold = given
        used[name] = Trainer(cfg).cfg.densify.grad_threshold
    assert used == {"scene": DENSIFY_GRAD_THRESHOLD, "object": OBJECT_DENSIFY_GRAD_THRESHOLD, "given": 3e-4}
    assert OBJECT_DENSIFY_GRAD_THRESHOLD < DENSIFY_GRAD_THRESHOLD
