"""Independent random streams per (scene seed, stage, index) (bpy-free).

Every generator and every asset draws from its own ``numpy.random.Generator``; none
touches global random state. The stage name enters through a stable hash (not
Python's salted ``hash``), so adding a stage or an asset never shifts another's stream.
"""
from __future__ import annotations

import hashlib

import numpy as np


def name_key(name: str) -> int:
    """A stable 32-bit integer for a stage name (same on every run and platform)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def stream(seed: int, stage: str, index: int = 0) -> np.random.Generator:
    """The random stream of asset ``index`` of ``stage`` in the scene with ``seed``."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0 (got seed={seed}, index={index})")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), name_key(stage), int(index)])))
