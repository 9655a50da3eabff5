"""Shared fixtures. Blender tests run on the bpy module of the project environment."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

HAVE_TORCH = importlib.util.find_spec("torch") is not None
# The test files that import torch (directly, or through the trainer or cuda_ext). Blender's own Python has
# no torch: where this Python lacks it, these files are reported as skipped, by name, and the training
# interpreter's run has them. Any other file that fails to import fails the run, whatever the cause.
NEEDS_TORCH = {
    "test_bench_peer.py", "test_data_loader.py", "test_rasterizer.py", "test_rasterizer_cuda_emulated.py",
    "test_rasterizer_devices.py", "test_trainer.py", "test_trainer_inputs.py", "test_trainer_interruption.py",
    "test_trainer_parts.py", "test_trainer_strategy.py", "test_splats_render.py", "test_trainer_format.py",
    "test_trainer_sky.py", "test_trainer_mcmc.py", "test_fused_ssim.py",
}
# `python build.py test` sets this to a file for the run's skips, which it checks against expected_skips.txt.
SKIP_REPORT_ENV = "GS_SKIP_REPORT"
_SKIPPED: list[dict] = []


class _NeedsTorch(pytest.Module):
    def collect(self):
        pytest.skip(f"{self.path.name} imports torch, which this Python lacks (the training interpreter's run "
                    "has it)")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if not HAVE_TORCH and module_path.name in NEEDS_TORCH:
        return _NeedsTorch.from_parent(parent, path=module_path)
    return None


def pytest_sessionstart(session):
    missing = NEEDS_TORCH - {p.name for p in Path(__file__).parent.glob("test_*.py")}
    if missing:
        raise pytest.UsageError(f"tests/conftest.py NEEDS_TORCH names files that do not exist: {sorted(missing)}")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_collectreport(report):
    if report.skipped:
        _SKIPPED.append({"id": report.nodeid, "reason": _skip_reason(report)})


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append({"id": report.nodeid, "reason": _skip_reason(report)})


def pytest_sessionfinish(session):
    path = os.environ.get(SKIP_REPORT_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_SKIPPED, fh, indent=1)


@pytest.fixture
def training_python() -> str:
    """A Python that imports torch, for a test's rasterizer work: this one, else $GS_TRAINING_PYTHON
    (as a Blender without torch hands that work to its training interpreter)."""
    if HAVE_TORCH:
        return sys.executable
    python = os.environ.get("GS_TRAINING_PYTHON", "")
    if not python:
        pytest.skip("torch is not in this Python and GS_TRAINING_PYTHON is not set (build.py test sets it)")
    return python


@pytest.fixture(autouse=True)
def empty_blender_scene():
    """Reset Blender to an empty factory scene before each test that has Blender loaded.

    Pure tests never import bpy, so they pay nothing for this.
    """
    bpy = sys.modules.get("bpy")
    if bpy is not None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


@pytest.fixture
def registered_addon(empty_blender_scene):
    """The add-on registered from this checkout for one test, unregistered afterwards."""
    import blender_gs_addon

    blender_gs_addon.register()
    yield blender_gs_addon
    blender_gs_addon.unregister()


def pytest_collection_modifyitems(config, items):
    """Skip CUDA tests on machines without a CUDA GPU, saying why."""
    cuda_items = [it for it in items if it.get_closest_marker("cuda")]
    if not cuda_items:
        return
    try:
        import torch

        have_cuda = torch.cuda.is_available()
    except ImportError:
        have_cuda = False
    if not have_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA GPU (run on the lent GPU machine)")
        for it in cuda_items:
            it.add_marker(skip)
