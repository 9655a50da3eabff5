"""Background jobs: training from the Train operator imports the result; jobs cancel cleanly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

from blender_gs_addon.blender.jobs import Job
from blender_gs_addon.splats import read_ply

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]
ROOT = Path(__file__).resolve().parents[1]


def _synthetic_dataset(tmp_path, training_python: str, scene_args: str, points: int):
    """A synthetic dataset written by the training interpreter (Blender's Python has no torch)."""
    dataset = tmp_path / "dataset"
    code = ("import sys\nfrom blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset\n"
            f"write_transforms_dataset(make_scene({scene_args}), sys.argv[1], n_points={points})\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([training_python, "-c", code, str(dataset)], env=env, check=True, timeout=300)
    return dataset


def test_train_operator_trains_in_background_and_imports_the_splats(tmp_path, training_python, monkeypatch):
    # the trainer runs in the training interpreter, as from a Blender whose Python has no torch
    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)
    dataset, out = _synthetic_dataset(tmp_path, training_python, "n_gaussians=60, n_views=6, size=32", 200), \
        tmp_path / "out"
    before = {o.name for o in bpy.data.objects}
    result = bpy.ops.gs.train(dataset=str(dataset), out_dir=str(out), iterations=20)
    assert result == {"FINISHED"}
    s = bpy.context.scene.gaussian_scenes
    assert s.job_progress > 0  # progress lines were parsed
    new = sorted((o for o in bpy.data.objects if o.name not in before), key=lambda o: len(o.name))
    assert len(new) == 2 and new[1].name == new[0].name + " sky"  # the scene, and its trained sky
    obj, sky = new
    assert sky.hide_get() and sky.hide_render and not obj.hide_get()
    trained = read_ply(out / "point_cloud.ply")

    def count(o):
        return len(o.data.points) if o.type == "POINTCLOUD" else len(o.data.vertices)

    assert count(obj) == int((trained.extra["sky"] == 0).sum()) > 0
    assert count(sky) == int(trained.extra["sky"].sum()) > 0
    assert "imported" in s.job_message
    # a second click into the same folder continues the run (the panel's default), or replaces it
    assert bpy.ops.gs.train(dataset=str(dataset), out_dir=str(out), iterations=20) == {"FINISHED"}
    assert json.loads((out / "metrics.json").read_text())["iterations"] == 20
    (out / "notes.txt").write_text("mine")
    assert bpy.ops.gs.train(dataset=str(dataset), out_dir=str(out), iterations=10, existing="REPLACE") == {"FINISHED"}
    assert json.loads((out / "metrics.json").read_text())["iterations"] == 10
    assert (out / "notes.txt").read_text() == "mine" and not (out / ".gs-overwrite").exists()


def test_train_panel_sky_and_depth_weight_reach_the_trainer(tmp_path, training_python, monkeypatch):
    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)
    dataset, out = _synthetic_dataset(tmp_path, training_python, "n_gaussians=40, n_views=4, size=16", 100), \
        tmp_path / "out"
    s = bpy.context.scene.gaussian_scenes
    s.train.sky, s.train.use_depth_weight, s.train.depth_weight = "off", True, 0.25
    before = {o.name for o in bpy.data.objects}
    assert bpy.ops.gs.train(dataset=str(dataset), out_dir=str(out), iterations=5) == {"FINISHED"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sky_gaussians"] == 0 and metrics["depth_weight"] == 0.25
    assert len([o for o in bpy.data.objects if o.name not in before]) == 1  # no sky object


def test_train_operator_refuses_a_missing_dataset(tmp_path):
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.gs.train(dataset=str(tmp_path / "nope"), out_dir=str(tmp_path / "out"), iterations=5)


@pytest.fixture(params=["interrupts", "interrupts ignored"])
def interrupt_disposition(request):
    """Run the test as usual, and again as if Blender was started with `nohup ... &`
    (SIGINT ignored, which children inherit)."""
    import signal

    if request.param == "interrupts":
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_job_reads_output_and_cancels(tmp_path, interrupt_disposition):
    code = ("import sys, time\n"
            "print('started', flush=True)\n"
            "try:\n"
            "    for i in range(600):\n"
            "        print(f'step {i}', flush=True); time.sleep(0.05)\n"
            "except KeyboardInterrupt:\n"
            "    print('kept finished work', flush=True); sys.exit(130)\n")
    job = Job("test", [sys.executable, "-c", code])
    seen = []

    def on_lines(lines):
        seen.extend(text for _, text in lines)

    rc = job.wait(on_lines=on_lines, should_cancel=lambda: any(t.startswith("step 3") for t in seen))
    assert seen[0] == "started"
    assert seen[-1] == "kept finished work" and rc == 130
    assert len(seen) < 50  # stopped long before the end


def test_cancel_file_job(tmp_path):
    flag = tmp_path / "out" / ".cancel"
    code = (f"import os, time\nfor i in range(600):\n    print(i, flush=True)\n"
            f"    if os.path.exists({str(flag)!r}): print('cancelled', flush=True); break\n    time.sleep(0.05)\n")
    job = Job("test", [sys.executable, "-c", code], cancel_file=str(flag))
    seen = []
    rc = job.wait(on_lines=lambda ls: seen.extend(t for _, t in ls), should_cancel=lambda: len(seen) > 2)
    assert rc == 0 and seen[-1] == "cancelled"


def test_generate_then_render_dataset_operators(tmp_path):
    import json

    assert bpy.ops.gs.generate(preset="tiny", seed=3) == {"FINISHED"}
    scene = bpy.context.scene
    assert scene.camera is not None and len(scene.objects) > 1
    out = tmp_path / "dataset"
    assert bpy.ops.gs.render_dataset(out_dir=str(out)) == {"FINISHED"}
    s = scene.gaussian_scenes
    assert s.job_progress == pytest.approx(1.0)  # frame progress parsed from the child
    frames = json.loads((out / "transforms.json").read_text())["frames"]
    assert len(frames) == scene.frame_end - scene.frame_start + 1
    assert all((out / f["file_path"]).exists() for f in frames)
