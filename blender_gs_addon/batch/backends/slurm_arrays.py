"""``slurm``: seeds as Slurm job arrays, submitted through submitit.

Assumes a shared filesystem: the output folder, this package and its Python environment sit
at the same path on the login node and on every compute node (the usual cluster set-up). Each
array element runs ``run_task`` for one seed, which starts the seed's child process there.

Only ``--workers`` tasks are queued or running at once; the driver gathers free slots and
submits them as one array (at most ``--slurm-array-size`` elements), so a million seeds never
become a million queued jobs. The queue is read with one ``squeue`` call per poll for all our
jobs (not one per job), and a job that leaves the queue without a result counts as failed with
the end of its Slurm log. Slurm's time limit is the task's own limit plus a margin, so a seed
that runs too long is stopped by the task (and recorded as such) before Slurm kills the job.
"""
from __future__ import annotations

import getpass
import math
import os
import shutil
import subprocess
import time

from ..task import TaskSpec, run_task
from . import BackendError, failed_result, require

MARGIN_S = 120  # Slurm's limit above the task's own, so the task reports its own timeout
LOST_GRACE_S = 30.0  # a result file may show up late on a shared filesystem


class SlurmArrays:
    name = "slurm"

    def __init__(self, options):
        self.submitit = require("submitit", "slurm")
        if not shutil.which("sbatch") or not shutil.which("squeue"):
            raise BackendError("the slurm backend needs sbatch and squeue on PATH (run it on a Slurm login node)")
        self.folder = os.path.join(options.out, ".batch", "slurm", "%j")
        self.capacity = options.workers or 16
        self.min_submit = max(1, self.capacity // 10)
        self.array_size = options.slurm_array_size
        self.queue_check_s = max(2.0, min(30.0, self.capacity / 50))
        self._executor = self._make_executor(options)
        self._jobs: dict[str, tuple[TaskSpec, object]] = {}  # job id -> (spec, submitit job)
        self._missing_since: dict[str, float] = {}
        self._last_queue: tuple[float, set[str]] = (float("-inf"), set())

    def _make_executor(self, options):
        ex = self.submitit.SlurmExecutor(folder=self.folder, max_num_timeout=0)
        limit = options.time_limit
        params = dict(job_name="gs-batch", cpus_per_task=options.cpus_per_task,
                      time=max(1, math.ceil(((limit or 24 * 3600) + MARGIN_S) / 60)),
                      setup=[f"export PYTHONPATH={options.package_parent}${{PYTHONPATH:+:$PYTHONPATH}}",
                             *options.slurm_setup])
        if options.slurm_partition:
            params["partition"] = options.slurm_partition
        if options.mem_gb:
            params["mem"] = f"{math.ceil(options.mem_gb * 1024)}M"
        if options.gpus_per_task:
            params["gpus_per_node"] = options.gpus_per_task  # one task per job: per node = per task
        ex.update_parameters(**params)
        return ex

    def submit(self, specs: list[TaskSpec]) -> dict[int, str | None]:
        out = {}
        for i in range(0, len(specs), self.array_size):
            chunk = specs[i:i + self.array_size]
            self._executor.update_parameters(array_parallelism=len(chunk))
            try:
                jobs = self._executor.map_array(run_task, chunk)
            except Exception as exc:  # sbatch refused (partition, limits): say so for each seed
                raise BackendError(f"sbatch refused the job array: {exc}") from exc
            for spec, job in zip(chunk, jobs):
                self._jobs[job.job_id] = (spec, job)
                out[spec.seed] = job.job_id
        return out

    def reattach(self, spec: TaskSpec, job_id: str) -> bool:
        """Adopt the job a killed driver left, if it is still queued or left a result."""
        job = self.submitit.SlurmJob(folder=self.folder, job_id=job_id)
        if job_id not in self._queued(force=True) and not job.paths.result_pickle.exists():
            return False
        self._jobs[job_id] = (spec, job)
        return True

    def _queued(self, force: bool = False) -> set[str]:
        """Ids of our jobs still in the queue (array elements one by one), refreshed every few seconds."""
        at, ids = self._last_queue
        if not force and time.monotonic() - at < self.queue_check_s:
            return ids
        res = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-u", getpass.getuser()],
                             capture_output=True, text=True)
        if res.returncode != 0:  # the controller is busy or restarting: keep the last answer
            return ids
        ids = set(res.stdout.split())
        self._last_queue = (time.monotonic(), ids)
        return ids

    def _finished(self, job_id: str, job, queued: set[str]) -> dict | None:
        """The result of a job that has left the queue, else None (in the queue: no file is read)."""
        spec = self._jobs[job_id][0]
        if job_id in queued:
            self._missing_since.pop(job_id, None)
            return None
        if job.paths.result_pickle.exists():
            try:
                return job.result()
            except Exception as exc:  # the task raised, or the job failed inside submitit
                return failed_result(spec, f"slurm job {job_id}: {str(exc).strip()[-1500:]}")
        since = self._missing_since.setdefault(job_id, time.monotonic())
        if time.monotonic() - since < LOST_GRACE_S or self._last_queue[0] <= since:
            return None  # wait for a later look at the queue: a new job may not have been in the last
        return failed_result(spec, f"slurm job {job_id} left the queue without a result (cancelled, over its "
                                   f"time or memory, or its node failed); its log: {job.paths.stderr}\n"
                                   f"{_tail(job.paths.stderr)}")

    def poll(self, timeout_s: float) -> list[tuple[TaskSpec, dict]]:
        deadline = time.monotonic() + timeout_s
        while self._jobs:
            queued = self._queued()
            out = []
            for job_id, (spec, job) in list(self._jobs.items()):
                result = self._finished(job_id, job, queued)
                if result is not None:
                    del self._jobs[job_id]
                    self._missing_since.pop(job_id, None)
                    out.append((spec, result))
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        return []

    def close(self, cancel: bool) -> None:
        if cancel and self._jobs:
            subprocess.run(["scancel", *self._jobs], capture_output=True)
        self._jobs.clear()


def _tail(path, lines: int = 10) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "\n".join(fh.read()[-8000:].splitlines()[-lines:])
    except OSError:
        return ""
