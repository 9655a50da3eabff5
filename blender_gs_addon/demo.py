"""``demo``: the whole pipeline on one scene (a meadow by default), resumable stage by stage.

    generate + render dataset -> train splats -> import next to the scene -> render the
    splats from the held-out cameras -> report.html / report.png

Each stage runs in its own process (so its peak memory is measured alone) through the
same CLI a user would type, and records its timing in ``<out>/demo_state.json``. A stage
whose output is complete is skipped on the next run; an interrupted stage resumes where
its own command supports it (dataset frames, training checkpoints).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from procgen.assembly.biomes import BIOME_NAMES
from procgen.core import atomic
from procgen.core.child_process import tied_env
from procgen.core.cli_args import count
from procgen.core.output_paths import OutputPathError, check_folder
from procgen.generate_cli import PRESET_NAMES

DEFAULT_ITERATIONS = 1000
# The demo must finish in minutes on a 2-core CPU: RGB render time is linear in samples, and
# 16 denoised samples keep the held-out views clean enough to train on.
DEFAULT_SAMPLES = 16
# A scene that shows what the generator makes: dense grass, flowers, trees under a cloudy sky.
DEFAULT_BIOME = "meadow"
DEFAULT_SEED = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the same types and choices as generate's and train's, so a bad value is refused before any stage
    parser.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    parser.add_argument("--seed", type=count(0), default=DEFAULT_SEED, help=f"scene seed (default: {DEFAULT_SEED})")
    parser.add_argument("--biome", default=DEFAULT_BIOME, choices=("auto",) + BIOME_NAMES, metavar="BIOME",
                        help=f"scene type ({', '.join(BIOME_NAMES)}), or 'auto' to draw it from the seed "
                             f"(default: {DEFAULT_BIOME})")
    parser.add_argument("--preset", default="default", choices=PRESET_NAMES, help="scene preset (default: default)")
    parser.add_argument("--samples", type=count(1, 1_000_000), default=DEFAULT_SAMPLES,
                        help=f"Cycles samples per RGB frame, denoised (default: {DEFAULT_SAMPLES}; "
                             "the preset's own is slower on a CPU)")
    parser.add_argument("--iterations", type=count(1), default=DEFAULT_ITERATIONS,
                        help=f"training iterations (default: {DEFAULT_ITERATIONS})")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--restart", action="store_true", help="discard earlier results and start over")


def _package_cmd(python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", __package__]


def training_python() -> str:
    """The interpreter with torch that trains: $GS_TRAINING_PYTHON (as a Blender without torch is set
    up), else this one."""
    return os.environ.get("GS_TRAINING_PYTHON", "").strip() or sys.executable


class Demo:
    """Runs the stages and remembers what each one measured."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out).resolve()
        self.scene_dir = self.out / "scene"
        self.train_dir = self.out / "train"
        self.splat_dir = self.out / "splat_renders"
        self.state_path = self.out / "demo_state.json"
        self.state = {"stages": {}}
        if args.restart:
            self.discard_results()
        elif self.state_path.exists():
            try:
                self.state = json.loads(self.state_path.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"{self.state_path}: unreadable ({exc}); --restart starts over") from None

    def discard_results(self) -> None:
        """Remove what earlier demo runs wrote into the output folder (and nothing else)."""
        for d in (self.scene_dir, self.train_dir, self.splat_dir, self.out / "report_assets"):
            shutil.rmtree(d, ignore_errors=True)
        for name in ("scene_with_splats.blend", "report.html", "report.png", "demo_state.json"):
            (self.out / name).unlink(missing_ok=True)

    # -- bookkeeping -------------------------------------------------------------------
    def _save_state(self) -> None:
        atomic.write_text(self.state_path, json.dumps(self.state, indent=2))

    def _run(self, stage: str, cmd: list[str]) -> None:
        """Run one stage's command, recording wall time and the child's peak resident memory."""
        print(f"\n[demo] === {stage} ===\n[demo] $ {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        env = tied_env(dict(os.environ, PYTHONUNBUFFERED="1"))  # a killed demo takes its child along
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.Popen(cmd, env=env)
        peak_mb = None
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                peak_mb = usage.ru_maxrss / 1024.0  # kilobytes on Linux
            else:
                proc.wait()
        except KeyboardInterrupt:
            proc.wait()
            raise
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"stage '{stage}' failed (exit code {proc.returncode}); "
                               f"re-run `{' '.join(cmd)}` to see it alone")
        entry = self.state["stages"].setdefault(stage, {"runs": []})
        entry["runs"].append({"seconds": round(seconds, 2), "peak_memory_mb": peak_mb and round(peak_mb, 1)})
        entry["command"] = " ".join(cmd)
        self._save_state()
        print(f"[demo] {stage}: {seconds:.1f} s, peak memory {peak_mb or 0:.0f} MB", flush=True)

    def _skip(self, stage: str, why: str) -> None:
        print(f"[demo] {stage}: done already ({why}); skipping", flush=True)

    # -- stages --------------------------------------------------------------------------
    def dataset_complete(self) -> bool:
        return (self.scene_dir / "transforms.json").exists() and (self.scene_dir / "scene.json").exists()

    def stage_scene(self) -> None:
        if self.dataset_complete():
            return self._skip("scene", f"{self.scene_dir / 'transforms.json'} exists")
        if (self.scene_dir / "scene.blend").exists():
            # Generated but not fully rendered: the renderer resumes the missing frames.
            cmd = _package_cmd() + ["render", str(self.scene_dir / "scene.blend"), "--out", str(self.scene_dir),
                                    "--samples", str(self.args.samples)]
        else:
            cmd = _package_cmd() + ["generate", "--seed", str(self.args.seed), "--biome", self.args.biome,
                                    "--preset", self.args.preset, "--samples", str(self.args.samples),
                                    "--out", str(self.scene_dir)]
        self._run("scene", cmd)

    def stage_train(self) -> None:
        metrics = self.train_dir / "metrics.json"
        if metrics.exists() and json.loads(metrics.read_text()).get("iterations") == self.args.iterations:
            return self._skip("train", f"{metrics} exists")
        cmd = _package_cmd(training_python()) + ["train", str(self.scene_dir), "--out", str(self.train_dir),
                                "--iterations", str(self.args.iterations), "--device", self.args.device]
        if (self.train_dir / "checkpoints").exists():
            cmd.append("--resume")
        self._run("train", cmd)

    def stage_import_and_render(self) -> None:
        blend = self.out / "scene_with_splats.blend"
        done = self.splat_dir / "done.json"
        if blend.exists() and done.exists():
            return self._skip("import", f"{blend} exists")
        cmd = [sys.executable, "-m", __package__ + ".demo_blender",
               "--scene", str(self.scene_dir / "scene.blend"), "--splats", str(self.train_dir / "point_cloud.ply"),
               "--dataset", str(self.scene_dir), "--out-blend", str(blend), "--renders", str(self.splat_dir)]
        self._run("import", cmd)

    def stage_report(self) -> None:
        from .demo_report import write_report

        t0 = time.perf_counter()
        html, png = write_report(self.out, self.scene_dir, self.train_dir, self.splat_dir, self.state, self.args)
        print(f"[demo] report: {html}\n[demo] summary picture: {png} ({time.perf_counter() - t0:.1f} s)")

    def run(self) -> int:
        self.out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self.stage_scene()
        self.stage_train()
        self.stage_import_and_render()
        self.state["last_total_seconds"] = round(time.perf_counter() - started, 1)
        self._save_state()
        self.stage_report()
        print(f"[demo] finished in {time.perf_counter() - started:.1f} s. Open the scene with:\n"
              f"  blender {self.out / 'scene_with_splats.blend'}")
        return 0


