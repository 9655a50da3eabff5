"""The one error type of the splat file formats, and reading a whole file under it."""
from __future__ import annotations

import os


class SplatFormatError(ValueError):
    """A splat file could not be read or written; names the file and what is wrong."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        where = self.path if self.path is not None else "<splat data>"
        super().__init__(f"{where}: {reason}")


def read_file(path: str) -> bytes:
    """The whole file at ``path``; SplatFormatError where it cannot be read or is empty."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SplatFormatError(path, f"cannot read file: {exc.strerror or exc}") from None
    if not raw:
        raise SplatFormatError(path, "file is empty")
    return raw
