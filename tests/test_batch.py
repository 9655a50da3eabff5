"""batch on the local backend with real generate children: crashes, retries, kill -9 and resume.

The manifest is also tested on its own against a writer killed with SIGKILL at random moments.
Backends ray and slurm are in test_batch_backends.py (they reuse the helpers here).
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, attempts_in_log, batch_cmd, check_finished, file_stats, run_batch, summary

from blender_gs_addon.batch.manifest import JOURNAL, Manifest, read_records
from blender_gs_addon.batch.scenes import read_index, scene_complete
from blender_gs_addon.batch.seeds import count_seeds
from procgen.generate_cli import iter_seeds, parse_seed_ranges, seed_dir_name

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc are Linux here")


# ----------------------------------------------------------------------------- manifest alone

_WRITER = """
import sys
from blender_gs_addon.batch.manifest import Manifest
m = Manifest(sys.argv[1], compact_every=7)
i = 1 + max([r["n"] for r in m.records.values()] or [-1])
while True:
    m.put({"seed": i % 50, "status": "running", "n": i, "pad": "x" * (i % 300)})
    print(i, flush=True)
    i += 1
"""


@linux_only
def test_manifest_survives_kill_9_at_random_moments(tmp_path):
    rng = random.Random(7)
    last = -1
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True)
        time.sleep(0.3 + rng.random() * 0.4)
        proc.kill()
        acked = [int(x) for x in proc.communicate()[0].split()]
        assert acked, "the writer acknowledged nothing"
        last = acked[-1]
        records = read_records(str(tmp_path))
        for seed in range(50):
            want = max(i for i in range(last + 1) if i % 50 == seed) if last >= seed else None
            got = records.get(seed, {}).get("n")
            if want is not None:  # every acknowledged write is there; at most one more (killed before its print)
                assert got is not None and got % 50 == seed and want <= got <= last + 1
    assert last > 100  # the writer did run between kills


def test_manifest_drops_a_torn_last_line_and_appends_after_it(tmp_path, capsys):
    m = Manifest(str(tmp_path))
    m.put({"seed": 1, "status": "done"})
    m.put({"seed": 2, "status": "running"})
    os.close(m._fd)
    with open(tmp_path / JOURNAL, "ab") as fh:
        fh.write(b'{"seed": 2, "status": "do')  # a write cut short
    m2 = Manifest(str(tmp_path))
    assert "cut-short last line" in capsys.readouterr().err
    assert m2.records[2]["status"] == "running"
    m2.put({"seed": 3, "status": "failed"})
    m2.close()
    assert {s: r["status"] for s, r in read_records(str(tmp_path)).items()} == {1: "done", 2: "running", 3: "failed"}
    with pytest.raises(ValueError, match="status must be one of"):
        Manifest(str(tmp_path)).put({"seed": 4, "status": "finished"})


def test_seed_count_of_overlapping_ranges_matches_listing_them():
    rng = random.Random(3)
    for _ in range(200):
        text = ",".join(f"{a}-{a + rng.randrange(0, 30)}" for a in (rng.randrange(0, 60) for _ in range(4)))
        ranges = parse_seed_ranges(text)
        assert count_seeds(ranges) == len(list(iter_seeds(ranges))) == len(set(iter_seeds(ranges))), text
    t0 = time.perf_counter()
    assert count_seeds(parse_seed_ranges("0-99999999,50-60,100000000-100000009")) == 100_000_010
    assert time.perf_counter() - t0 < 0.1


# ----------------------------------------------------------------------------- options

def test_bad_options_fail_before_any_task(tmp_path):
    from blender_gs_addon.cli import main

    out = tmp_path / "b"
    assert main(["batch", "--seeds", "0-3", "--out", str(out), "--", "--frames", "0"]) == 2
    assert main(["batch", "--seeds", "0-3", "--out", str(out), "--", "--seed", "5"]) == 2
    assert main(["batch", "--seeds", "3-1", "--out", str(out)]) == 2
    assert main(["batch", "--seeds", "0-3", "--out", str(out), "--generate-args", "--no-such-option"]) == 2
    assert not out.exists()


def test_a_missing_optional_backend_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; sys.modules['submitit'] = None\n"  # as if not installed
            "from blender_gs_addon.cli import main\n"
            f"print(main(['batch', '--seeds', '0', '--out', {str(tmp_path)!r}, '--backend', sys.argv[1]]))")
    for backend, package in (("ray", "ray==2.60.0"), ("slurm", "submitit==1.5.4")):
        proc = subprocess.run([sys.executable, "-c", code, backend], cwd=ROOT, capture_output=True, text=True)
        assert proc.stdout.strip() == "2", proc.stderr
        assert f"pip install '{package}'" in proc.stderr


@linux_only
def test_a_huge_range_starts_at_once_and_stops_on_sigint(tmp_path):
    proc = subprocess.Popen(batch_cmd(tmp_path, "0-99999999", "--workers", "1"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert "100000000 seeds on local (1 at once)" in first
    deadline = time.monotonic() + 60
    while not read_records(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    records = read_records(str(tmp_path))
    assert len(records) == 1 and records[0]["status"] == "pending"  # taken one at a time, never listed


# ----------------------------------------------------------------------------- local backend, real scenes

def test_time_limit_stops_a_seed_and_other_options_are_refused_on_rerun(tmp_path):
    proc = run_batch(tmp_path, "0", "--workers", "1", "--retries", "0", "--time-limit", "1.5",
                     env={"GS_TEST_HANG_SEED": "0"})  # a fast machine would otherwise finish in time
    assert proc.returncode == 1, proc.stderr
    rec = read_records(str(tmp_path))[0]
    assert rec["status"] == "failed" and rec["error"].startswith("stopped at the time limit of 1.5 s")
    assert 1.5 <= rec["seconds"] < 1.5 + 12  # SIGTERM at the limit, SIGKILL at most 10 s later
    assert "FAILED seed 0 after 1 attempts: stopped at the time limit" in proc.stderr
    other = run_batch(tmp_path, "0", "--workers", "1", frames="3")  # other generate options: refused
    assert other.returncode == 2 and "Use the same options to resume it" in other.stderr
    assert read_records(str(tmp_path))[0]["attempts"] == 1
    proc = run_batch(tmp_path, "0", "--workers", "1")  # the same options and no limit: it finishes
    assert proc.returncode == 0, proc.stderr
    check_finished(tmp_path, [0])



def test_crashing_seed_is_retried_and_the_rest_finish_then_a_rerun_resumes(tmp_path):
    # seed 1 crashes on its first attempt only, seed 2 on every attempt (os.abort once a frame is on disk)
    proc = run_batch(tmp_path, "0-3", "--workers", "2", "--retries", "1", env={"GS_TEST_CRASH_SEED": "1:1,2"})
    assert proc.returncode == 1, proc.stderr
    counts = summary(proc)
    assert (counts["done"], counts["failed"], counts["ran"]) == (3, 1, 3)
    records = read_records(str(tmp_path))
    assert {s: (r["status"], r["attempts"], r["failures"]) for s, r in records.items()} == {
        0: ("done", 1, 0), 1: ("done", 2, 1), 2: ("failed", 2, 2), 3: ("done", 1, 0)}
    assert records[2]["error"].startswith("killed by SIGABRT") and "aborting on purpose" in records[2]["error"]
    assert "FAILED seed 2 after 2 attempts: killed by SIGABRT" in proc.stderr
    assert str(tmp_path / "logs" / "seed_000002.log") in proc.stderr
    assert attempts_in_log(tmp_path, 2) == 2 and attempts_in_log(tmp_path, 1) == 2
    half = tmp_path / "seed_000002"
    assert list((half / "images").glob("*.png")) and not scene_complete(str(half))  # half-written, not done
    check_finished(tmp_path, [0, 1, 3])
    assert [e["seed"] for e in read_index(str(tmp_path))] == [0, 1, 3]
    before = {s: file_stats(tmp_path / seed_dir_name(s)) for s in (0, 1, 3)}

    proc = run_batch(tmp_path, "0-3", "--workers", "2", "--retries", "1")
    assert proc.returncode == 0, proc.stderr
    assert summary(proc) == dict(done=4, total=4, ran=1, found=0, before=3, failed=0)
    check_finished(tmp_path, [0, 1, 2, 3])
    assert read_records(str(tmp_path))[2]["attempts"] == 3
    for s in (0, 1, 3):  # nothing of the finished seeds was run or written again
        assert file_stats(tmp_path / seed_dir_name(s)) == before[s]
        assert attempts_in_log(tmp_path, s) == (2 if s == 1 else 1)


def _children_of(out: Path) -> list[int]:
    """Pids of batch children writing into ``out`` (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"blender_gs_addon.batch.child" in cmd and any(str(out).encode() in c for c in cmd):
            pids.append(int(entry.name))
    return pids


def _half_written(out: Path, records: dict, frames: int) -> list[int]:
    """Running seeds with a saved scene and a finished frame, yet frames enough left that a stop lands first."""
    seeds = []
    for seed, rec in records.items():
        progress = out / seed_dir_name(seed) / ".render_progress.json"
        if rec["status"] == "running" and progress.exists():
            try:
                done = len(json.loads(progress.read_text()).get("frames") or {})
            except ValueError:
                continue
            if 1 <= done <= frames - 3:  # a stopped child finishes the frame it renders, not the scene
                seeds.append(seed)
    return seeds


def _finished_frames(folder: Path) -> dict[str, tuple[int, int]]:
    """Stats of the files of the frames the renderer has recorded as finished."""
    frames = json.loads((folder / ".render_progress.json").read_text())["frames"]
    names = {f"{int(f):05d}" for f in frames}
    return {rel: st for rel, st in file_stats(folder).items()
            if rel.split("/")[0] in ("images", "depth", "flow", "normals", "segmentation")
            and Path(rel).name[:5] in names}


@linux_only
def test_driver_killed_with_sigkill_resumes_without_redoing_or_losing_anything(tmp_path):
    frames = "5"
    driver = subprocess.Popen(batch_cmd(tmp_path, "0-5", "--workers", "2", frames=frames), cwd=ROOT,
                              env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while True:  # kill once a scene is done and another is half-written
        records = read_records(str(tmp_path))
        done = [s for s, r in records.items() if r["status"] == "done"]
        half = _half_written(tmp_path, records, int(frames))
        if done and half:
            break
        assert time.monotonic() < deadline and driver.poll() is None, "never saw a done and a half-written seed"
        time.sleep(0.05)
    frozen = {s: _finished_frames(tmp_path / seed_dir_name(s)) for s in half}
    driver.kill()
    driver.wait()
    t_kill = time.monotonic()
    while _children_of(tmp_path):  # the children die with the driver (they stop, keeping finished frames)
        assert time.monotonic() - t_kill < 15, "children outlived the killed driver"
        time.sleep(0.1)
    records = read_records(str(tmp_path))
    complete = [s for s in range(6) if scene_complete(str(tmp_path / seed_dir_name(s)))]
    half = [s for s in half if s not in complete]  # one may have finished in the last moments
    assert half
    assert all(records[s]["status"] == "running" for s in half)  # never recorded as done
    before = {s: file_stats(tmp_path / seed_dir_name(s)) for s in complete}
    for s in half:  # nothing that counted as finished was lost
        assert _finished_frames(tmp_path / seed_dir_name(s)).items() >= frozen[s].items()
        frozen[s] = _finished_frames(tmp_path / seed_dir_name(s))

    proc = run_batch(tmp_path, "0-5", "--workers", "2", frames=frames)
    assert proc.returncode == 0, proc.stderr
    counts = summary(proc)
    assert counts["done"] == 6 and counts["ran"] == 6 - len(complete)
    assert counts["before"] + counts["found"] == len(complete)
    check_finished(tmp_path, list(range(6)), frames=int(frames))
    for s in complete:  # finished scenes untouched
        assert file_stats(tmp_path / seed_dir_name(s)) == before[s]
        assert attempts_in_log(tmp_path, s) == 1
    for s in half:  # the half-written scenes resumed: their finished frames were not rendered again
        assert frozen[s].items() <= _finished_frames(tmp_path / seed_dir_name(s)).items()
        assert attempts_in_log(tmp_path, s) == 2

    # a complete folder missing from the manifest counts as done, without a run
    (tmp_path / JOURNAL).unlink()
    stats = {s: file_stats(tmp_path / seed_dir_name(s)) for s in range(6)}
    proc = run_batch(tmp_path, "0-5", "--workers", "2", frames=frames)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc) == dict(done=6, total=6, ran=0, found=6, before=0, failed=0)
    assert {s: file_stats(tmp_path / seed_dir_name(s)) for s in range(6)} == stats
    check_finished(tmp_path, list(range(6)), frames=int(frames))
