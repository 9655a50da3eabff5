"""Atomic training checkpoints: parameters, optimiser moments, statistics, RNG states, iteration.

A checkpoint is written to a temporary name and renamed, so a crash never leaves a half file;
the newest two are kept.
"""
from __future__ import annotations

import glob
import os
import re

import torch

from ..common.atomic import atomic_path

_NAME = "ckpt_{:07d}.pt"
_PATTERN = re.compile(r"ckpt_(\d{7})\.pt$")


def checkpoint_dir(out_dir: str) -> str:
    return os.path.join(out_dir, "checkpoints")


def list_checkpoints(out_dir: str) -> list[str]:
    """Checkpoint paths, oldest first."""
    paths = [p for p in glob.glob(os.path.join(checkpoint_dir(out_dir), "ckpt_*.pt")) if _PATTERN.search(p)]
    return sorted(paths, key=lambda p: int(_PATTERN.search(p).group(1)))


def latest_checkpoint(out_dir: str) -> str | None:
    paths = list_checkpoints(out_dir)
    return paths[-1] if paths else None


def save_checkpoint(out_dir: str, state: dict, keep: int = 2) -> str:
    """Write state (must hold 'iteration') atomically; delete all but the newest `keep`."""
    d = checkpoint_dir(out_dir)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, _NAME.format(int(state["iteration"])))
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in list_checkpoints(out_dir)[:-keep]:
        try:
            os.remove(old)
        except OSError:
            pass
    return path


def load_checkpoint(path: str) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a damaged file: say which one
        raise RuntimeError(f"{path}: cannot read checkpoint ({exc})") from None
