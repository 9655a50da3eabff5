"""Where the tasks run: ``local`` (a pool of child processes on this machine), ``ray``, ``slurm``.

Every backend offers the same small interface to the driver:

- ``capacity``: how many tasks it keeps in flight; ``min_submit``: how many free slots to
  gather before submitting (Slurm submits job arrays, not one job per seed);
- ``submit(specs) -> {seed: job id or None}``; ``poll(timeout_s) -> [(spec, result)]`` for the
  tasks that ended (a task the backend itself lost comes back as a failed result);
- ``reattach(spec, job) -> bool``: adopt a task that a killed driver left queued (Slurm);
- ``close(cancel)``: stop; with ``cancel`` also the tasks still in flight.

Ray and submitit are optional: ``make_backend`` says how to install the one that is missing.
"""
from __future__ import annotations

import importlib

from ..task import TaskSpec, now_iso

BACKENDS = ("local", "ray", "slurm")
PINS = {"ray": "ray==2.60.0", "submitit": "submitit==1.5.4"}


class BackendError(RuntimeError):
    """A backend cannot start; the message says why and what to do."""


def require(module: str, backend: str):
    """Import an optional dependency or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(f"the {backend} backend needs the {module} package ({exc}); install it with "
                           f"`pip install '{PINS[module]}'` into this Python, or run `python build.py setup`") \
            from None


def failed_result(spec: TaskSpec, message: str, host: str | None = None) -> dict:
    """The result of a task that the backend lost (its worker or job died without a word)."""
    return {"seed": spec.seed, "ok": False, "returncode": None, "host": host, "start": None, "end": now_iso(),
            "seconds": None, "peak_mem_mb": None, "error": message}


def make_backend(name: str, options):
    """The backend ``name`` configured from the parsed ``batch`` options."""
    if name == "local":
        from .local_pool import LocalPool

        return LocalPool(options.workers)
    if name == "ray":
        from .ray_tasks import RayTasks

        return RayTasks(options)
    if name == "slurm":
        from .slurm_arrays import SlurmArrays

        return SlurmArrays(options)
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
