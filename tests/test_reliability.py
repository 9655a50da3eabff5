"""Locks, staged overwrites, interrupts, child processes and option checks (bpy-free, real processes)."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from procgen.core import staged_output
from procgen.core.child_process import remove_stale_temporaries
from procgen.core.cli_args import count, number
from procgen.core.folder_lock import FolderLock, FolderLockedError

HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from procgen.core.folder_lock import FolderLock
    with FolderLock(sys.argv[1], "holder"):
        print("locked", flush=True)
        time.sleep(60)
""")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _refused_while_held(folder, script: str, arg: str, command: str) -> None:
    """While ``script`` (run with ``arg``) holds the lock, a second writer of ``folder`` is
    refused naming the holder's pid and ``command``; the holder is then killed with SIGKILL."""
    holder = subprocess.Popen([sys.executable, "-c", script, arg], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderLockedError, match=f"pid {holder.pid} .*{command}"):
            FolderLock(folder, "second").acquire()
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_is_refused_naming_the_first_and_kill_9_frees_the_folder(tmp_path):
    _refused_while_held(tmp_path, HOLD_LOCK, str(tmp_path), "holder")
    with FolderLock(tmp_path, "third"):  # the OS dropped the dead holder's lock: no stale lock
        info = json.loads((tmp_path / ".gs-lock").read_text())
        assert info["pid"] == os.getpid() and info["command"] == "third"


# Takes the lock the way FolderLock does, but writes its record only after a while: the
# moment in which a second writer used to read no record, or a dead holder's, and named nobody.
LOCK_THEN_RECORD = textwrap.dedent("""
    import fcntl, json, os, socket, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    time.sleep(0.5)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": "late", "since": "now"}
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(info).encode().ljust(1024))
    time.sleep(60)
""")


@pytest.mark.skipif(os.name == "nt", reason="the holder script uses flock")
def test_the_refusal_names_the_new_holder_not_a_dead_one_before_its_record_is_written(tmp_path):
    record = {"pid": _dead_pid(), "host": socket.gethostname(), "command": "old", "since": "then"}
    (tmp_path / ".gs-lock").write_text(json.dumps(record).ljust(1024))
    _refused_while_held(tmp_path, LOCK_THEN_RECORD, str(tmp_path / ".gs-lock"), "late")


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    dead = _dead_pid()
    (tmp_path / "depth").mkdir()
    stale = [tmp_path / "depth" / f".00001.npy.{dead}-0123abcd.tmp.npy", tmp_path / f"transforms.json.tmp{dead}"]
    live = [tmp_path / f".x.json.{os.getpid()}-0123abcd.tmp", tmp_path / "images.tmp"]
    for p in stale + live:
        p.write_bytes(b"x")
    (tmp_path / f".gs-tmp-render-{dead}").mkdir()
    (tmp_path / f".gs-tmp-render-{dead}" / "rgb.png").write_bytes(b"x")
    with FolderLock(tmp_path, "test"):
        pass
    assert not any(p.exists() for p in stale) and not (tmp_path / f".gs-tmp-render-{dead}").exists()
    assert all(p.exists() for p in live)
    assert remove_stale_temporaries(str(tmp_path)) == []


def _dataset_like(root, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def test_a_commit_cut_short_is_finished_by_the_next_run(tmp_path):
    is_product = lambda rel: rel.startswith("images/0")  # noqa: E731
    _dataset_like(tmp_path, {"images/00001.png": b"old1", "images/00002.png": b"old2", "images/mine.png": b"user"})
    stage = tmp_path / staged_output.STAGE
    _dataset_like(stage, {"images/00001.png": b"new1"})
    # the commit wrote its journal, removed the old frame 2, moved nothing yet: then the process died
    (stage / staged_output.JOURNAL).write_text(json.dumps(["images/00001.png"]))
    os.remove(tmp_path / "images/00002.png")
    assert staged_output.finish_commit(str(tmp_path), is_product)
    assert sorted(os.listdir(tmp_path / "images")) == ["00001.png", "mine.png"]
    assert (tmp_path / "images/00001.png").read_bytes() == b"new1" and not stage.exists()
    assert not staged_output.finish_commit(str(tmp_path), is_product)


SWALLOWING_CHILD = textwrap.dedent("""
    import sys, time
    from procgen.core import interrupt
    interrupt.install("child", grace_s=1.0)
    ready = False
    while True:  # like Blender, which catches the KeyboardInterrupt raised inside its callbacks
        try:
            if not ready:
                ready = print("ready", flush=True) or True
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass
""")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_process_that_swallows_keyboard_interrupt(sig, code):
    proc = subprocess.Popen([sys.executable, "-c", SWALLOWING_CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    proc.send_signal(sig)
    rc = proc.wait(timeout=10)
    assert rc == code, proc.stderr.read()
    assert time.monotonic() - t0 < 5
    assert "finished work was kept" in proc.stderr.read()


TIED_PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from procgen.core.child_process import tied_env
    child = subprocess.Popen([sys.executable, "-c",
        "import time; from procgen.core.child_process import tie_to_parent; tie_to_parent(); "
        "print('child ready', flush=True); time.sleep(60)"], env=tied_env())
    print(child.pid, flush=True)
    time.sleep(60)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are a Linux feature")
def test_a_child_dies_with_its_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", TIED_PARENT], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=os.getcwd()))
    child_pid = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "child ready"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child_pid, signal.SIGKILL)
        raise AssertionError("the child outlived its parent")


def test_option_values_are_checked_at_parse_time(capsys):
    p = argparse.ArgumentParser(prog="gs")
    p.add_argument("--max-points", type=count(1))
    p.add_argument("--depth-weight", type=number(0))
    assert p.parse_args(["--max-points", "5", "--depth-weight", "0.5"]).max_points == 5
    for argv, needle in ((["--max-points", "0"], ">= 1, got '0'"), (["--depth-weight", "nan"], "finite"),
                         (["--depth-weight", "-1"], ">= 0"), (["--max-points", "1.5"], "whole number")):
        with pytest.raises(SystemExit) as exc:
            p.parse_args(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert argv[0] in err and needle in err
