"""``local``: N tasks at once on this machine, each seed in its own child process.

A thread per slot starts and watches one child (the work happens in the child, so threads
are enough); the children are the pool's worker processes. A child dies with the driver.
"""
from __future__ import annotations

import concurrent.futures as cf
import signal

from ..task import TaskSpec, run_task, stop_children
from . import failed_result


class LocalPool:
    name = "local"
    min_submit = 1

    def __init__(self, workers: int):
        self.capacity = workers
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gs-batch")
        self._futures: dict[cf.Future, TaskSpec] = {}

    def submit(self, specs: list[TaskSpec]) -> dict[int, str | None]:
        for spec in specs:
            self._futures[self._pool.submit(run_task, spec)] = spec
        return {spec.seed: None for spec in specs}

    def reattach(self, spec: TaskSpec, job: str) -> bool:
        return False  # local children die with the driver that started them

    def poll(self, timeout_s: float) -> list[tuple[TaskSpec, dict]]:
        if not self._futures:
            return []
        done, _ = cf.wait(self._futures, timeout=timeout_s, return_when=cf.FIRST_COMPLETED)
        out = []
        for fut in done:
            spec = self._futures.pop(fut)
            try:
                out.append((spec, fut.result()))
            except Exception as exc:  # the watcher itself failed (e.g. the log folder is unwritable)
                out.append((spec, failed_result(spec, f"{type(exc).__name__}: {exc}")))
        return out

    def close(self, cancel: bool) -> None:
        if cancel:
            for fut in self._futures:
                fut.cancel()
            stop_children(signal.SIGTERM)
        # after a stop the children end within seconds; the driver need not wait for them here
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
