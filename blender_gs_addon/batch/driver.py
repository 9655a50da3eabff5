"""The batch driver: hands seeds to a backend, records every change in the manifest, shows progress.

The driver is the manifest's only writer. Seeds come from a lazy iterator and only as many
as the backend keeps in flight are taken at a time, so a range of any size starts at once.
A seed is skipped when the manifest says done, or when its folder is complete (a run killed
after the scene was finished but before it was recorded); anything else runs (again). A
failed seed is retried up to ``retries`` times in this run; a later run retries it afresh.
"""
from __future__ import annotations

import collections
import os
import sys
import time
from collections.abc import Iterator

from procgen.core import interrupt
from procgen.generate_cli import seed_dir, seed_dir_name

from .manifest import Manifest
from .scenes import index_entry, scene_complete, write_index
from .task import TaskSpec, now_iso

ATTEMPT_ENV = "GS_BATCH_ATTEMPT"
SUBMIT_WAIT_S = 10.0  # a backend that submits in arrays waits at most this long to fill one


class Driver:
    def __init__(self, out: str, backend, manifest: Manifest, command, retries: int,
                 time_limit_s: float | None, env: dict):
        self.out, self.backend, self.manifest = out, backend, manifest
        self.command = command  # (seed, scene_dir) -> the child's argv
        self.retries, self.time_limit_s, self.env = retries, time_limit_s, env
        self.inflight: dict[int, TaskSpec] = {}
        self.retry_queue: collections.deque[int] = collections.deque()
        self.tries: collections.Counter[int] = collections.Counter()
        self.stats = collections.Counter()  # ran, found, before, failed (final in this run)
        self.failed: set[int] = set()
        self.t0 = time.monotonic()
        self._shown: tuple = (None, 0.0)

    # ------------------------------------------------------------------ specs and records

    def spec(self, seed: int, attempt: int) -> TaskSpec:
        scene_dir = seed_dir(self.out, seed)
        return TaskSpec(seed=seed, argv=tuple(self.command(seed, scene_dir)), scene_dir=scene_dir,
                        log_path=os.path.join(self.out, "logs", f"{seed_dir_name(seed)}.log"), attempt=attempt,
                        time_limit_s=self.time_limit_s, env={**self.env, ATTEMPT_ENV: str(attempt)})

    def _record(self, seed: int, **changes) -> dict:
        rec = dict(self.manifest.get(seed) or {"seed": seed, "attempts": 0, "failures": 0})
        rec.update(changes)
        self.manifest.put(rec)
        return rec

    def _done(self, seed: int, how: str, **changes) -> None:
        self._record(seed, status="done", scene=index_entry(self.out, seed), error=None, **changes)
        self.stats[how] += 1

    # ------------------------------------------------------------------ resuming

    def reconcile(self) -> None:
        """Records left 'running' by a killed driver: adopt the task where the backend can, else pending."""
        for seed, rec in sorted(self.manifest.records.items()):
            if rec["status"] != "running":
                continue
            spec = self.spec(seed, rec.get("attempts") or 1)
            if rec.get("job") and self.backend.reattach(spec, rec["job"]):
                self.inflight[seed] = spec
                self.tries[seed] += 1
            else:
                self._record(seed, status="pending", note="interrupted when a driver stopped")

    def todo(self, seeds: Iterator[int]) -> Iterator[int]:
        """The seeds of ``seeds`` that need a run; done ones are counted on the way."""
        for seed in seeds:
            if seed in self.inflight:
                continue
            rec = self.manifest.get(seed)
            if rec and rec["status"] == "done":
                self.stats["before"] += 1
                continue
            folder = seed_dir(self.out, seed)
            if os.path.isdir(folder) and scene_complete(folder):
                self._done(seed, "found", note="found complete on disk")
                continue
            yield seed

    # ------------------------------------------------------------------ the loop

    def _submit(self, seeds: list[int]) -> None:
        specs = []
        for seed in seeds:
            rec = self.manifest.get(seed) or {}
            spec = self.spec(seed, (rec.get("attempts") or 0) + 1)
            self._record(seed, status="running", attempts=spec.attempt, submitted=now_iso(), host=None, note=None,
                         start=None, end=None, job=None, log=os.path.relpath(spec.log_path, self.out))
            self.tries[seed] += 1
            self.inflight[seed] = spec
            specs.append(spec)
        for seed, job in self.backend.submit(specs).items():
            if job is not None:
                self._record(seed, job=job)

    def _finish(self, spec: TaskSpec, result: dict) -> None:
        self.inflight.pop(spec.seed, None)
        fields = {k: result.get(k) for k in ("host", "start", "end", "seconds", "peak_mem_mb", "returncode")}
        if result.get("ok"):
            self._done(spec.seed, "ran", **fields)
            return
        rec = self.manifest.get(spec.seed) or {}
        self._record(spec.seed, status="failed", failures=(rec.get("failures") or 0) + 1,
                     error=result.get("error"), **fields)
        if self.tries[spec.seed] <= self.retries:
            self.retry_queue.append(spec.seed)
        else:
            self.failed.add(spec.seed)

    def _take(self, todo: Iterator[int], n: int) -> list[int]:
        out = []
        while len(out) < n and self.retry_queue:
            out.append(self.retry_queue.popleft())
        while len(out) < n:
            seed = next(todo, None)
            if seed is None:
                break
            out.append(seed)
        return out

    def run(self, seeds: Iterator[int], bar) -> None:
        todo = self.todo(seeds)
        exhausted = False
        free_since = None
        while True:
            free = self.backend.capacity - len(self.inflight)
            free_since = (free_since or time.monotonic()) if free > 0 else None
            waited = free_since is not None and time.monotonic() - free_since >= SUBMIT_WAIT_S
            if free > 0 and (free >= self.backend.min_submit or waited or not self.inflight):
                batch = self._take(todo, free)
                exhausted = exhausted or len(batch) < free
                if batch:
                    self._submit(batch)
                    free_since = None
            if not self.inflight and not self.retry_queue and exhausted:
                break
            for spec, result in self.backend.poll(timeout_s=1.0):
                self._finish(spec, result)
            self.show(bar)
        self.show(bar)

    # ------------------------------------------------------------------ progress and summary

    def rate_per_hour(self) -> float:
        hours = (time.monotonic() - self.t0) / 3600
        return self.stats["ran"] / hours if hours > 0 else 0.0

    def show(self, bar) -> None:
        """Redraw when a count changes, else every few seconds (a log file gets no line per poll)."""
        if bar is None:
            return
        done = self.stats["ran"] + self.stats["found"] + self.stats["before"]
        state = (done, len(self.failed), len(self.inflight))
        if state == self._shown[0] and time.monotonic() - self._shown[1] < 5.0:
            return
        self._shown = (state, time.monotonic())
        bar.n = done + len(self.failed)
        bar.set_postfix_str(f"done {done}, failed {len(self.failed)}, running {len(self.inflight)}, "
                            f"{self.rate_per_hour():.0f} scenes/h", refresh=False)
        bar.refresh()

    def interrupted(self) -> None:
        """After Ctrl-C or SIGTERM: the tasks in flight go back to pending."""
        for seed in list(self.inflight):
            self._record(seed, status="pending", note="interrupted")
        self.inflight.clear()

    def write_index(self) -> int:
        done = (rec["scene"] for _, rec in sorted(self.manifest.records.items())
                if rec["status"] == "done" and rec.get("scene"))
        return write_index(self.out, done)

    def summary(self, total: int, index_count: int) -> list[str]:
        s = self.stats
        done = s["ran"] + s["found"] + s["before"]
        lines = [f"batch: {done}/{total} seeds done ({s['ran']} generated now, {s['found']} found complete, "
                 f"{s['before']} done before), {len(self.failed)} failed, in {time.monotonic() - self.t0:.1f} s "
                 f"({self.rate_per_hour():.1f} scenes/h); {index_count} scenes in "
                 f"{os.path.join(self.out, 'index.json')}"]
        for seed in sorted(self.failed):
            rec = self.manifest.get(seed) or {}
            rows = (rec.get("error") or "unknown error").splitlines()
            why = rows[0] if len(rows) == 1 else f"{rows[0]}: {rows[-1][-200:]}"
            lines.append(f"batch: FAILED seed {seed} after {rec.get('attempts')} attempts: {why} "
                         f"(log: {os.path.join(self.out, rec.get('log') or '')})")
        return lines


def run_driver(driver: Driver, seeds: Iterator[int], total: int, progress: bool = True) -> int:
    """Run the batch to its end; returns the exit code (1 when a seed failed, 130/143 when stopped)."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="scene", desc="batch", dynamic_ncols=True, file=sys.stderr,
               disable=not progress, mininterval=0.5)
    try:
        driver.reconcile()
        driver.run(seeds, bar)
    except KeyboardInterrupt:
        # records first: a stopped process is made to exit a moment after the signal
        driver.interrupted()
        bar.close()
        _report(driver, total)
        print("batch: interrupted; run the same command again to resume", file=sys.stderr, flush=True)
        driver.backend.close(cancel=True)
        return interrupt.exit_code()
    bar.close()
    driver.backend.close(cancel=False)
    _report(driver, total)
    return 1 if driver.failed else 0


def _report(driver: Driver, total: int) -> None:
    count = driver.write_index()
    for line in driver.summary(total, count):
        print(line, file=sys.stderr if "FAILED" in line else sys.stdout, flush=True)
