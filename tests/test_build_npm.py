"""build.py's npm step: the pinned independent splat tools, and a clean skip without Node."""
from __future__ import annotations

import json
import shutil

import pytest

import build


def test_without_node_the_step_skips_with_a_message(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(build, "NPM_PREFIX", tmp_path / "npm")
    monkeypatch.setattr(build.shutil, "which", lambda name: None)  # a machine without node and npm
    assert build.npm_tools() is False
    assert "node/npm not found" in capsys.readouterr().out
    assert not (tmp_path / "npm").exists()


def test_setup_installed_exactly_the_pinned_versions():
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: build.py skips the npm tools here")
    assert build.npm_tools() is True  # installed (or already up to date) by setup
    for spec in build.NPM_TOOLS:
        name, version = spec.rsplit("@", 1)
        meta = json.loads((build.NPM_PREFIX / "node_modules" / name / "package.json").read_text())
        assert meta["version"] == version, spec
