"""Ctrl-C and SIGTERM that stop a process even while Blender renders.

Python runs signal handlers only when the main thread executes Python code, and Blender
catches the KeyboardInterrupt that lands inside its own callbacks. So a C-level render could
swallow Ctrl-C. Here a watcher thread learns of the signal at once (through the interpreter's
wakeup file descriptor), gives the main thread ``grace_s`` to stop on its own at the next
frame boundary, and otherwise exits with 128 + signal (130 for SIGINT, 143 for SIGTERM).
Finished frames are already on disk: every file is written to a temporary name and renamed,
so an exit at any moment keeps them.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading

_received: list[int] = []
_installed = False
_keep: list[socket.socket] = []


def received() -> int | None:
    """The first stop signal received (signal.SIGINT or SIGTERM), or None."""
    return _received[0] if _received else None


def exit_code(default: int = 130) -> int:
    """128 + the received signal number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + _received[0] if _received else default


def _handler(signum, frame) -> None:
    if signum not in _received:
        _received.append(signum)
    raise KeyboardInterrupt


def _watch(reader: socket.socket, grace_s: float, label: str) -> None:
    while True:
        try:
            data = reader.recv(1)
        except OSError:
            return
        if not data:
            return
        signum = data[0]
        if signum not in (signal.SIGINT, signal.SIGTERM):
            continue
        if signum not in _received:
            _received.append(signum)
        timer = threading.Event()
        if timer.wait(grace_s):
            return
        print(f"{label}: stopped by signal {signum}; finished work was kept", file=sys.stderr, flush=True)
        os._exit(128 + _received[0])


def install(label: str, grace_s: float = 2.0) -> None:
    """Make SIGINT and SIGTERM stop this process within ``grace_s`` seconds. Main thread only."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    reader, writer = socket.socketpair()  # a socket, not a pipe: Windows accepts only sockets here
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    _keep.extend((reader, writer))  # the sockets must outlive this call
    threading.Thread(target=_watch, args=(reader, grace_s, label), daemon=True, name="gs-interrupt").start()
    _installed = True
