"""Bad input on the command line: every case exits non-zero with one line naming the file or option.

Each case runs the real CLI in its own process (as a user types it) and asserts the exit code,
that the message names what is wrong, and that no traceback reaches the user.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import random_splats

from blender_gs_addon.splats import write_ply

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    (d / "a_file").write_text("not a folder")
    (d / "corrupt.blend").write_bytes(b"BLENDER-v404 not really")
    (d / "corrupt.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nend_header\n")
    write_ply(d / "good.ply", random_splats(20, 1, seed=5))
    blend = d / "scene.blend"
    made = subprocess.run([sys.executable, "-m", "blender_gs_addon", "import", str(d / "good.ply"), "--out",
                           str(blend), "--name", "Splats"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    (d / "exists.ply").write_bytes(b"keep")
    return d


CASES = [  # (id, argv with {d} for the inputs folder, expected exit code, text the message must hold)
    ("frames-0", "generate --frames 0 --out {d}/g", 2, "--frames"),
    ("resolution-0", "generate --resolution 0 64 --out {d}/g", 2, "--resolution"),
    ("samples-negative", "generate --samples -1 --out {d}/g", 2, "--samples"),
    ("seeds-backwards", "generate --seeds 5-2 --out {d}/g", 2, "runs backwards"),
    ("seeds-text", "generate --seeds abc --out {d}/g", 2, "'abc'"),
    ("seed-negative", "generate --seed -1 --out {d}/g", 2, "--seed"),
    ("generate-out-is-file", "generate --seed 1 --preset tiny --out {d}/a_file", 2, "{d}/a_file"),
    ("render-missing-blend", "render {d}/nope.blend --out {d}/r", 2, "{d}/nope.blend"),
    ("render-corrupt-blend", "render {d}/corrupt.blend --out {d}/r", 2, "{d}/corrupt.blend"),
    ("render-max-points-0", "render {d}/scene.blend --out {d}/r --max-points 0", 2, "--max-points"),
    ("render-frames-backwards", "render {d}/scene.blend --out {d}/r --frames 5 2", 2, "--frames"),
    ("render-out-is-file", "render {d}/scene.blend --out {d}/a_file", 2, "{d}/a_file"),
    ("render-no-camera", "render {d}/scene.blend --out {d}/r", 2, "has no camera"),
    ("render-no-such-scene", "render {d}/scene.blend --out {d}/r --scene Nope", 2, "no scene named 'Nope'"),
    ("import-missing", "import {d}/nope.ply --out {d}/i.blend", 2, "{d}/nope.ply"),
    ("import-corrupt", "import {d}/corrupt.ply --out {d}/i.blend", 1, "{d}/corrupt.ply"),
    ("import-out-not-blend", "import {d}/good.ply --out {d}/i.txt", 2, "--out"),
    ("import-out-corrupt", "import {d}/good.ply --out {d}/corrupt.blend", 2, "{d}/corrupt.blend"),
    ("export-missing-blend", "export {d}/nope.blend --object Splats --out {d}/e.ply", 2, "{d}/nope.blend"),
    ("export-no-object", "export {d}/scene.blend --object Nope --out {d}/e.ply", 2, "'Nope'"),
    ("export-unknown-format", "export {d}/scene.blend --object Splats --out {d}/e.obj", 2, "e.obj"),
    ("export-exists", "export {d}/scene.blend --object Splats --out {d}/exists.ply", 2, "--overwrite"),
    ("train-missing-dataset", "train {d}/nope --out {d}/t", 2, "{d}/nope"),
    ("train-time-limit", "train {d} --out {d}/t --time-limit -1", 2, "--time-limit"),
    ("train-max-gaussians", "train {d} --out {d}/t --max-gaussians -5", 2, "--max-gaussians"),
    ("train-depth-weight", "train {d} --out {d}/t --depth-weight nan", 2, "--depth-weight"),
    ("import-a-folder", "import {d} --out {d}/i.blend", 2, "{d}: is a folder; give one splat file"),
    ("batch-python-missing", "batch --seeds 0-3 --preset tiny --out {d}/b --python {d}/nope", 2,
     "--python {d}/nope: no such program"),
    ("batch-ray-unreachable", "batch --seeds 0 --preset tiny --out {d}/rb --backend ray --ray-address 127.0.0.1:9",
     2, "--ray-address 127.0.0.1:9: nothing answers there"),
]


@pytest.mark.parametrize("argv,needle", [
    (["generate", "--seeds", "", "--preset", "tiny"], "--seeds '': names no seed"),
    (["batch", "--seeds", "", "--preset", "tiny"], "--seeds '' names no seed"),
    (["demo", "--iterations", "0"], "argument --iterations: must be a whole number >= 1, got '0'"),
    (["demo", "--preset", "huge"], "argument --preset: invalid choice: 'huge'"),
    (["demo", "--biome", "moon"], "argument --biome: invalid choice: 'moon'"),
    (["demo", "--samples", "0"], "argument --samples: must be a whole number >= 1"),
    (["demo", "--seed", "-3"], "argument --seed: must be a whole number >= 0"),
], ids=["generate-seeds-empty", "batch-seeds-empty", "demo-iterations-0", "demo-preset", "demo-biome",
        "demo-samples-0", "demo-seed-negative"])
def test_options_are_checked_before_any_work(tmp_path, argv, needle):
    """Every option is refused before the first scene, stage or seed starts (the demo found
    --iterations 0 only after rendering; an empty --seeds ran seed 0)."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon", *argv, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
    assert needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert "[demo] ===" not in proc.stdout and not out.exists()


def test_a_missing_python_for_batch_is_never_tried(files):
    """A --python that does not exist: said once, no seed attempted, nothing recorded."""
    out = files / "batch_no_python"
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon", "batch", "--seeds", "0-2", "--preset", "tiny",
                           "--out", str(out), "--python", str(files / "no_python")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("no such program") == 1, proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("case,argv,code,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line(files, case, argv, code, needle):
    args = argv.format(d=files).split()
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    err = proc.stderr
    assert proc.returncode == code, (proc.returncode, err[-1500:])
    assert needle.format(d=files) in err, err[-1500:]
    assert "Traceback" not in err
    assert not (files / "a_file").is_dir() and (files / "exists.ply").read_bytes() == b"keep"
