"""A full disk during generate and render: one line that says so and names the folder, no debris.

A small tmpfs is mounted for real (root only); elsewhere the tests skip and say why.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import debris, mounted_tmpfs

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path, request):
    """A small file system (size from the test's parameter, default 3 MB)."""
    with mounted_tmpfs(tmp_path / "disk", f"size={getattr(request, 'param', '3m')}") as mount:
        yield mount


def _gs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "blender_gs_addon", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_generate_on_a_full_disk_says_so(small_disk):  # 3 MB: the .blend fits, 256x256 frames do not
    out = small_disk / "scene"
    proc = _gs("generate", "--seed", "1", "--preset", "tiny", "--resolution", "256", "256", "--out", str(out))
    assert proc.returncode == 1
    assert f"{out}" in proc.stderr and "no space left on device" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert debris(out) == []


@pytest.mark.parametrize("small_disk", ["200k"], indirect=True)  # less than one tiny dataset
def test_render_on_a_full_disk_says_so(small_disk, tmp_path):
    scene = tmp_path / "scene"
    made = _gs("generate", "--seed", "1", "--preset", "tiny", "--no-render", "--out", str(scene))
    assert made.returncode == 0, made.stderr[-2000:]
    out = small_disk / "dataset"
    proc = _gs("render", str(scene / "scene.blend"), "--out", str(out), "--samples", "1")
    assert proc.returncode == 1
    assert "no space left on device" in proc.stderr and str(small_disk) in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert debris(out) == []
