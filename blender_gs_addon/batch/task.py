"""One seed as one child process: a wall-time limit, its own log file, its peak memory.

``run_task(spec)`` runs wherever a backend puts it (a thread of the local driver, a Ray
worker, a Slurm job) and returns a plain dict; it never raises for a failing child, so a
crash, a hang or an out-of-memory kill of one seed is a result like any other. The child is
tied to whoever started it (``procgen.core.child_process``): if that process dies, so does the child.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from procgen.core.child_process import tied_env
from procgen.core.folder_lock import FolderLock, FolderLockedError

from .scenes import scene_complete

ERROR_LINES = 20  # last lines of the log kept in the manifest
STOP_GRACE_S = 10.0  # after SIGTERM at the time limit, wait this long before SIGKILL
LOCK_WAIT_S = 60.0  # a child of a killed driver may still be saving when the seed runs again

_live: set[subprocess.Popen] = set()  # children of this process, for stop_children()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class TaskSpec:
    seed: int
    argv: tuple[str, ...]  # the child's command line
    scene_dir: str
    log_path: str
    attempt: int  # 1 for the first run of this seed, counted over all runs of the batch
    time_limit_s: float | None = None
    env: dict = field(default_factory=dict)  # added to the child's environment


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _wait_for_folder(folder: str, timeout_s: float) -> None:
    """Wait until no other writer holds ``folder`` (returns at once when none does)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            FolderLock(folder, "batch task").acquire().release()
            return
        except FolderLockedError:
            if time.monotonic() > deadline:
                return  # the child will report who holds it
            time.sleep(0.5)


def _reap(proc: subprocess.Popen, block: bool) -> tuple[int, int | None] | None:
    """(exit code, peak RSS in bytes or None) once ``proc`` has ended, else None."""
    if not hasattr(os, "wait4"):  # Windows: no per-child resource usage
        rc = proc.wait() if block else proc.poll()
        return None if rc is None else (rc, None)
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if os.uname().sysname == "Darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return proc.returncode, usage.ru_maxrss * scale


def _wait(proc: subprocess.Popen, limit_s: float | None) -> tuple[int, int | None, bool]:
    """(exit code, peak RSS bytes, timed out); SIGTERM at the limit, SIGKILL after a grace."""
    deadline = None if limit_s is None else time.monotonic() + limit_s
    timed_out = False
    while True:
        done = _reap(proc, block=False)
        if done:
            return done[0], done[1], timed_out
        if deadline is not None and time.monotonic() > deadline:
            if not timed_out:
                timed_out = True
                proc.terminate()
                deadline = time.monotonic() + STOP_GRACE_S
            else:
                proc.kill()
                rc, peak = _reap(proc, block=True)
                return rc, peak, True
        time.sleep(0.2)


def _tail(path: str, offset: int, lines: int = ERROR_LINES) -> str:
    """The last ``lines`` lines written to ``path`` after ``offset``."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(offset, os.path.getsize(path) - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    # a progress bar redraws its line with \r: keep what a terminal would show last
    rows = [line.rstrip().rsplit("\r", 1)[-1] for line in text.split("\n")]
    rows = [r for r in rows if r.strip()]
    return "\n".join(r[:300] for r in rows[-lines:])


def describe_exit(rc: int, timed_out: bool, limit_s: float | None) -> str:
    if timed_out:
        return f"stopped at the time limit of {limit_s:g} s"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


def _start(spec: TaskSpec, log) -> subprocess.Popen:
    env = tied_env({**os.environ, **spec.env})
    proc = subprocess.Popen(list(spec.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env)
    with _live_lock:
        _live.add(proc)
    return proc


def run_task(spec: TaskSpec) -> dict:
    """Run one seed's child to its end; the result says what happened (see the module docstring)."""
    host = socket.gethostname()
    os.makedirs(spec.scene_dir, exist_ok=True)
    os.makedirs(os.path.dirname(spec.log_path), exist_ok=True)
    _wait_for_folder(spec.scene_dir, LOCK_WAIT_S)
    start, t0 = now_iso(), time.monotonic()
    with open(spec.log_path, "ab") as log:
        log.write(f"=== seed {spec.seed} attempt {spec.attempt} on {host} at {start}: "
                  f"{subprocess.list2cmdline(spec.argv)}\n".encode())
        log.flush()
        offset = log.tell()
        proc = _start(spec, log)
        try:
            rc, peak, timed_out = _wait(proc, spec.time_limit_s)
        finally:
            with _live_lock:
                _live.discard(proc)
    complete = scene_complete(spec.scene_dir)
    ok = rc == 0 and complete and not timed_out
    error = None
    if not ok:
        why = describe_exit(rc, timed_out, spec.time_limit_s)
        if rc == 0 and not complete:
            why = "exited 0 but the scene folder is not complete"
        error = f"{why}\n{_tail(spec.log_path, offset)}".rstrip()
    return {"seed": spec.seed, "ok": ok, "returncode": rc, "host": host, "start": start, "end": now_iso(),
            "seconds": round(time.monotonic() - t0, 3),
            "peak_mem_mb": None if peak is None else round(peak / 2**20, 1), "error": error}


def stop_children(sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` to every child this process started and that still runs; returns how many."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        try:
            proc.send_signal(sig)
        except OSError:
            pass
    return len(procs)
