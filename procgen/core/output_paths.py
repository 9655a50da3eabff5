"""One check of every output path, before a command starts work (and before it takes the folder lock).

``check_folder`` and ``check_file`` refuse, with one line that names the path (``OutputPathError``):

- an empty path (``--out ""`` would otherwise mean the current folder);
- a path that is a file where a folder is meant (or a folder where a file is meant), or a
  path that runs through a file;
- a location that cannot be written: a read-only file system (said as such, never as a full
  disk), or a folder this user may not write in;
- a folder holding files that the command did not write, unless ``overwrite``: the caller says
  what marks a folder as its own (``is_ours``); a folder of ours (a dataset being rendered, a
  training run, ...) resumes as before, and files of the same name as the product's are
  replaced only with ``--overwrite``.

A full disk is found where the write fails (``disk.describe_write_error``), as before.
"""
from __future__ import annotations

import errno
import os
from typing import Callable, Iterable

from .child_process import TMP_DIR_PREFIX

# names of ours that say nothing about who owns a folder: the folder lock, staging and scratch
_OUR_HIDDEN = (".gs-",)


class OutputPathError(ValueError):
    """An output path that cannot be used; the message is one line that names it."""


def _nearest_existing(path: str) -> str:
    folder = path
    while folder and not os.path.lexists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _through_a_file(path: str) -> str | None:
    """The first existing ancestor of ``path`` that is not a folder, or None."""
    folder = _nearest_existing(os.path.dirname(path))
    return folder if folder and os.path.exists(folder) and not os.path.isdir(folder) else None


def read_only(folder: str) -> bool:
    """Whether ``folder`` lies on a file system mounted read-only (a bind mount included)."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def _probe(folder: str) -> OSError | None:
    """Create and remove a file in ``folder``: the one test that every OS, user and mount agrees with."""
    path = os.path.join(folder, f"{TMP_DIR_PREFIX}probe-{os.getpid()}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    except OSError as exc:
        return exc
    os.close(fd)
    try:
        os.remove(path)
    except OSError:
        pass
    return None


def unwritable(folder: str) -> str | None:
    """Why nothing can be written in ``folder`` (an existing folder), or None."""
    if read_only(folder):
        return f"the folder {folder} is not writable (read-only file system)"
    exc = _probe(folder)
    if exc is None:
        return None
    if exc.errno == errno.EROFS:
        return f"the folder {folder} is not writable (read-only file system)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"the folder {folder} is not writable (permission denied)"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"{folder}: no space left on device"
    return f"the folder {folder} is not writable ({exc.strerror or exc})"


def _location(path: str, option: str, what: str) -> str:
    """The absolute path after the checks every output shares; raises OutputPathError."""
    if path is None or not str(path).strip():
        raise OutputPathError(f"{option} is empty; give {what}")
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    blocker = _through_a_file(path)
    if blocker is not None:
        raise OutputPathError(f"{option} {path}: {blocker} is a file, not a folder")
    return path


def _writable_here(path: str, option: str) -> None:
    folder = _nearest_existing(path if os.path.isdir(path) else os.path.dirname(path))
    problem = unwritable(folder) if folder else None
    if problem:
        raise OutputPathError(f"{option} {path}: {problem}")


def foreign_entries(folder: str, ignore: Iterable[str] = ()) -> list[str]:
    """The entries of ``folder`` (names, sorted) that are not our lock, staging or scratch files,
    nor one of the paths in ``ignore`` (the command's inputs, or folders holding them)."""
    if not os.path.isdir(folder):
        return []
    skip = {os.path.abspath(p) for p in ignore}
    out = []
    for name in sorted(os.listdir(folder)):
        full = os.path.join(folder, name)
        if name.startswith(_OUR_HIDDEN) or full in skip or any(s.startswith(full + os.sep) for s in skip):
            continue
        out.append(name)
    return out


def check_folder(path, option: str = "--out", *, is_ours: Callable[[str], bool] | None = None,
                 overwrite: bool = False, inputs: Iterable[str] = (), overwrite_hint: str = "--overwrite") -> str:
    """The absolute output folder, or OutputPathError (see the module's note).

    ``is_ours(folder)`` says whether an existing folder holds this command's own output (which
    it then resumes or refuses by its own rules); None skips the check of foreign files.
    ``inputs`` are files the command reads that may lie in the folder (``render scene.blend
    --out`` the folder of the .blend). ``overwrite_hint`` is the option that allows writing into
    a folder of foreign files, or "" where the command has none.
    """
    path = _location(path, option, "a folder")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputPathError(f"{option} {path}: is a file, not a folder")
    _writable_here(path, option)
    if is_ours is None or overwrite or not os.path.isdir(path) or is_ours(path):
        return path
    foreign = foreign_entries(path, inputs)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        allow = (f", or pass {overwrite_hint} to write into it (files of the same name are replaced, "
                 "others kept)") if overwrite_hint else ""
        raise OutputPathError(f"{option} {path}: the folder holds files this command did not write ({shown}); "
                              f"choose a new or empty folder{allow}")
    return path


def check_file(path, option: str = "--out", *, overwrite: bool | None = None) -> str:
    """The absolute output file, or OutputPathError. ``overwrite`` False refuses an existing file
    (None: the caller adds to an existing file, as ``import`` does into a .blend)."""
    trailing = str(path).endswith(("/", os.sep))
    path = _location(path, option, "a file name")
    if os.path.isdir(path) or trailing:
        raise OutputPathError(f"{option} {path}: is a folder, not a file")
    if overwrite is False and os.path.lexists(path):
        raise OutputPathError(f"{option} {path} exists; use --overwrite to replace it")
    _writable_here(path, option)
    return path
