"""Interruption of real `train` runs: SIGINT, SIGTERM, kill -9 and the add-on's cancel file at
random points, two writers into one folder, and --overwrite cut short.

A stopped run exits 130 (Ctrl-C, cancel file) or 143 (SIGTERM) and keeps a resumable checkpoint;
`--resume` then writes the same point_cloud.ply, byte for byte, as an uninterrupted run. An
--overwrite run cut short leaves the old output whole; nothing is ever a mixture of two runs.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import blender_gs_addon.trainer  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
from blender_gs_addon.trainer.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset

ROOT = Path(__file__).resolve().parents[1]
ITERATIONS = 150  # one periodic checkpoint (at 100) and the final one
LOCK = ".gs-lock"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """Two datasets with the same cameras and file names but other pixels."""
    root = tmp_path_factory.mktemp("data")
    return [write_transforms_dataset(make_scene(n_gaussians=80, n_views=8, size=24, seed=s), str(root / f"ds{s}"),
                                     n_points=300) for s in (1, 2)]


def _cmd(dataset, out, *extra, iterations=ITERATIONS):
    return [sys.executable, "-m", "blender_gs_addon", "train", str(dataset), "--out", str(out), "--iterations",
            str(iterations), "--device", "cpu", "--sh-degree", "1", "--background", "black", "--seed", "3", *extra]


def _run(dataset, out, *extra, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(dataset, out, *extra, **kw), cwd=ROOT, capture_output=True, text=True, timeout=600)


def _start(dataset, out, *extra, **kw) -> subprocess.Popen:
    return subprocess.Popen(_cmd(dataset, out, *extra, **kw), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"exited {proc.returncode} first: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


def _debris(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith(".gs-tmp-")]


@pytest.fixture(scope="module")
def full(datasets, tmp_path_factory):
    """Uninterrupted runs on each dataset: (output folder, seconds from start to exit)."""
    runs = []
    for ds in datasets:
        out = tmp_path_factory.mktemp("full")
        t0 = time.monotonic()
        proc = _run(ds, out)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append((out, time.monotonic() - t0))
    return runs


STOPS = [(signal.SIGINT, 130, 11), (signal.SIGINT, 130, 12), (signal.SIGTERM, 143, 21), (signal.SIGTERM, 143, 22),
         (signal.SIGKILL, -9, 31), (signal.SIGKILL, -9, 32)]


@pytest.mark.parametrize("sig,code,seed", STOPS, ids=[f"{signal.Signals(s).name}-{n}" for s, _, n in STOPS])
def test_a_stop_at_a_random_moment_then_resume_gives_the_uninterrupted_result(datasets, full, tmp_path, sig, code,
                                                                              seed):
    full_out, full_s = full[0]
    out = tmp_path / "run"
    proc = _start(datasets[0], out)
    _wait_for(out / LOCK, proc)  # the command has started: its signal handling is in place
    delay = random.Random(seed).uniform(0.0, full_s)
    time.sleep(delay)
    proc.send_signal(sig)
    rc = proc.wait(timeout=120)
    err = proc.stderr.read()
    stopped = rc not in (0, -sig)
    assert rc in (code, 0, -sig), f"rc {rc} after {delay:.2f} s: {err[-2000:]}"
    if rc in (0, -sig) and sig != signal.SIGKILL:  # too late: the run had ended (-sig: in the interpreter's exit)
        assert json.loads((out / "metrics.json").read_text())["status"] == "finished"
    assert "Traceback" not in err, err[-3000:]
    ckpt = latest_checkpoint(str(out))
    if stopped and sig != signal.SIGKILL and ckpt is not None:
        assert "--resume" in err  # says how to continue
    resumed = _run(datasets[0], out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # same device and threads, exact checkpoints: the very same splats, bit for bit
    assert (out / "point_cloud.ply").read_bytes() == (full_out / "point_cloud.ply").read_bytes(), \
        f"stopped after {delay:.2f} s at checkpoint {ckpt}"
    assert json.loads((out / "metrics.json").read_text())["status"] == "finished"
    assert _debris(out) == []


def test_the_cancel_file_stops_with_130_and_resumes(datasets, full, tmp_path):
    out = tmp_path / "run"
    proc = _start(datasets[0], out)
    _wait_for(out / "checkpoints" / "ckpt_0000100.pt", proc)
    (out / ".cancel").write_text("cancel\n")  # what the add-on's cancel button does
    assert proc.wait(timeout=120) == 130
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "cancelled" and metrics["stopped_by"] == "cancel file"
    assert 100 <= metrics["iterations"] < ITERATIONS
    assert load_checkpoint(latest_checkpoint(str(out)))["iteration"] == metrics["iterations"]
    resumed = _run(datasets[0], out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (out / "point_cloud.ply").read_bytes() == (full[0][0] / "point_cloud.ply").read_bytes()
    assert not (out / ".cancel").exists()


def test_a_second_train_into_the_same_folder_is_refused_at_once(datasets, tmp_path):
    out = tmp_path / "run"
    first = _start(datasets[0], out, iterations=5000)
    try:
        _wait_for(out / LOCK, first)
        t0 = time.monotonic()
        second = _run(datasets[1], out, "--overwrite", iterations=5000)
        assert time.monotonic() - t0 < 60 and second.returncode == 1
        assert f"pid {first.pid}" in second.stderr and str(out) in second.stderr, second.stderr
        assert first.poll() is None  # the first goes on undisturbed
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 143
    assert not (out / ".gs-overwrite").exists()  # the refused run wrote nothing


def test_retraining_a_finished_folder_needs_resume_or_overwrite(datasets, full, tmp_path):
    out = tmp_path / "run"
    assert _run(datasets[0], out).returncode == 0
    before = {p.name: p.read_bytes() for p in (out / "point_cloud.ply", out / "metrics.json")}
    again = _run(datasets[1], out)
    assert again.returncode == 1 and "--overwrite" in again.stderr and "--resume" in again.stderr
    assert {p: (out / p).read_bytes() for p in before} == before
    # --resume of a finished run changes nothing that matters: the same splats
    assert _run(datasets[0], out, "--resume").returncode == 0
    assert (out / "point_cloud.ply").read_bytes() == before["point_cloud.ply"]


def test_kill_9_during_overwrite_keeps_the_old_output_then_resume_swaps(datasets, full, tmp_path):
    out = tmp_path / "run"
    old_run = _run(datasets[0], out, iterations=300)  # an older, longer run: checkpoints 200 and 300
    assert old_run.returncode == 0
    (out / "notes.txt").write_text("mine")
    (out / "renders" / "my_drawing.txt").write_text("mine too")
    old = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK}

    proc = _start(datasets[1], out, "--overwrite")  # a shorter run of another dataset
    _wait_for(out / ".gs-overwrite" / "checkpoints" / "ckpt_0000100.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    now = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*")
           if p.is_file() and p.name != LOCK and ".gs-overwrite" not in p.parts}
    assert now == old  # the old output, byte for byte, and the user's files

    # the same command without --resume is refused (the folder holds a run), with it the new run ends and swaps
    resumed = _run(datasets[1], out, "--overwrite", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (out / "point_cloud.ply").read_bytes() == (full[1][0] / "point_cloud.ply").read_bytes()
    assert [Path(p).name for p in list_checkpoints(str(out))] == ["ckpt_0000100.pt", "ckpt_0000150.pt"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "renders" / "my_drawing.txt").exists()
    assert not (out / ".gs-overwrite").exists() and _debris(out) == []
    # and the swapped-in run resumes as its own
    assert _run(datasets[1], out, "--resume").returncode == 0


def test_a_run_removes_only_its_own_older_checkpoints(tmp_path):
    """The rule "keep the newest two" counts in this run's order: a shorter run into a folder with a
    longer run's checkpoints (higher iteration numbers) used to delete the checkpoint it had just written."""
    import torch

    from blender_gs_addon.trainer.checkpoint import checkpoint_dir, save_checkpoint

    os.makedirs(checkpoint_dir(str(tmp_path)))
    foreign = [Path(checkpoint_dir(str(tmp_path))) / f"ckpt_{i:07d}.pt" for i in (6300, 7000)]
    for p in foreign:
        torch.save({"iteration": int(p.stem[5:])}, p)
    written: list[str] = []
    for it in (100, 200, 300, 300):  # the last: a stop right after a periodic save writes the same one again
        path = save_checkpoint(str(tmp_path), {"iteration": it}, written=written)
        assert os.path.exists(path) and load_checkpoint(path)["iteration"] == it
    names = sorted(p.name for p in Path(checkpoint_dir(str(tmp_path))).iterdir())
    assert names == ["ckpt_0000200.pt", "ckpt_0000300.pt", "ckpt_0006300.pt", "ckpt_0007000.pt"]
    assert [Path(p).name for p in written] == ["ckpt_0000200.pt", "ckpt_0000300.pt"]
