"""The command line: subcommands listed, unavailable ones fail clearly, both routes share one parser."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["generate", "render", "train", "import", "export", "demo"]


def test_help_lists_every_subcommand():
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in SUBCOMMANDS:
        assert name in proc.stdout


def test_each_subcommand_has_help():
    for name in SUBCOMMANDS:
        proc = subprocess.run([sys.executable, "-m", "blender_gs_addon", name, "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (name, proc.stderr)
        assert "usage:" in proc.stdout


def test_no_arguments_prints_help_and_fails():
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "generate" in proc.stdout
