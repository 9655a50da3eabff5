"""Pick the reader/writer by file extension (.ply or .splat)."""
from __future__ import annotations

import os

from .data import SplatData
from .errors import SplatFormatError
from .ply import read_ply, write_ply
from .splat_format import read_splat, write_splat

EXTENSIONS = (".ply", ".splat")


def _ext(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXTENSIONS:
        raise SplatFormatError(path, f"unknown splat file extension {ext!r}; expected .ply or .splat")
    return ext


def read_splats(path: str | os.PathLike) -> SplatData:
    """Read a .ply or .splat file (chosen by extension)."""
    path = os.fspath(path)
    return read_ply(path) if _ext(path) == ".ply" else read_splat(path)


def write_splats(path: str | os.PathLike, data: SplatData) -> None:
    """Write a .ply or .splat file (chosen by extension), atomically."""
    path = os.fspath(path)
    if _ext(path) == ".ply":
        write_ply(path, data)
    else:
        write_splat(path, data)
