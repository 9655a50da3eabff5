"""``batch --seeds 0-999 --preset P --out DIR --backend local|ray|slurm [-- generate options]``.

Every seed is one task and one child process (``generate --seed S --out DIR/seed_NNNNNN``),
with a wall-time limit and its own log under ``DIR/logs``. ``DIR/manifest.jsonl`` records
each seed's status, attempts, host, times, peak memory, the end of its error and its log;
``DIR/index.json`` lists the finished scenes. Running the same command again resumes.
Options after ``--`` (or in ``--generate-args``) go to every ``generate`` unchanged.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys

from procgen.core import interrupt
from procgen.core.cli_args import count, number
from procgen.core.folder_lock import FolderLock, FolderLockedError
from procgen.core.output_paths import check_folder

from . import faults
from .backends import BACKENDS, BackendError, make_backend

PACKAGE = __name__.rsplit(".batch", 1)[0]  # blender_gs_addon (or its name inside Blender's extensions)
OWNED = ("--seed", "--seeds", "--out", "--preset")  # batch sets these for each child


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", required=True, metavar="RANGE", help="seed ranges such as 0-999 or 0-9,20-29")
    parser.add_argument("--preset", default="default", help="generate's preset (tiny, default, large)")
    parser.add_argument("--out", required=True, metavar="DIR", help="batch folder: DIR/seed_NNNNNN per seed")
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="where the tasks run")
    parser.add_argument("--workers", type=count(1), default=None, metavar="N",
                        help="tasks at once (local/ray: CPUs / --cpus-per-task; slurm: 16)")
    parser.add_argument("--retries", type=count(0), default=2, metavar="R",
                        help="run a failed seed again up to R times in this run (default 2)")
    parser.add_argument("--time-limit", type=number(1), default=7200.0, metavar="S",
                        help="wall-time limit of one seed in seconds (default 7200)")
    parser.add_argument("--cpus-per-task", type=count(1), default=1, metavar="C")
    parser.add_argument("--gpus-per-task", type=number(0), default=0, metavar="G", help="ray and slurm")
    parser.add_argument("--mem-gb", type=number(0.001), default=None, metavar="GB",
                        help="memory per task (ray request, slurm --mem)")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="join a running Ray cluster (e.g. auto); default: start a local one")
    parser.add_argument("--slurm-partition", default=None, metavar="P")
    parser.add_argument("--slurm-array-size", type=count(1), default=1000, metavar="N",
                        help="most seeds in one Slurm job array (the cluster's MaxArraySize)")
    parser.add_argument("--slurm-setup", action="append", default=[], metavar="CMD",
                        help="shell line run in each Slurm job before the task (e.g. module load ...)")
    parser.add_argument("--python", default=sys.executable, metavar="EXE",
                        help="Python of the children (the same path on every node)")
    parser.add_argument("--generate-args", default="", metavar="STRING",
                        help="options for every generate, as one string (like those after --)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("generate_args_tail", nargs=argparse.REMAINDER, help="-- then options for generate")


def generate_options(args) -> list[str]:
    """The options passed through to every generate; those that batch sets itself are refused."""
    tail = list(args.generate_args_tail)
    if tail and tail[0] == "--":
        tail = tail[1:]
    elif tail:
        raise ValueError(f"unexpected {tail[0]!r}: put options for generate after --")
    extra = shlex.split(args.generate_args) + tail
    for opt in extra:
        if opt.split("=", 1)[0] in OWNED:
            raise ValueError(f"{opt.split('=', 1)[0]} is set by batch for each seed; give it to batch itself")
    return extra


def check_generate_options(preset: str, extra: list[str]) -> None:
    """Parse one child's command line here, so a typo fails now and not in every task."""
    from ..cli import build_parser

    parser, _ = build_parser()
    try:
        parser.parse_args(["generate", "--seed", "0", "--out", "x", "--preset", preset, *extra])
    except SystemExit:  # argparse has printed what is wrong
        raise ValueError("the options for generate above are not valid") from None


