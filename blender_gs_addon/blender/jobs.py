"""Background jobs (training, dataset rendering, installing torch) as child processes.

The child's stdout/stderr lines are read by two threads into a queue; the modal
operator drains it on a timer, so Blender's UI stays responsive. Cancelling asks the
child to stop (a ``.cancel`` file for the trainer, an interrupt otherwise); every job
keeps the work it finished. Children report progress in one protocol (`jobs_protocol`);
`read_event` is its one reader.
"""
from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from procgen.core.jobs_protocol import EVENTS, LOSS, PREVIEW, TEST_PSNR

RUNNING: dict = {}  # job kind -> the Job of the background job of that kind now running (one at most)


def read_event(text: str) -> dict | None:
    """The protocol event on one line of a child's stdout, or None for any other line (a
    library's own output, a traceback, a malformed object): the caller shows those as text."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("event") not in EVENTS or not isinstance(event.get("stage"), str):
        return None
    if event["event"] == "progress":
        done, total = event.get("done"), event.get("total")
        if not (isinstance(done, int) and isinstance(total, int) and 0 <= done and 0 <= total):
            return None
        event.setdefault("message", "")
    elif event["event"] == "error" and not isinstance(event.get("message"), str):
        return None
    return event


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


class LiveTraining:
    """What the Train panel shows of a training job: the loss and the held-out PSNR against the
    iteration, and the newest preview render of a held-out view (read from progress events)."""

    def __init__(self):
        self.loss: list[tuple[int, float]] = []  # (iteration, running mean of the loss)
        self.test_psnr: list[tuple[int, float]] = []  # (iteration, mean held-out PSNR in dB)
        self.preview = ""  # path of the newest preview PNG
        self.changes = 0  # counts additions, so that a reader redraws only when something came

    def add(self, event: dict) -> bool:
        """Take in one event of the trainer; True if it added a point or a preview."""
        if event.get("event") != "progress":
            return False
        before = self.changes
        for key, points in ((LOSS, self.loss), (TEST_PSNR, self.test_psnr)):
            value = _number(event.get(key))
            if value is not None:
                points.append((event["done"], value))
                self.changes += 1
        preview = event.get(PREVIEW)
        if isinstance(preview, str) and preview:
            self.preview = preview
            self.changes += 1
        return self.changes != before


LIVE: dict = {}  # job kind -> the LiveTraining of the newest job of that kind (kept after it ends)


def with_default_interrupt(cmd: list[str]) -> list[str]:
    """cmd, started so that it can be interrupted.

    A Blender started with interrupts ignored (`nohup blender -b ... &`, or `&` in a
    script) passes that on to its children, and a child that ignores SIGINT would never
    see the cancel request. Then a tiny Python shim restores the default and execs cmd.
    """
    if os.name == "nt" or signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        return cmd
    shim = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"
    return [sys.executable, "-c", shim, *cmd]


class Job:
    """A child process whose output lines are collected without blocking."""

    def __init__(self, kind: str, cmd: list[str], env: dict | None = None, cancel_file: str | None = None):
        self.kind = kind
        self.cmd = cmd
        self.cancel_file = cancel_file
        self.lines: queue.Queue = queue.Queue()
        self.tail: list[str] = []  # last stderr lines, for error messages
        # its own process group, so that an interrupt reaches the child's children too (pip, Blender)
        if os.name == "nt":
            group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        else:
            group = {"start_new_session": True}
        self.proc = subprocess.Popen(with_default_interrupt(cmd), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **group)
        self.cancel_requested = False
        self._cancel_time = None
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, "out"), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, "err"), daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream, name: str) -> None:
        buf = b""
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            buf += chunk
            # progress bars redraw with \r; treat it as a line end too
            parts = buf.replace(b"\r", b"\n").split(b"\n")
            buf = parts.pop()
            for p in parts:
                if p.strip():
                    self.lines.put((name, p.decode("utf-8", "replace")))
        if buf.strip():
            self.lines.put((name, buf.decode("utf-8", "replace")))

    def drain(self) -> list[tuple[str, str]]:
        """Output lines (stream name, text) received since the last call."""
        out = []
        while True:
            try:
                item = self.lines.get_nowait()
            except queue.Empty:
                break
            out.append(item)
            if item[0] == "err":
                self.tail = (self.tail + [item[1]])[-20:]
        return out

    def poll(self) -> int | None:
        """Exit code once the child ended and its output was read, else None."""
        rc = self.proc.poll()
        if rc is None:
            if self._cancel_time is not None and time.monotonic() - self._cancel_time > 30:
                self.proc.kill()  # did not stop within 30 s of the request
            return None
        for t in self._threads:
            t.join(timeout=1)
        return rc

    def cancel(self) -> None:
        """Ask the child to stop; it keeps what it finished."""
        if self.cancel_requested or self.proc.poll() is not None:
            return
        self.cancel_requested = True
        self._cancel_time = time.monotonic()
        if self.cancel_file:
            os.makedirs(os.path.dirname(self.cancel_file), exist_ok=True)
            with open(self.cancel_file, "w") as f:
                f.write("cancel\n")
        elif os.name == "nt":
            self.proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except OSError:
                self.proc.send_signal(signal.SIGINT)

    def wait(self, on_lines=None, should_cancel=None) -> int:
        """Block until the child ends (used when an operator runs from a script)."""
        while True:
            lines = self.drain()
            if on_lines and lines:
                on_lines(lines)
            if should_cancel and should_cancel():
                self.cancel()
            rc = self.poll()
            if rc is not None:
                lines = self.drain()
                if on_lines and lines:
                    on_lines(lines)
                return rc
            time.sleep(0.05)

    def error_text(self) -> str:
        return "\n".join(self.tail[-5:])


def python_child(code: str) -> list[str]:
    """Command that runs Python ``code`` with bpy available: Blender itself, or this bpy-module Python."""
    import bpy

    binary = bpy.app.binary_path
    if binary and os.path.basename(binary).lower().startswith("blender"):
        return [binary, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", code]
    return [sys.executable, "-c", code]
