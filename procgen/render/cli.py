"""``render SCENE.blend --out DIR``: the ground-truth dataset of an existing scene.

bpy is imported inside ``run`` so that ``--help`` stays fast. Progress: a tqdm bar for people, or
with ``--progress-json`` (or GS_PROGRESS_JSON=1) the JSON lines of ``jobs_protocol`` on stdout.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..core import interrupt
from ..core.cli_args import count
from ..core.disk import describe_write_error, is_disk_full
from ..core.folder_lock import FolderLock, FolderLockedError
from ..core.jobs_protocol import ENV, Reporter, requested
from ..core.output_paths import OutputPathError, check_folder
from . import holds_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("blend", metavar="SCENE.blend", help="the .blend file to render (its scene camera must move)")
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    parser.add_argument("--samples", type=count(1, 1_000_000), default=None, metavar="N",
                        help="Cycles samples for the RGB images (default: the scene's setting)")
    parser.add_argument("--frames", type=count(0), nargs=2, default=None, metavar=("A", "B"),
                        help="render frames A..B (inclusive) instead of the scene's frame range")
    parser.add_argument("--scene", default=None, metavar="NAME", help="scene to render (default: the active one)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="Cycles device: a GPU where one is found (auto), or force one")
    parser.add_argument("--no-denoise", action="store_true", help="leave the RGB images un-denoised")
    parser.add_argument("--exr", action="store_true", help="also write linear-light EXR images")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset in DIR")
    parser.add_argument("--max-points", type=count(1), default=100_000, metavar="N",
                        help="at most about N points in points3d.ply (default 100000)")
    add_passes_argument(parser)
    parser.add_argument("--progress-json", action="store_true",
                        help="report on stdout in JSON lines (progress, result, error events) instead of a bar; "
                             f"also turned on by the environment variable {ENV}=1")


def _passes(text: str) -> tuple[str, ...]:
    from .layout import parse_passes

    try:
        return parse_passes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_passes_argument(parser: argparse.ArgumentParser) -> None:
    """``--passes``: the optional ground truth (docs/dataset-format.md#optional-passes-passes)."""
    from .layout import PASSES
    from .tracks import DEFAULT_POINTS

    _passes.flag_choices = PASSES  # the add-on's panels offer these as a set of toggles
    parser.add_argument("--passes", type=_passes, default=PASSES, metavar="LIST",
                        help=f"optional ground truth: all (default), none, or a comma list of {', '.join(PASSES)}")
    parser.add_argument("--track-points", type=count(1, 10_000_000), default=DEFAULT_POINTS, metavar="N",
                        help=f"point tracks the tracks pass draws (default {DEFAULT_POINTS})")


def _fail(report: Reporter, message: str, code: int) -> int:
    """Say what is wrong to people (stderr) and to a reading program (an error event)."""
    print(f"render: {message}", file=sys.stderr)
    report.error(message)
    return code


def run(args: argparse.Namespace) -> int:
    report = Reporter("render", enabled=requested(args.progress_json))
    blend = os.path.abspath(args.blend)
    if not os.path.isfile(blend):
        return _fail(report, f"{blend}: no such .blend file", 2)
    if args.frames and args.frames[0] > args.frames[1]:
        return _fail(report, f"--frames {args.frames[0]} {args.frames[1]}: the first frame comes after the last", 2)
    try:
        out = check_folder(args.out, is_ours=holds_dataset, overwrite=args.overwrite, inputs=[blend])
    except OutputPathError as exc:
        return _fail(report, str(exc), 2)
    args.out = out
    interrupt.install("render")
    try:
        with FolderLock(out, "render"):
            return _render_locked(args, blend, report)
    except FolderLockedError as exc:
        return _fail(report, str(exc), 1)


def _open_scene(blend: str, scene_name: str | None):
    """Open the .blend -> (scene, None), or (None, why not)."""
    import bpy

    try:
        bpy.ops.wm.open_mainfile(filepath=blend)
    except RuntimeError as exc:
        return None, f"{blend}: cannot open ({exc})"
    scene = bpy.context.scene
    if scene_name is not None:
        scene = bpy.data.scenes.get(scene_name)
        if scene is None:
            names = ", ".join(s.name for s in bpy.data.scenes)
            return None, f"{blend}: no scene named '{scene_name}' (it has: {names})"
    if scene.camera is None:
        return None, f"{blend}: scene '{scene.name}' has no camera"
    return scene, None


def _progress_callback(report: Reporter):
    """-> (callback(done, total, message) for render_dataset, close()): progress events when JSON
    was asked for, else a tqdm bar for people."""
    if report.enabled:
        def progress(done: int, total: int, message: str) -> None:
            report.progress(done, total, f"{done}/{total} frames ({message})")

        return progress, lambda: None
    from tqdm import tqdm

    bar = tqdm(unit="frame", desc="render", dynamic_ncols=True)

    def progress(done: int, total: int, message: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message)
        bar.refresh()

    return progress, bar.close


def _render_locked(args: argparse.Namespace, blend: str, report: Reporter) -> int:
    from . import render_dataset

    scene, problem = _open_scene(blend, args.scene)
    if problem is not None:
        return _fail(report, problem, 2)
    progress, close = _progress_callback(report)
    try:
        summary = render_dataset(
            args.out, scene=scene, samples=args.samples, overwrite=args.overwrite, progress=progress,
            frames=tuple(args.frames) if args.frames else None, exr=args.exr, device=args.device,
            denoise=not args.no_denoise, max_points=args.max_points, passes=args.passes,
            track_points=args.track_points,
        )
    except (FileExistsError, ValueError, RuntimeError, OSError) as exc:
        close()
        out = os.path.abspath(args.out)
        where = getattr(exc, "filename", None) or out
        disk_full = isinstance(exc, (OSError, RuntimeError)) and is_disk_full(exc, where)
        return _fail(report, describe_write_error(exc, out) if disk_full else str(exc), 1)
    except KeyboardInterrupt:
        close()
        out = os.path.abspath(args.out)
        print(f"render: interrupted; finished frames were kept in {out} "
              "(run the same command again to resume)", file=sys.stderr)
        report.result(status="cancelled", out_dir=out)
        return interrupt.exit_code()
    close()
    t = summary["timings_s"]
    report.result(status="finished", out_dir=summary["out_dir"], frames_done=summary["frames_done"],
                  frames_total=summary["frames_total"], points=summary["points"], device=summary["device"],
                  timings_s=t)
    # with JSON on stdout, the line for people goes to stderr
    print(f"render: {summary['frames_done']}/{summary['frames_total']} frames in {summary['out_dir']} "
          f"({summary['points']} points; RGB {t['render_rgb']:.1f} s, ground truth {t['render_gt']:.1f} s, "
          f"writing {t['write_gt']:.1f} s, finishing {t['finalize']:.1f} s; device {summary['device']})",
          file=sys.stderr if report.enabled else sys.stdout)
    return 0