def is_demo_folder(folder: str) -> bool:
    """Whether ``folder`` holds an earlier demo's output (resumed, or discarded with --restart)."""
    return any(os.path.exists(os.path.join(folder, name)) for name in ("demo_state.json", "scene", "train"))


def check_stage_options(args: argparse.Namespace) -> None:
    """Parse each stage's command line with its own subcommand's parser now, so that a value the
    stage would refuse is said before the first stage starts (ValueError, one line)."""
    import contextlib
    import io

    from .cli import build_parser

    parser, _ = build_parser()
    a, scene_dir, train_dir = args, os.path.join(args.out, "scene"), os.path.join(args.out, "train")
    lines = [["generate", "--seed", str(a.seed), "--biome", a.biome, "--preset", a.preset,
              "--samples", str(a.samples), "--out", scene_dir],
             ["train", scene_dir, "--out", train_dir, "--iterations", str(a.iterations), "--device", a.device]]
    for line in lines:
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):
                parser.parse_args(line)
        except SystemExit:
            error = [x for x in said.getvalue().splitlines() if "error:" in x]
            raise ValueError(error[-1].split("error:", 1)[1].strip() if error else said.getvalue().strip()) from None


def run(args: argparse.Namespace) -> int:
    try:
        args.out = check_folder(args.out, is_ours=is_demo_folder, overwrite_hint="")
        check_stage_options(args)
        demo = Demo(args)
    except (OutputPathError, ValueError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    try:
        return demo.run()
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
