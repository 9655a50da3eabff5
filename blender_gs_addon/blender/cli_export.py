"""``gs export SCENE.blend --object NAME --out FILE``: a splat object of a .blend to a splat file.

The format follows FILE's suffix: any of ``splats.io.FORMATS`` (.ply, .splat, .glb, .gltf, ...).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

from procgen.core.disk import describe_write_error
from procgen.core.output_paths import OutputPathError, check_file

from ..splats import io as splat_io


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("blend", metavar="SCENE.blend", help="the .blend holding the splat object")
    parser.add_argument("--object", required=True, metavar="NAME", help="name of the splat object to export")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="file to write; its suffix picks the format: " + ", ".join(splat_io.extensions()))
    parser.add_argument("--overwrite", action="store_true",
                        help="replace FILE if it exists (it is replaced only once the new file is complete)")
    parser.add_argument("--no-transform", action="store_true",
                        help="write the splats in object space (do not bake the object transform)")
    parser.add_argument("--no-sky", action="store_true",
                        help="leave out the trained sky (the object imported beside the scene's, "
                             "'<name> sky'); by default it is written after the scene's splats, marked")


def run(args: argparse.Namespace) -> int:
    import bpy

    from ..splats import SplatFormatError
    from ..splats.data import SplatValueWarning
    from ..splats.transform import TransformError
    from .splat_objects import SplatObjectError, write_from_object

    if not os.path.isfile(args.blend):
        print(f"export: {args.blend}: no such file", file=sys.stderr)
        return 2
    try:
        args.out = check_file(args.out, overwrite=args.overwrite)
    except OutputPathError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    if splat_io.find_format(args.out) is None:
        print(f"export: --out {args.out}: the extension must be one of {', '.join(splat_io.extensions())}",
              file=sys.stderr)
        return 2
    try:
        bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend))
    except RuntimeError as exc:
        print(f"export: {args.blend}: cannot open ({exc})", file=sys.stderr)
        return 2
    obj = bpy.data.objects.get(args.object)
    if obj is None:
        names = ", ".join(o.name for o in bpy.data.objects if o.type in ("POINTCLOUD", "MESH")) or "none"
        print(f"export: {args.blend}: no object named '{args.object}' (point clouds and meshes: {names})",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SplatValueWarning)
            count = write_from_object(obj, args.out, apply_transform=not args.no_transform, sky=not args.no_sky)
    except OSError as exc:
        print(f"export: {describe_write_error(exc, os.path.abspath(args.out))}", file=sys.stderr)
        return 1
    except (SplatFormatError, SplatObjectError, TransformError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    for warning in caught:
        print(f"export: warning: {args.out}: {warning.message}", file=sys.stderr)
    print(f"export: {count:,} splats of '{obj.name}' in {time.perf_counter() - t0:.2f} s -> {args.out}")
    return 0
