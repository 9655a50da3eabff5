"""``gs import SPLATS --out SCENE.blend``: a splat file (any format of ``splats.io``) into a .blend."""
from __future__ import annotations

import argparse
import errno
import os
import sys
import time
import warnings

from procgen.core.atomic import atomic_path
from procgen.core.disk import describe_write_error, is_disk_full
from procgen.core.output_paths import OutputPathError, check_file

from ..splats import io as splat_io


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("splats", metavar="SPLATS",
                        help="splat file to import; its suffix picks the format: " + ", ".join(splat_io.extensions()))
    parser.add_argument("--out", required=True, metavar="SCENE.blend",
                        help="the .blend to write; an existing one is opened and the splats added to it")
    parser.add_argument("--name", default=None, help="object name (default: the file name)")
    parser.add_argument("--no-material", action="store_true", help="do not add the splat display material")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SEEKABLE_FOOTER = b"\xb1\xea\x92\x8f"  # ends a zstd-compressed .blend (its seek table)


def check_blend_complete(path: str) -> None:
    """Raise OSError when a just-saved .blend is cut short: Blender 5.2 can report a save onto a
    full disk as done and leave a truncated file. An uncompressed .blend ends with its ENDB
    block, a compressed one with the seek table's footer."""
    with open(path, "rb") as f:
        head = f.read(7)
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64))
        tail = f.read()
    if head.startswith(b"BLENDER"):
        complete = b"ENDB" in tail
    elif head.startswith(ZSTD_MAGIC):
        complete = tail.endswith(SEEKABLE_FOOTER)
    else:  # another compression: not checked
        complete = True
    if not complete:
        raise OSError(errno.EIO, "the saved file is incomplete (Blender reported no error)", path)


def _save_error(exc: BaseException, out: str) -> str:
    return f"{out}: cannot save ({_first_line(exc)})"


def run(args: argparse.Namespace) -> int:
    import bpy

    from ..splats import SplatFormatError
    from ..splats.data import SplatValueWarning
    from .ops_io import import_file

    if os.path.isdir(args.splats):
        print(f"import: {os.path.abspath(args.splats)}: is a folder; give one splat file "
              f"({', '.join(splat_io.extensions())})", file=sys.stderr)
        return 2
    if not os.path.isfile(args.splats):
        print(f"import: {args.splats}: no such file", file=sys.stderr)
        return 2
    try:
        out = check_file(args.out)  # an existing .blend is opened and added to, not replaced
    except OutputPathError as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 2
    if not out.lower().endswith(".blend"):
        print(f"import: --out {args.out}: must be a .blend file", file=sys.stderr)
        return 2
    if os.path.exists(out):
        try:
            bpy.ops.wm.open_mainfile(filepath=out)
        except RuntimeError as exc:
            print(f"import: --out {out}: cannot open it as a .blend ({_first_line(exc)})", file=sys.stderr)
            return 2
    else:
        bpy.ops.wm.read_homefile(use_empty=True)  # keeps the preferences (and this add-on) loaded
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SplatValueWarning)
            obj, count, degree = import_file(bpy.context, args.splats, material=not args.no_material)
    except (SplatFormatError, OSError) as exc:
        print(f"import: {exc}", file=sys.stderr)
        return 1
    for warning in caught:
        print(f"import: warning: {args.splats}: {warning.message}", file=sys.stderr)
    if args.name:
        from .splat_objects import rename_splats

        rename_splats(obj, args.name)
    seconds = time.perf_counter() - t0
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with atomic_path(out, suffix=".blend") as tmp:
            bpy.ops.wm.save_as_mainfile(filepath=tmp, copy=True, check_existing=False)
            check_blend_complete(tmp)
    except (OSError, RuntimeError) as exc:
        print(f"import: {describe_write_error(exc, out) if is_disk_full(exc, out) else _save_error(exc, out)}",
              file=sys.stderr)
        return 1
    print(f"import: {count:,} splats (SH degree {degree}) as object '{obj.name}' in {seconds:.2f} s "
          f"-> {out}")
    return 0
