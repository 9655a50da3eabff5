"""One writer per output folder: an exclusive lock that a killed process can never leave behind.

The lock is an OS advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on
``DIR/.gs-lock``. The OS drops it when the holder exits for any reason, ``kill -9`` included, so
a stale lock cannot exist: the file may stay, the lock does not. The file records the holder's
pid, host and command so that a refused second writer can say who holds the folder.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time

from .child_process import remove_stale_temporaries

LOCK_NAME = ".gs-lock"


class FolderLockedError(RuntimeError):
    """Another process is writing into the same folder."""


def _try_lock(fd: int) -> bool:
    if os.name == "nt":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _record(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        return info if isinstance(info, dict) and {"pid", "host", "command", "since"} <= set(info) else None
    except (OSError, ValueError):
        return None


def _is_live_holder(info: dict) -> bool:
    """False when the record names a process of this host that is gone (a previous holder's)."""
    if info["host"] != socket.gethostname() or os.name == "nt":  # on Windows kill(pid, 0) would end it
        return True
    try:
        os.kill(int(info["pid"]), 0)
        return True
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True


def _holder(path: str, wait_s: float = 2.0) -> str:
    """Who holds the lock. The holder writes its record just after it takes the lock, so a
    refused writer may read nothing yet, or a dead previous holder's record: it waits a moment."""
    deadline = time.monotonic() + wait_s
    while True:
        info = _record(path)
        if info is not None and _is_live_holder(info):
            return f"pid {info['pid']} on {info['host']} ({info['command']}, since {info['since']})"
        if time.monotonic() > deadline:
            return "another process"
        time.sleep(0.02)


class FolderLock:
    """``with FolderLock(dir, "generate"):`` holds ``dir`` for this process or raises FolderLockedError."""

    def __init__(self, folder: str | os.PathLike, command: str):
        self.folder = os.path.abspath(os.fspath(folder))
        self.path = os.path.join(self.folder, LOCK_NAME)
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise FolderLockedError(f"{self.folder} is being written by {_holder(self.path)}; "
                                    "wait for it to finish or stop it first")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "argv": sys.argv[1:], "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        # rewritten in place (the lock belongs to the open file, which must not be replaced);
        # padded to a fixed size so a longer old record leaves no tail
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode().ljust(1024))
        self._fd = fd
        # every writer of this folder holds the lock, so temporaries of dead writers are debris
        remove_stale_temporaries(self.folder)
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock; the file stays (removing it would race)
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
