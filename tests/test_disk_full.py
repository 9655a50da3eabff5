"""A full disk during generate and render: one line that says so and names the folder, no debris.

A small tmpfs is mounted for real (root only); elsewhere the tests skip and say why.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path, request):
    """A small file system (size from the test's parameter, default 3 MB)."""
    size = getattr(request, "param", "3m")
    mount = tmp_path / "disk"
    mount.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _gs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "blender_gs_addon", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _debris(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith(".gs-tmp-")]


def test_generate_on_a_full_disk_says_so(small_disk):  # 3 MB: the .blend fits, 256x256 frames do not
    out = small_disk / "scene"
    proc = _gs("generate", "--seed", "1", "--preset", "tiny", "--resolution", "256", "256", "--out", str(out))
    assert proc.returncode == 1
    assert f"{out}" in proc.stderr and "no space left on device" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert _debris(out) == []


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
    assert _debris(out) == []
