"""The splat file formats, keyed by file suffix, and reading/writing by suffix.

Each entry names the module of this package that implements it and its reader and
writer functions; the module is imported on first use, so a format whose optional
library is missing never stops the others from loading. The longest matching suffix
wins, so ``x.compressed.ply`` is the compressed format and ``x.ply`` the 3DGS one.

To add a format, add one ``SplatFileFormat`` line to ``FORMATS``: its reader takes a
path and returns SplatData; its writer takes (path, data, **options) and writes the
file atomically; both raise SplatFormatError on bad input.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from .data import SplatData
from .errors import SplatFormatError


@dataclass(frozen=True)
class SplatFileFormat:
    """One file format: suffix (lower case, with the dot), one-line description, implementation."""

    suffix: str
    description: str
    module: str  # module of this package, e.g. "ply"
    reader: str  # function name: reader(path) -> SplatData
    writer: str  # function name: writer(path, data, **options) -> None

    def _function(self, name: str) -> Callable:
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), name)

    def read(self, path: str | os.PathLike) -> SplatData:
        return self._function(self.reader)(os.fspath(path))

    def write(self, path: str | os.PathLike, data: SplatData, **options) -> None:
        self._function(self.writer)(os.fspath(path), data, **options)


FORMATS: dict[str, SplatFileFormat] = {f.suffix: f for f in (
    SplatFileFormat(".ply", "3DGS binary PLY (lossless; every trainer and viewer)", "ply", "read_ply", "write_ply"),
    SplatFileFormat(".splat", "compact .splat, 32 bytes per splat (8-bit colour and rotation, no higher SH)",
                    "splat_format", "read_splat", "write_splat"),
    SplatFileFormat(".glb", "glTF 2.0 binary with KHR_gaussian_splatting (Y-up; float32, lossless within rounding)",
                    "gltf", "read_gltf", "write_gltf"),
    SplatFileFormat(".gltf", "glTF 2.0 JSON + .bin with KHR_gaussian_splatting (as .glb, buffer beside it)",
                    "gltf", "read_gltf", "write_gltf"),
    SplatFileFormat(".spz", "SPZ, about 10x smaller than .ply (quantised; version 3 gzip, version=4 zstd)",
                    "spz", "read_spz", "write_spz"),
    SplatFileFormat(".compressed.ply", "compressed PLY of web viewers (chunks of 256, 11/10/11-bit positions, "
                    "8-bit SH)", "compressed_ply", "read_compressed_ply", "write_compressed_ply"),
)}

EXTENSIONS = tuple(FORMATS)


def extensions() -> tuple[str, ...]:
    """Every known suffix (the table may grow after import, so prefer this to EXTENSIONS)."""
    return tuple(FORMATS)


def find_format(path: str | os.PathLike) -> SplatFileFormat | None:
    """The format whose suffix ends ``path`` (longest suffix wins), or None."""
    name = os.path.basename(os.fspath(path)).lower()
    hits = [s for s in FORMATS if name.endswith(s) and len(name) > len(s)]
    return FORMATS[max(hits, key=len)] if hits else None


def format_for(path: str | os.PathLike) -> SplatFileFormat:
    """The format of ``path`` by its suffix; SplatFormatError naming the known ones if none fits."""
    fmt = find_format(path)
    if fmt is None:
        ext = os.path.splitext(os.fspath(path))[1].lower()
        raise SplatFormatError(path, f"unknown splat file extension {ext!r}; expected one of "
                                     + ", ".join(extensions()))
    return fmt


def read_splats(path: str | os.PathLike) -> SplatData:
    """Read a splat file of any format in FORMATS (chosen by suffix)."""
    return format_for(path).read(path)


def write_splats(path: str | os.PathLike, data: SplatData, **options) -> None:
    """Write a splat file of any format in FORMATS (chosen by suffix), atomically."""
    format_for(path).write(path, data, **options)
