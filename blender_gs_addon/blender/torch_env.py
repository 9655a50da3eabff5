"""Where torch comes from: Blender's own Python, or the interpreter set in the preferences."""
from __future__ import annotations

import os
import sys

from . import addon_package

_TORCH_STATUS: tuple[bool, str] | None = None  # cached: the preferences redraw often


def torch_in_process(recheck: bool = False) -> tuple[bool, str]:
    """(True, version) if torch imports in this Python (after adding the preferences' torch folder)."""
    global _TORCH_STATUS
    if _TORCH_STATUS is not None and not recheck:
        return _TORCH_STATUS
    folder = torch_dir()
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)
    try:
        import torch
    except Exception as exc:  # a broken install must not take the UI down
        _TORCH_STATUS = (False, f"{type(exc).__name__}: {exc}")
    else:
        _TORCH_STATUS = (True, torch.__version__)
    return _TORCH_STATUS


TRAINING_PYTHON_ENV = "GS_TRAINING_PYTHON"


def training_interpreter() -> str:
    """Python with torch for training and Render Splats: the preference, else $GS_TRAINING_PYTHON, else this Python."""
    prefs = addon_package.preferences()
    chosen = getattr(prefs, "interpreter", "") if prefs else ""
    if chosen:
        return chosen
    return os.environ.get(TRAINING_PYTHON_ENV, "").strip() or python_executable()


def python_executable() -> str:
    """The Python interpreter of this process (inside Blender sys.executable is Blender's Python)."""
    return sys.executable


def module_search_path() -> list[str]:
    """Folders to put on PYTHONPATH so a child imports this add-on package (procgen and cuda_ext are inside it)."""
    paths = [os.path.dirname(addon_package.top_package_dir())]
    if os.path.isdir(torch_dir()):
        paths.append(torch_dir())
    return paths


def cache_dir() -> str:
    """The add-on's cache folder: the preference, else ~/.cache/gaussian_scenes (shared with cuda_ext)."""
    prefs = addon_package.preferences()
    chosen = getattr(prefs, "cache_dir", "") if prefs else ""
    folder = os.path.abspath(chosen) if chosen else os.path.join(os.path.expanduser("~"), ".cache", "gaussian_scenes")
    os.makedirs(folder, exist_ok=True)
    return folder


def torch_dir() -> str:
    """Folder that Install torch fills: the preference, else <cache>/torch."""
    prefs = addon_package.preferences()
    chosen = getattr(prefs, "torch_dir", "") if prefs else ""
    return os.path.abspath(chosen) if chosen else os.path.join(cache_dir(), "torch")


def child_env() -> dict:
    env = dict(os.environ)
    if addon_package.preferences() is not None and addon_package.preferences().cache_dir:
        env["GS_CACHE_DIR"] = os.path.join(cache_dir(), "cuda_ext")  # compiled kernels
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(module_search_path() + inherited)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def package_module_name() -> str:
    """Importable name of the top package in a child whose PYTHONPATH holds its parent folder."""
    return os.path.basename(addon_package.top_package_dir())
