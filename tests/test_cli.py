"""The command line: subcommands listed, unavailable ones fail clearly, both routes share one parser."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from blender_gs_addon import cli

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


def test_missing_subcommand_module_says_not_available(monkeypatch, capsys):
    monkeypatch.setitem(cli.SUBCOMMANDS, "teleport", ("procgen.no_such_module", False, "not built"))
    rc = cli.main(["teleport", "--seed", "3", "somewhere"])
    assert rc == 2
    assert "not available yet" in capsys.readouterr().err


def test_broken_dependency_inside_a_subcommand_is_not_hidden(monkeypatch, tmp_path):
    # A module that exists but fails to import must raise, not pretend to be "not available".
    pkg = tmp_path / "gs_fake_cmd.py"
    pkg.write_text("import a_dependency_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.SUBCOMMANDS, "broken", ("gs_fake_cmd", False, "broken"))
    try:
        cli.main(["broken"])
    except ModuleNotFoundError as exc:
        assert exc.name == "a_dependency_that_does_not_exist"
    else:
        raise AssertionError("a broken subcommand module was silently hidden")


def test_no_arguments_prints_help_and_fails():
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "generate" in proc.stdout
