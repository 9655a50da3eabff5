"""``render SCENE.blend --out DIR``: the ground-truth dataset of an existing scene.

bpy is imported inside ``run`` so that ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import os
import sys

from ...common import interrupt
from ...common.cli_args import count
from ...common.folder_lock import FolderLock, FolderLockedError


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


def run(args: argparse.Namespace) -> int:
    blend = os.path.abspath(args.blend)
    if not os.path.isfile(blend):
        print(f"render: {blend}: no such .blend file", file=sys.stderr)
        return 2
    if args.frames and args.frames[0] > args.frames[1]:
        print(f"render: --frames {args.frames[0]} {args.frames[1]}: the first frame comes after the last",
              file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        print(f"render: --out {out} exists and is not a folder", file=sys.stderr)
        return 2
    interrupt.install("render")
    try:
        with FolderLock(out, "render"):
            return _render_locked(args, blend)
    except FolderLockedError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 1


def _render_locked(args: argparse.Namespace, blend: str) -> int:
    import bpy
    from tqdm import tqdm

    from . import render_dataset

    try:
        bpy.ops.wm.open_mainfile(filepath=blend)
    except RuntimeError as exc:
        print(f"render: {blend}: cannot open ({exc})", file=sys.stderr)
        return 2
    scene = bpy.context.scene
    if args.scene is not None:
        scene = bpy.data.scenes.get(args.scene)
        if scene is None:
            names = ", ".join(s.name for s in bpy.data.scenes)
            print(f"render: {blend}: no scene named '{args.scene}' (it has: {names})", file=sys.stderr)
            return 2
    if scene.camera is None:
        print(f"render: {blend}: scene '{scene.name}' has no camera", file=sys.stderr)
        return 2

    bar = tqdm(unit="frame", desc="render", dynamic_ncols=True)

    def progress(done: int, total: int, message: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message)
        bar.refresh()

    try:
        summary = render_dataset(
            args.out, scene=scene, samples=args.samples, overwrite=args.overwrite, progress=progress,
            frames=tuple(args.frames) if args.frames else None, exr=args.exr, device=args.device,
            denoise=not args.no_denoise, max_points=args.max_points,
        )
    except (FileExistsError, ValueError, RuntimeError, OSError) as exc:
        bar.close()
        print(f"render: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        print(f"render: interrupted; finished frames were kept in {os.path.abspath(args.out)} "
              "(run the same command again to resume)", file=sys.stderr)
        return interrupt.exit_code()
    bar.close()
    t = summary["timings_s"]
    print(f"render: {summary['frames_done']}/{summary['frames_total']} frames in {summary['out_dir']} "
          f"({summary['points']} points; RGB {t['render_rgb']:.1f} s, ground truth {t['render_gt']:.1f} s, "
          f"writing {t['write_gt']:.1f} s, finishing {t['finalize']:.1f} s; device {summary['device']})")
    return 0
