"""The independent splat tools that ``build.py setup`` installs into build/npm, for tests.

Each helper skips the calling test, saying why, when Node or the tool is missing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "build" / "npm" / "node_modules"
_BIN = NODE_MODULES / ".bin"


def _require_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the independent splat tools cannot run")
    return node


def splat_transform_path() -> Path:
    """The splat-transform executable (skips without Node, fails if setup did not install it)."""
    _require_node()
    exe = _BIN / ("splat-transform.cmd" if os.name == "nt" else "splat-transform")
    assert exe.exists(), f"{exe} is missing: run `python build.py setup` (it installs the npm tools)"
    return exe


def splat_transform(*args: str | os.PathLike, timeout: float = 300) -> str:
    """Run splat-transform with ``args``; its output, or an assertion naming the failure."""
    cmd = [str(splat_transform_path()), "--no-tty", *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert out.returncode == 0, f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out.stdout


def validate_gltf(path: str | os.PathLike) -> dict:
    """The gltf-validator report (its ``issues`` object) of one .glb or .gltf file."""
    node = _require_node()
    assert (NODE_MODULES / "gltf-validator").exists(), "gltf-validator is missing: run `python build.py setup`"
    script = Path(__file__).with_name("gltf_validate.cjs")
    out = subprocess.run([node, str(script), str(NODE_MODULES), str(path)], capture_output=True, text=True, check=False,
                         timeout=300)
    assert out.returncode == 0, f"gltf-validator failed on {path}: {out.stderr}"
    return json.loads(out.stdout)["issues"]
