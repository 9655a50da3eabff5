"""batch on real Ray and real Slurm: four tiny seeds each, a crash retried, and Slurm jobs that outlive a killed driver.

Ray: the driver's ``ray.init()`` starts a local cluster, and a second test joins a cluster that
``ray start --head`` started. Slurm: a single-node cluster from Debian's slurm-wlm and munge,
started by ``.ci/slurm.sh`` (as root; CI starts it before the suite, and this module starts it
itself when run alone). Without root or Linux the Slurm tests are skipped and say so.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, attempts_in_log, batch_cmd, check_finished, run_batch, summary

from blender_gs_addon.batch.manifest import read_records
from blender_gs_addon.batch.scenes import read_index

SLURM_SCRIPT = ROOT / ".ci" / "slurm.sh"


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


needs_ray = pytest.mark.skipif(not _installed("ray"), reason="ray is not installed (python build.py setup installs it)")
needs_submitit = pytest.mark.skipif(not _installed("submitit"),
                                    reason="submitit is not installed (python build.py setup installs it)")


def check_four_with_a_retried_crash(out: Path, proc: subprocess.CompletedProcess, job_pattern: str) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc) == dict(done=4, total=4, ran=4, found=0, before=0, failed=0)
    check_finished(out, [0, 1, 2, 3])
    records = read_records(str(out))
    assert {s: (r["attempts"], r["failures"]) for s, r in records.items()} == {0: (1, 0), 1: (1, 0), 2: (1, 0),
                                                                                3: (2, 1)}
    assert all(re.fullmatch(job_pattern, r["job"]) for r in records.values()), [r["job"] for r in records.values()]
    assert attempts_in_log(out, 3) == 2
    assert [e["seed"] for e in read_index(str(out))] == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- Ray

@needs_ray
def test_ray_local_cluster_runs_four_seeds_and_retries_a_crash(tmp_path):
    proc = run_batch(tmp_path, "0-3", "--backend", "ray", "--workers", "2", "--retries", "1",
                     env={"GS_TEST_CRASH_SEED": "3:1"})
    assert "seeds on ray (2 at once)" in proc.stdout
    check_four_with_a_retried_crash(tmp_path, proc, r"[0-9a-f]{16,}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_members(sid: int) -> list[int]:
    """Live processes of session ``sid`` (zombies left unreaped are not processes any more)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getsid(int(entry.name)) == sid and \
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _stop_session(head: subprocess.Popen) -> None:
    """Stop the head and every process it started (they share its session), waiting briefly for a clean exit."""
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + 5
    while _session_members(head.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _session_members(head.pid):  # Ray's graceful shutdown can take half a minute: not needed here
        os.kill(pid, signal.SIGKILL)
    head.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _session_members(head.pid):
        assert time.monotonic() < deadline, f"processes of the Ray head outlived it: {_session_members(head.pid)}"
        time.sleep(0.2)


@needs_ray
def test_ray_joins_a_running_cluster(tmp_path):
    ray_exe = Path(sys.executable).with_name("ray")
    port = _free_port()
    auth = {"RAY_AUTH_MODE": "token"}  # the head checks a token (in ~/.ray); a driver sends it only when told
    head = subprocess.Popen([str(ray_exe), "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard=false", "--disable-usage-stats"], env={**os.environ, **auth},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in head.stdout:  # --block prints its banner, then waits
            if "Ray runtime started" in line:
                break
        else:
            pytest.fail(f"ray start --head ended with {head.wait()}")
        proc = run_batch(tmp_path, "0-1", "--backend", "ray", "--ray-address", f"127.0.0.1:{port}", env=auth)
    finally:
        _stop_session(head)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Connecting to existing Ray cluster" in proc.stderr
    assert "seeds on ray (2 at once)" in proc.stdout  # the cluster's 2 CPUs / 1 per task
    check_finished(tmp_path, [0, 1])


# ----------------------------------------------------------------------------- Slurm

@pytest.fixture(scope="module")
def slurm_env():
    """The environment for Slurm clients of the test cluster (started here when CI has not)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("a test Slurm cluster needs root on Linux (munged, slurmctld and slurmd run as root)")
    if not shutil.which("sbatch") and not shutil.which("apt-get"):
        pytest.skip("Slurm is not installed and there is no apt-get to install slurm-wlm and munge")
    was_up = subprocess.run([str(SLURM_SCRIPT), "status"], capture_output=True).returncode == 0
    start = subprocess.run([str(SLURM_SCRIPT), "start"], capture_output=True, text=True, timeout=600)
    assert start.returncode == 0, f"could not start the test Slurm:\n{start.stdout}\n{start.stderr}"
    conf = re.search(r"^SLURM_CONF=(.+)$", start.stdout, re.M).group(1)
    yield {"SLURM_CONF": conf}
    if not was_up:
        subprocess.run([str(SLURM_SCRIPT), "stop"], capture_output=True, timeout=120)


@needs_submitit
def test_slurm_job_arrays_run_four_seeds_and_retry_a_crash(tmp_path, slurm_env):
    proc = run_batch(tmp_path, "0-3", "--backend", "slurm", "--workers", "2", "--retries", "1",
                     "--time-limit", "600", "--mem-gb", "2", env={**slurm_env, "GS_TEST_CRASH_SEED": "3:1"})
    assert "seeds on slurm (2 at once)" in proc.stdout
    check_four_with_a_retried_crash(tmp_path, proc, r"\d+(_\d+)?")  # array id _ element (a lone retry: a job)
    scripts = [p.read_text() for p in (tmp_path / ".batch" / "slurm").glob("*/*_submission.sh")]
    first = next(s for s in scripts if "#SBATCH --array=0-1%2" in s)  # the first two seeds as one array
    assert "#SBATCH --mem=2048M" in first and "#SBATCH --time=12" in first and "#SBATCH --cpus-per-task=1" in first


@needs_submitit
def test_slurm_jobs_outlive_a_killed_driver_and_the_rerun_adopts_them(tmp_path, slurm_env):
    env = {**os.environ, **slurm_env, "OMP_WAIT_POLICY": "PASSIVE"}
    driver = subprocess.Popen(batch_cmd(tmp_path, "0-3", "--backend", "slurm", "--workers", "2", frames="3"),
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:  # kill the driver once two jobs are in Slurm's hands
        running = {s: r["job"] for s, r in read_records(str(tmp_path)).items()
                   if r["status"] == "running" and r.get("job")}
        if len(running) == 2:
            break
        assert time.monotonic() < deadline and driver.poll() is None, "the driver never submitted two jobs"
        time.sleep(0.05)
    driver.kill()
    driver.wait()
    proc = subprocess.run(batch_cmd(tmp_path, "0-3", "--backend", "slurm", "--workers", "2", frames="3"),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_finished(tmp_path, [0, 1, 2, 3], frames=3)
    records = read_records(str(tmp_path))
    for seed, job in running.items():  # adopted, not submitted again: same job, one attempt
        assert records[seed]["job"] == job and records[seed]["attempts"] == 1
        assert attempts_in_log(tmp_path, seed) == 1
