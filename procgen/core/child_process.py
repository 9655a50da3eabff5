"""Children that die with their parent, and temporaries that a killed process left behind.

A parent starts a child with ``tied_env()``; the child calls ``tie_to_parent()`` first thing.
On Linux the child then asks the kernel for SIGTERM when its parent dies (``prctl``
PR_SET_PDEATHSIG), so ``kill -9`` of a demo or of Blender does not leave a trainer running.
Elsewhere nothing happens (the children there are stopped by their job objects or by hand).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import sys

PARENT_ENV = "GS_PARENT_PID"
TMP_DIR_PREFIX = ".gs-tmp-"
# temporaries of core.atomic (".name.<pid>-<hex>.tmp<suffix>") and of older writers ("name.tmp<pid>")
_TMP_FILE = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp[^/]*$|^.+\.tmp(\d+)(\.[a-z]+)?$")


def tied_env(env: dict | None = None) -> dict:
    """``env`` (default: this process's) plus the marker that ties a child to this process."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out


def tie_to_parent() -> None:
    """In a child started with ``tied_env``: get SIGTERM when the parent dies (Linux)."""
    parent = os.environ.pop(PARENT_ENV, "")
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)
        return bool(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def private_temp_dir(folder: str, label: str) -> str:
    """A scratch folder inside ``folder`` (same file system, found again if this process is killed)."""
    path = os.path.join(folder, f"{TMP_DIR_PREFIX}{label}-{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    return path


def remove_stale_temporaries(folder: str) -> list[str]:
    """Remove scratch folders and temporary files in ``folder`` whose writing process is gone."""
    removed = []
    for root, dirs, files in os.walk(folder):
        for d in list(dirs):
            pid = d.rsplit("-", 1)[-1]
            if d.startswith(TMP_DIR_PREFIX) and pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(os.path.join(root, d), ignore_errors=True)
                removed.append(os.path.join(root, d))
                dirs.remove(d)
        for name in files:
            m = _TMP_FILE.match(name)
            if m and not pid_alive(int(m.group(1) or m.group(2))):
                try:
                    os.remove(os.path.join(root, name))
                    removed.append(os.path.join(root, name))
                except OSError:
                    pass
    return removed
