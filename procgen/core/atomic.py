"""Replace a file only once its new content is complete (bpy-free).

The content goes to a temporary name in the same folder (so the rename stays on one file
system), then ``os.replace`` puts it in place in one step. On any error, or an interrupt,
the temporary is removed and the file that was there before is left as it was.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside ``path``; when the block ends without error, move it onto ``path``.

    suffix: ends the temporary name, for writers that look at the extension (``.npy``, ``.blend``).
    The name is not created here: writers that keep a backup of a file they overwrite leave none.
    The new file gets the permissions of the file it replaces (new files: the usual default).
    """
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{base}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}")
    try:
        yield tmp
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(path: str | os.PathLike, parts: bytes | np.ndarray | Iterable) -> None:
    """Write ``parts`` atomically: bytes, a numpy array (its memory as is), or an iterable of these.

    An item of the iterable may itself be an iterable of chunks (e.g. a generator of records),
    so large outputs can be written without joining them in memory.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for part in _flat(parts):
            if isinstance(part, np.ndarray):
                f.write(memoryview(np.ascontiguousarray(part)).cast("B"))
            else:
                f.write(part)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically as UTF-8 with ``\\n`` line ends on every platform."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _flat(parts) -> Iterator[bytes | np.ndarray]:
    if isinstance(parts, (bytes, bytearray, memoryview, np.ndarray)):
        yield parts
        return
    for part in parts:
        if isinstance(part, (bytes, bytearray, memoryview, np.ndarray)):
            yield part
        else:
            yield from part


def _file_mode(path: str) -> int:
    """Permissions for the new file: those of the file it replaces, else the umask default."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
