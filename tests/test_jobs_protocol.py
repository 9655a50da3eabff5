"""One progress protocol for the background jobs: the writer (`jobs_protocol.Reporter`) and the
add-on's one reader (`blender.jobs.read_event`), on crafted lines and on both real children."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blender_gs_addon.blender.jobs import LiveTraining, read_event
from procgen.core.jobs_protocol import ENV, PREVIEW, TEST_PSNR, Reporter, requested

ROOT = Path(__file__).resolve().parents[1]


def test_reporter_lines_read_back_and_other_lines_are_not_events():
    buf = io.StringIO()
    rep = Reporter("train", stream=buf)
    rep.progress(3, 10, "iteration 3/10", loss=0.5)
    rep.result(ply="/x/point_cloud.ply")
    rep.error("bad input")
    Reporter("train", enabled=False, stream=buf).progress(1, 2)  # disabled: writes nothing
    events = [read_event(line) for line in buf.getvalue().splitlines()]
    assert events == [
        {"event": "progress", "stage": "train", "done": 3, "total": 10, "message": "iteration 3/10", "loss": 0.5},
        {"event": "result", "stage": "train", "ply": "/x/point_cloud.ply"},
        {"event": "error", "stage": "train", "message": "bad input"},
    ]
    for other in ("render:  40%|####      | 2/5 [00:01<00:02, 1.9frame/s]", "Fra:1 Mem:12.00M", "{not json",
                  json.dumps({"type": "progress", "iteration": 1}),  # no event
                  json.dumps({"event": "progress", "stage": "train", "done": "3", "total": 10}),
                  json.dumps({"event": "progress", "stage": "train", "done": 3}),
                  json.dumps({"event": "finished", "stage": "train"}),
                  json.dumps({"event": "error", "stage": "train"}),  # an error must say what
                  json.dumps([1, 2])):
        assert read_event(other) is None, other


def test_training_curves_round_trip():
    """The trainer's chart keys, written by the Reporter and read back, become the Train panel's points;
    numbers that are not finite and malformed previews are left out."""
    buf = io.StringIO()
    rep = Reporter("train", stream=buf)
    rep.progress(10, 30, "a", loss=0.5, psnr=12.0, gaussians=9)
    rep.progress(10, 30, "b", **{TEST_PSNR: 14.5, PREVIEW: "/x/renders/live_preview.png"})
    rep.progress(20, 30, "c", loss=float("nan"))
    rep.progress(30, 30, "d", loss=0.25, **{TEST_PSNR: "high", PREVIEW: 3})
    rep.result(ply="/x/point_cloud.ply")
    live = LiveTraining()
    added = [live.add(read_event(line)) for line in buf.getvalue().splitlines()]
    assert added == [True, True, False, True, False]
    assert live.loss == [(10, 0.5), (30, 0.25)] and live.test_psnr == [(10, 14.5)]
    assert live.preview == "/x/renders/live_preview.png"


def test_requested_by_flag_or_environment(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert not requested() and requested(True)
    monkeypatch.setenv(ENV, "0")
    assert not requested()
    monkeypatch.setenv(ENV, "1")
    assert requested()


def _events(stdout: str) -> list[dict]:
    """The protocol events on a child's stdout; every line that looks like JSON must be one."""
    events = []
    for line in stdout.splitlines():
        event = read_event(line)
        assert event is not None or not line.lstrip().startswith("{"), line
        if event is not None:
            events.append(event)
    return events


def _check_progress(events: list[dict], stage: str) -> dict:
    """Progress counts up to the total, then one result closes the stream; returns the result."""
    assert {e["stage"] for e in events} == {stage}
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and all(e["total"] == progress[-1]["total"] > 0 and e["message"] for e in progress)
    done = [e["done"] for e in progress]
    assert done == sorted(done) and done[-1] == progress[-1]["total"]
    assert [e["event"] for e in events[len(progress):]] == ["result"]
    return events[-1]


def _child(argv: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "blender_gs_addon", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env})


def _check_live_preview(events: list[dict], result: dict, out: Path) -> None:
    """--preview-every 10: held-out PSNR and a preview at 10, 20 and 30; the last ones are the final
    evaluation's own (the same model): its PSNR, and the render half of its picture of that view."""
    from procgen.render.png import read_png

    live = LiveTraining()
    for event in events:
        live.add(event)
    assert [it for it, _ in live.test_psnr] == [10, 20, 30]
    assert len(live.loss) == len([e for e in events if "loss" in e]) == 3
    assert live.test_psnr[-1][1] == pytest.approx(result["metrics"]["psnr"], abs=1e-9)
    assert live.preview == str(out / "renders" / "live_preview.png")
    first = json.loads((out / "metrics.json").read_text())["per_view"][0]["name"].replace("/", "_")
    pair = read_png(out / "renders" / f"{first}.png")  # ground truth left, render right
    np.testing.assert_array_equal(read_png(live.preview), pair[:, pair.shape[1] // 2:])


def test_train_child_speaks_the_protocol(tmp_path):
    pytest.importorskip("torch", reason="training needs torch")
    from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset

    dataset = write_transforms_dataset(make_scene(n_gaussians=60, n_views=6, size=32), str(tmp_path / "ds"),
                                       n_points=200)
    proc = _child(["train", dataset, "--out", str(tmp_path / "out"), "--iterations", "30", "--device", "cpu",
                   "--sh-degree", "0", "--progress-json", "--preview-every", "10"])
    assert proc.returncode == 0, proc.stderr
    events = _events(proc.stdout)
    result = _check_progress(events, "train")
    assert result["metrics"]["iterations"] == 30 and os.path.exists(result["ply"])
    _check_live_preview(events, result, tmp_path / "out")
    # asked for by the environment instead of the flag; a bad dataset is an error event
    proc = _child(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")], **{ENV: "1"})
    events = _events(proc.stdout)
    assert proc.returncode == 2 and [e["event"] for e in events] == ["error"] and "missing" in events[0]["message"]


@pytest.mark.blender
def test_render_child_speaks_the_protocol(tmp_path):
    bpy = pytest.importorskip("bpy", reason="rendering needs Blender")
    from procgen.render.reference_scenes import build_test_scene

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_test_scene(resolution=(40, 24), frames=3, instances=False)
    blend = str(tmp_path / "scene.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    out = tmp_path / "ds"
    proc = _child(["render", blend, "--out", str(out), "--samples", "1", "--device", "cpu", "--progress-json"])
    assert proc.returncode == 0, proc.stderr
    result = _check_progress(_events(proc.stdout), "render")
    assert result["status"] == "finished" and result["frames_done"] == result["frames_total"] == 3
    assert os.path.samefile(result["out_dir"], out) and (out / "transforms.json").exists()
    assert "%|" not in proc.stderr  # no bar drawn beside the JSON
    # refusing to overwrite, asked for by the environment: an error event naming the fix
    proc = _child(["render", blend, "--out", str(out), "--samples", "1", "--device", "cpu"], **{ENV: "1"})
    events = _events(proc.stdout)
    assert proc.returncode == 1 and [e["event"] for e in events] == ["error"]
    assert "overwrite" in events[0]["message"]