def is_batch_folder(folder: str) -> bool:
    """Whether ``folder`` holds a batch of ours (resumed by the same command)."""
    return os.path.isdir(os.path.join(folder, ".batch")) or os.path.exists(os.path.join(folder, "manifest.jsonl"))


def check_python(args) -> None:
    """A --python that cannot run is said once, here, and not retried for every seed."""
    import shutil

    on_this_host = args.backend == "local" or (args.backend == "ray" and not args.ray_address)
    if blender_binary() or not on_this_host:
        return  # inside Blender the children are Blender; a cluster's nodes may have what this host lacks
    if shutil.which(args.python) is None:
        raise ValueError(f"--python {args.python}: no such program here (give the Python that runs the children)")


def blender_binary() -> str | None:
    """The Blender executable when this runs inside Blender (not the bpy module)."""
    bpy = sys.modules.get("bpy")
    path = getattr(getattr(bpy, "app", None), "binary_path", "") if bpy else ""
    return path if path and os.path.basename(path).lower().startswith("blender") else None


def child_command(args, extra: list[str]):
    blender = blender_binary()
    head = [blender, "-b", "-c", "gs"] if blender else [args.python, "-m", f"{PACKAGE}.batch.child"]

    def command(seed: int, scene_dir: str) -> list[str]:
        return [*head, "generate", "--seed", str(seed), "--preset", args.preset, "--out", scene_dir, *extra]

    return command


def package_parent() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(os.path.dirname(here))


def run(args: argparse.Namespace) -> int:
    from procgen.generate_cli import iter_seeds, parse_seed_ranges

    from .seeds import count_seeds

    try:
        ranges = parse_seed_ranges(args.seeds)
        if not ranges:
            raise ValueError(f"--seeds {args.seeds!r} names no seed; give seeds such as 0-999 or 0-9,20-29")
        extra = generate_options(args)
        check_generate_options(args.preset, extra)
        check_python(args)
    except ValueError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    args.out = check_folder(args.out, is_ours=is_batch_folder, overwrite_hint="")
    args.package_parent = package_parent()
    interrupt.install("batch")
    try:
        # the lock sits in DIR/.batch: taking it sweeps only that folder, never the scenes that
        # tasks on other hosts may be writing
        with FolderLock(os.path.join(args.out, ".batch"), "batch"):
            return _run_locked(args, extra, iter_seeds(ranges), count_seeds(ranges))
    except FolderLockedError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 1
    except BackendError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2


def check_same_options(out: str, preset: str, extra: list[str]) -> None:
    """A batch folder holds one kind of scene: a re-run with other generate options is refused."""
    import json

    from procgen.core.atomic import write_text

    path = os.path.join(out, ".batch", "options.json")
    want = {"preset": preset, "generate_args": extra}
    try:
        with open(path, encoding="utf-8") as fh:
            have = json.load(fh)
    except FileNotFoundError:
        write_text(path, json.dumps(want, indent=1) + "\n")
        return
    if have != want:
        raise ValueError(f"{out} was made with --preset {have.get('preset')} and generate options "
                         f"{have.get('generate_args')}; this run asks for --preset {preset} and {extra}. "
                         f"Use the same options to resume it, or another --out")


def _run_locked(args, extra: list[str], seeds, total: int) -> int:
    from .driver import Driver, run_driver
    from .manifest import Manifest, ManifestError

    try:
        check_same_options(args.out, args.preset, extra)
    except ValueError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    if args.workers is None and args.backend == "local":
        args.workers = max(1, (os.cpu_count() or 1) // args.cpus_per_task)
    try:
        manifest = Manifest(args.out)
    except ManifestError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    try:
        backend = make_backend(args.backend, args)
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [args.package_parent, os.environ.get("PYTHONPATH")]))}
        env.update(faults.switches())  # tests' fault switches reach the children on every backend
        driver = Driver(args.out, backend, manifest, child_command(args, extra), args.retries,
                        args.time_limit, env)
        print(f"batch: {total} seeds on {args.backend} ({backend.capacity} at once) -> {args.out}", flush=True)
        return run_driver(driver, seeds, total, progress=not args.no_progress)
    finally:
        manifest.close()
