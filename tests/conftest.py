"""Shared fixtures. Blender tests run on the bpy module of the project environment."""
from __future__ import annotations

import importlib.util
import os
import re
import sys

import pytest

# Blender's own Python has no torch: test modules that import it at the top belong to the
# training interpreter's run, and are left out of collection where torch is missing.
HAVE_TORCH = importlib.util.find_spec("torch") is not None
_TORCH_AT_TOP = re.compile(r"^(import torch|from torch[ .])", re.M)
_LEFT_OUT: list[str] = []


def pytest_ignore_collect(collection_path, config):
    if HAVE_TORCH or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    if _TORCH_AT_TOP.search(collection_path.read_text(encoding="utf-8")):
        _LEFT_OUT.append(collection_path.name)
        return True
    return None


def pytest_report_collectionfinish(config, start_path, items):
    if _LEFT_OUT:
        return f"left out without torch in this Python (the training interpreter runs them): {', '.join(_LEFT_OUT)}"


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
