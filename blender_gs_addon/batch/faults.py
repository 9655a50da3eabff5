"""Fault injection for tests: switches that make a batch child crash or hang on purpose.

The one module that reads them (``inject`` in the child, ``switches`` in the driver's command);
unset, as for every user, they do nothing.

- ``GS_TEST_CRASH_SEED="S[:N][,S2[:N2]]"`` makes the child of seed S abort (``os.abort()``, as a
  crashing Blender would) once the first frame of its scene is on disk, on its first N attempts
  (every attempt without ``:N``). The attempt number comes from ``GS_BATCH_ATTEMPT``, which the
  driver sets.
- ``GS_TEST_HANG_SEED="S[,S2]"`` makes the child of seed S hang before it starts, as a stuck
  Blender would, so that the time limit is what ends it.
"""
from __future__ import annotations

import os
import sys
import threading
import time

from .driver import ATTEMPT_ENV

CRASH_ENV = "GS_TEST_CRASH_SEED"
HANG_ENV = "GS_TEST_HANG_SEED"


def switches() -> dict[str, str]:
    """The fault switches set in this process, for the children's environment on every backend."""
    return {name: os.environ[name] for name in (CRASH_ENV, HANG_ENV) if os.environ.get(name)}


def _crash_plan(text: str) -> dict[int, int | None]:
    """"3:1,5" -> {3: 1, 5: None}: seed -> crash on attempts up to N (None: always)."""
    plan: dict[int, int | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        seed, _, times = part.partition(":")
        plan[int(seed)] = int(times) if times else None
    return plan


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return None


def _abort_when_half_written(out_dir: str) -> None:
    images = os.path.join(out_dir, "images")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if os.path.isdir(images) and any(n.endswith(".png") for n in os.listdir(images)):
            break
        time.sleep(0.05)
    print(f"batch child: {CRASH_ENV}: aborting on purpose (test fault switch)", file=sys.stderr, flush=True)
    os.abort()


def _arm_crash(argv: list[str]) -> bool:
    """Start the crash watcher when the fault switch names this seed and attempt."""
    text = os.environ.get(CRASH_ENV, "")
    seed, out_dir = _option(argv, "--seed"), _option(argv, "--out")
    if not text or seed is None or out_dir is None:
        return False
    plan = _crash_plan(text)
    if int(seed) not in plan:
        return False
    times = plan[int(seed)]
    attempt = int(os.environ.get(ATTEMPT_ENV, "1"))
    if times is not None and attempt > times:
        return False
    threading.Thread(target=_abort_when_half_written, args=(out_dir,), daemon=True).start()
    return True


def _hang_if_asked(argv: list[str]) -> None:
    seeds = {int(s) for s in os.environ.get(HANG_ENV, "").split(",") if s.strip()}
    seed = _option(argv, "--seed")
    if seed is not None and int(seed) in seeds:
        print(f"batch child: {HANG_ENV}: hanging on purpose (test fault switch)", file=sys.stderr, flush=True)
        while True:
            time.sleep(60)


def inject(argv: list[str]) -> None:
    """In a batch child about to run ``argv``: hang or arm the crash where a switch names its seed."""
    _hang_if_asked(argv)
    _arm_crash(argv)
