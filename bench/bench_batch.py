"""Benchmark of batch generation: scenes per hour on local, ray and slurm with 1 and 2 workers.

Each configuration runs ``batch`` on the same seeds into a fresh folder and is timed from the
command's start to its end (so Ray's cluster start and Slurm's scheduling are included), then
runs again with every seed done, which times the fixed start-up alone. Derived: scaling
efficiency (rate with 2 workers / twice the rate with 1) and each backend's overhead against
local (extra wall time per run, and its start-up). Presets: tiny, and more with
``GS_BENCH_BATCH_PRESETS=tiny,default`` (a default scene takes minutes on a small machine).
Slurm is the single-node test cluster of ``.ci/slurm.sh`` (started here as root when not
running); without root its figures are missing and the result says why.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("local", "ray", "slurm")
WORKERS = (1, 2)


def _batch(out: Path, seeds: str, backend: str, workers: int, preset: str, env: dict) -> dict:
    from blender_gs_addon.batch.manifest import read_records

    cmd = [sys.executable, "-m", "blender_gs_addon", "batch", "--seeds", seeds, "--preset", preset, "--out",
           str(out), "--backend", backend, "--workers", str(workers), "--no-progress", "--retries", "0"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    records = read_records(str(out))
    task = [r["seconds"] for r in records.values() if r.get("seconds")]
    return {"wall_s": round(wall, 2), "scenes": len(records),
            "scenes_per_hour": round(len(records) / wall * 3600, 1),
            "task_s_mean": round(sum(task) / len(task), 2) if task else None,
            "peak_mem_mb_max": max((r.get("peak_mem_mb") or 0) for r in records.values())}


def _slurm_env() -> tuple[dict | None, str | None, bool]:
    """(SLURM_CONF env, why not, whether this call started the cluster)."""
    script = ROOT / ".ci" / "slurm.sh"
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return None, "needs root on Linux to start the test Slurm", False
    try:
        import submitit  # noqa: F401
    except ImportError:
        return None, "submitit is not installed", False
    was_up = subprocess.run([str(script), "status"], capture_output=True).returncode == 0
    start = subprocess.run([str(script), "start"], capture_output=True, text=True)
    if start.returncode != 0:
        return None, f"the test Slurm did not start: {start.stderr.strip()[-300:]}", False
    conf = re.search(r"^SLURM_CONF=(.+)$", start.stdout, re.M).group(1)
    return {"SLURM_CONF": conf}, None, not was_up


def _preset(preset: str, n: int, backends: dict, tmp: Path) -> dict:
    seeds = f"0-{n - 1}"
    res: dict = {"seeds": n, "runs": {}, "startup_s": {}}
    for backend, env in backends.items():
        runs = {}
        for workers in WORKERS:
            out = tmp / f"{preset}-{backend}-{workers}"
            runs[workers] = _batch(out, seeds, backend, workers, preset, env)
            print(f"[bench] batch {preset} {backend} x{workers}: {runs[workers]}", flush=True)
        res["runs"][backend] = runs
        res["startup_s"][backend] = _batch(tmp / f"{preset}-{backend}-{WORKERS[-1]}", seeds, backend,
                                           WORKERS[-1], preset, env)["wall_s"]  # every seed done: start-up only
    local = res["runs"].get("local")
    res["scaling_efficiency"] = {b: round(r[2]["scenes_per_hour"] / (2 * r[1]["scenes_per_hour"]), 3)
                                 for b, r in res["runs"].items()}
    if local:
        res["overhead_vs_local"] = {
            b: {f"workers_{w}": {"extra_wall_s": round(r[w]["wall_s"] - local[w]["wall_s"], 2),
                                 "rate_ratio": round(r[w]["scenes_per_hour"] / local[w]["scenes_per_hour"], 3)}
                for w in WORKERS} | {"extra_startup_s": round(res["startup_s"][b] - res["startup_s"]["local"], 2)}
            for b, r in res["runs"].items() if b != "local"}
    return res


def run(quick: bool) -> dict:
    presets = os.environ.get("GS_BENCH_BATCH_PRESETS", "tiny").split(",")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    backends: dict[str, dict] = {"local": env}
    result: dict = {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in os.getloadavg()],
                    "skipped": {}}
    try:
        import ray  # noqa: F401

        backends["ray"] = env
    except ImportError:
        result["skipped"]["ray"] = "ray is not installed"
    slurm, why, started = _slurm_env()
    if slurm:
        backends["slurm"] = {**env, **slurm}
    else:
        result["skipped"]["slurm"] = why
    try:
        with tempfile.TemporaryDirectory(prefix="gs-bench-batch-") as tmp:
            for preset in presets:
                n = 2 if quick or preset != "tiny" else 4
                result[preset] = _preset(preset, n, backends, Path(tmp))
    finally:
        if started:
            subprocess.run([str(ROOT / ".ci" / "slurm.sh"), "stop"], capture_output=True)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


if __name__ == "__main__":
    import json

    sys.path.insert(0, str(ROOT))
    print(json.dumps(run("--quick" in sys.argv), indent=2))
