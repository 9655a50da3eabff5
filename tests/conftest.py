"""Shared fixtures. Blender tests run on the bpy module of the project environment."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

# Blender's own Python has no torch: test modules that cannot be imported without it belong to
# the training interpreter's run, and are reported as skipped where torch is missing.
HAVE_TORCH = importlib.util.find_spec("torch") is not None
_LEFT_OUT: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    if (not HAVE_TORCH and report.failed and isinstance(collector, pytest.Module)
            and "No module named 'torch'" in str(report.longrepr)):
        _LEFT_OUT.append(collector.path.name)
        report.outcome = "skipped"
        report.longrepr = (str(collector.path), 0, "Skipped: imports torch, which this Python lacks "
                                                   "(the training interpreter's run has it)")
    return report


def pytest_report_collectionfinish(config, start_path, items):
    if _LEFT_OUT:
        return f"skipped without torch in this Python (the training interpreter runs them): {', '.join(_LEFT_OUT)}"


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
