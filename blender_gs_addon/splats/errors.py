"""The one error type of the splat file formats."""
from __future__ import annotations

import os


class SplatFormatError(ValueError):
    """A splat file could not be read or written; names the file and what is wrong."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        where = self.path if self.path is not None else "<splat data>"
        super().__init__(f"{where}: {reason}")
