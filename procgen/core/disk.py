"""Say "no space left on device" and where, whatever layer noticed the full disk."""
from __future__ import annotations

import errno
import os
import shutil

# A .blend or a frame never fits in less; Blender's own save reports a full disk with another errno.
LOW_SPACE_BYTES = 16 * 1024 * 1024


def free_bytes(path: str) -> int | None:
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


# a read-only or forbidden target is that, however little space its disk has left
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def is_disk_full(exc: BaseException, path: str) -> bool:
    """True for ENOSPC/EDQUOT, or for any other write error (not a refusal to write at all) while
    ``path``'s disk is nearly full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return True
    if isinstance(exc, OSError) and exc.errno in NOT_WRITABLE:
        return False
    free = free_bytes(path)
    return free is not None and free < LOW_SPACE_BYTES


def describe_write_error(exc: BaseException, path: str) -> str:
    """One line for a failed write: the folder and "no space left on device" when that is the cause."""
    where = getattr(exc, "filename", None) or path
    if is_disk_full(exc, where):
        free = free_bytes(where)
        folder = where if os.path.isdir(where) else os.path.dirname(os.path.abspath(where))
        return f"{folder}: no space left on device ({(free or 0) / 1e6:.1f} MB free)"
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return f"{where}: not writable (read-only file system)"
    if isinstance(exc, OSError) and exc.errno in NOT_WRITABLE:
        return f"{where}: not writable ({exc.strerror or 'permission denied'})"
    text = str(exc)
    return text if str(where) in text else f"{where}: {text}"
