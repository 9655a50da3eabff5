"""``ray``: one Ray task per seed, with CPU, GPU and memory requests.

``ray.init()`` starts a local cluster sized for ``--workers`` tasks unless ``--ray-address``
joins a running one (``auto`` finds the cluster this machine belongs to). Each task runs
``run_task`` on a worker, which starts the seed's child process there; the workers find this
package through PYTHONPATH, so the checkout or installed package must sit at the same path on
every node (a shared filesystem, as for the output folder). Ray's own retries are off: the
driver retries failed seeds itself and records each attempt.
"""
from __future__ import annotations

import os
import sys

from ..task import TaskSpec, run_task
from . import BackendError, failed_result, require


def _ray_started() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and getattr(ray, "is_initialized", lambda: False)())


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse at once a HOST:PORT where nothing listens (Ray itself retries for many seconds, then
    raises a chain of errors)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # "auto" and other forms: left to Ray
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise BackendError(f"--ray-address {address}: nothing answers there ({exc.strerror or exc}); "
                           "start the cluster (ray start --head) or leave out --ray-address for a local one") from None


class RayTasks:
    name = "ray"
    min_submit = 1

    def __init__(self, options):
        if options.ray_address and not _ray_started():
            _check_reachable(options.ray_address)
        self.ray = require("ray", "ray")
        ray = self.ray
        package_parent = options.package_parent
        self._started = not ray.is_initialized()
        if self._started:
            kw = dict(include_dashboard=False, log_to_driver=False,
                      runtime_env={"env_vars": {"PYTHONPATH": package_parent}})
            if options.ray_address:
                try:
                    ray.init(address=options.ray_address, **kw)
                except Exception as exc:  # ConnectionError, RuntimeError, ...: whatever Ray raises, said in one line
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise BackendError(f"--ray-address {options.ray_address}: cannot join the Ray cluster "
                                       f"({first})") from None
            else:
                # "local": a new cluster of our own, even where another one runs on this machine
                ray.init(address="local", num_cpus=(options.workers or os.cpu_count() or 1) * options.cpus_per_task,
                         **kw)
        have = ray.cluster_resources()
        _check_feasible(have, options)
        self.capacity = options.workers or max(1, int(have.get("CPU", 1) // options.cpus_per_task))
        resources = dict(num_cpus=options.cpus_per_task, num_gpus=options.gpus_per_task, max_retries=0)
        if options.mem_gb:
            resources["memory"] = int(options.mem_gb * 2**30)
        self._remote = ray.remote(**resources)(run_task)
        self._refs: dict = {}

    def submit(self, specs: list[TaskSpec]) -> dict[int, str | None]:
        out = {}
        for spec in specs:
            ref = self._remote.remote(spec)
            self._refs[ref] = spec
            out[spec.seed] = ref.hex()
        return out

    def reattach(self, spec: TaskSpec, job: str) -> bool:
        return False  # a driver's tasks end with it

    def poll(self, timeout_s: float) -> list[tuple[TaskSpec, dict]]:
        ray = self.ray
        if not self._refs:
            return []
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout_s)
        if ready:  # collect whatever else has finished meanwhile
            ready, _ = ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
        out = []
        for ref in ready:
            spec = self._refs.pop(ref)
            try:
                out.append((spec, ray.get(ref)))
            except Exception as exc:  # the worker died or Ray lost the task
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                out.append((spec, failed_result(spec, f"ray: {type(exc).__name__}: {first}")))
        return out

    def close(self, cancel: bool) -> None:
        if cancel:
            for ref in list(self._refs):
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:  # already finished or lost
                    pass
        if self._started:
            self.ray.shutdown()


def _check_feasible(have: dict, options) -> None:
    """Refuse requests the cluster can never meet (Ray would wait for them forever)."""
    wants = {"CPU": options.cpus_per_task, "GPU": options.gpus_per_task,
             "memory": (options.mem_gb or 0) * 2**30}
    short = [f"{k} {v:g} (the cluster has {have.get(k, 0):g})" for k, v in wants.items() if v > have.get(k, 0)]
    if short:
        raise BackendError(f"each task asks for more than the Ray cluster has: {', '.join(short)}")
