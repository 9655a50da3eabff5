"""``gs edit IN [IN ...] --out OUT ACTIONS...``: merge splat files, apply actions in the order given, write one file.

The actions take splat-transform's option names and meanings (see docs/splat-formats.md), so a
command line moves between the two tools: coordinates are splat-transform's (the file's x and y
negated) unless ``--file-axes``. Formats follow the suffixes of ``splats.io.FORMATS``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

from procgen.core.disk import describe_write_error
from procgen.core.output_paths import OutputPathError, check_file

from . import edit
from . import io as splat_io
from .data import SplatData


def _numbers(text: str, count: int, blank: tuple[float, ...] | None = None) -> list[float]:
    """``count`` comma-separated finite numbers; where ``blank`` is given, an empty part or '-' takes its value."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != count:
        raise ValueError(f"expected {count} comma-separated numbers, got {len(parts)}")
    out = []
    for i, p in enumerate(parts):
        if blank is not None and p in ("", "-"):
            out.append(blank[i])
            continue
        value = float(p)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{p!r} is not a finite number")
        out.append(value)
    return out


def _value_filter(text: str) -> tuple[str, str, float]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise ValueError("expected name,cmp,value")
    name, cmp, value = parts
    if cmp not in edit.COMPARATORS:
        raise ValueError(f"unknown comparison {cmp!r}; use one of {', '.join(edit.COMPARATORS)}")
    return name, cmp, _numbers(value, 1)[0]


def _positive(text: str) -> float:
    value = _numbers(text, 1)[0]
    if value <= 0:
        raise ValueError("the factor must be > 0")
    return value


def _degree(text: str) -> int:
    if text.strip() not in ("0", "1", "2", "3"):
        raise ValueError("the SH degree must be 0, 1, 2 or 3")
    return int(text)


def _decimate(text: str) -> str:
    edit.decimate_count(0, text)  # checks the form only
    return text.strip()


UNBOUNDED = (-float("inf"),) * 3 + (float("inf"),) * 3
# option -> (metavar, parser of its value or None for a flag, help, step(data, value, frame) -> data)
ACTIONS = {
    "--translate": ("x,y,z", lambda t: _numbers(t, 3), "move every splat by (x, y, z)",
                    lambda d, v, f: edit.translate(d, v, f)),
    "--rotate": ("x,y,z", lambda t: _numbers(t, 3),
                 "rotate about the origin by Euler angles in degrees: about x, then y, then z (fixed axes); "
                 "SH colour turns with the splats", lambda d, v, f: edit.rotate(d, v, f)),
    "--scale": ("f", _positive, "scale uniformly about the origin by f (> 0)", lambda d, v, f: edit.scale(d, v)),
    "--filter-nan": (None, None, "remove splats with NaN or infinite values (opacity +inf and scale -inf "
                                 "allowed) or a zero rotation", lambda d, v, f: edit.keep(d, edit.finite_mask(d))),
    "--filter-value": ("name,cmp,value", _value_filter,
                       "keep splats where name cmp value (cmp: lt, lte, gt, gte, eq, neq); opacity, scale_0..2, "
                       "scale_max and f_dc_0..2 are activated (0..1 opacity, linear scale, colour); name_raw, "
                       "and any other column of the file, compares the stored value",
                       lambda d, v, f: edit.keep(d, edit.value_mask(d, *v, frame=f))),
    "--filter-box": ("x,y,z,X,Y,Z", lambda t: _numbers(t, 6, UNBOUNDED),
                     "keep splats whose centre lies in the box from (x,y,z) to (X,Y,Z), faces included; "
                     "an empty or '-' bound is unbounded",
                     lambda d, v, f: edit.keep(d, edit.box_mask(d, v[:3], v[3:], f))),
    "--filter-sphere": ("x,y,z,r", lambda t: _numbers(t, 4),
                        "keep splats whose centre lies closer than r to (x, y, z)",
                        lambda d, v, f: edit.keep(d, edit.sphere_mask(d, v[:3], v[3], f))),
    "--filter-harmonics": ("n", _degree, "drop the SH bands above degree n (0..3)",
                           lambda d, v, f: edit.reduce_sh(d, v)),
    "--decimate": ("n|n%", _decimate,
                   "keep the n (or n%% of the) most important splats: opacity x the two largest scales "
                   "(the splat's face-on footprint); the count is splat-transform's, the choice is not "
                   "(it merges neighbours)", lambda d, v, f: edit.decimate(d, edit.decimate_count(len(d), v))),
}


class _InOrder(argparse.Action):
    """Appends (option, text, parsed value) to ``namespace.actions``, so actions keep the command line's order."""

    def __init__(self, option_strings, dest, parse=None, **kwargs):
        self.parse = parse
        super().__init__(option_strings, "actions", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            value = self.parse(values) if self.parse else None
        except (ValueError, edit.EditError) as exc:
            raise argparse.ArgumentError(self, f"{values!r}: {exc}") from None
        namespace.actions = [*(getattr(namespace, "actions", None) or []), (option_string, values or "", value)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="IN",
                        help="splat files, merged in order (any of " + ", ".join(splat_io.extensions()) + ")")
    parser.add_argument("--out", required=True, metavar="OUT", help="file to write; its suffix picks the format")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--allow-empty", action="store_true",
                        help="write OUT even when the actions remove every splat (refused otherwise)")
    parser.add_argument("--file-axes", action="store_true",
                        help="read coordinates in the file's own axes (as Blender shows an imported file), "
                             "not splat-transform's (the file's x and y negated)")
    group = parser.add_argument_group("actions", "applied in the order given; each may repeat")
    for option, (metavar, parse, help_text, _) in ACTIONS.items():
        if parse is None:
            group.add_argument(option, action=_InOrder, nargs=0, help=help_text)
        else:
            group.add_argument(option, action=_InOrder, parse=parse, metavar=metavar, help=help_text)
    parser.set_defaults(actions=[])


def read_input(path: str) -> SplatData:
    """A splat file as it is: a 3DGS .ply may hold NaN and infinite values (for --filter-nan to remove)."""
    fmt = splat_io.format_for(path)
    if fmt.suffix == ".ply":
        from .ply import read_ply

        return read_ply(path, finite=False)
    return fmt.read(path)


def _fail(message: str, code: int = 1) -> int:
    print(f"edit: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from .data import SplatValueWarning
    from .errors import SplatFormatError
    from .transform import TransformError

    for path in args.inputs:
        if not os.path.isfile(path):
            return _fail(f"{path}: no such file", 2)
    try:
        out = check_file(args.out, overwrite=args.overwrite)
    except OutputPathError as exc:
        return _fail(str(exc), 2)
    if splat_io.find_format(out) is None:
        return _fail(f"--out {args.out}: the extension must be one of {', '.join(splat_io.extensions())}", 2)
    t0 = time.perf_counter()
    try:
        parts = [read_input(p) for p in args.inputs]
    except SplatFormatError as exc:
        return _fail(str(exc))
    data = edit.merge(parts)
    where = ", ".join(args.inputs)
    print(f"edit: {len(data):,} splats from {where}")
    frame = None if args.file_axes else edit.SPLAT_TRANSFORM_FRAME
    emptied_by = None
    for option, text, value in args.actions:
        label, before = f"{option} {text}".strip(), len(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # NaN splats (before --filter-nan) stay NaN
                data = ACTIONS[option][3](data, value, frame)
        except (edit.EditError, TransformError) as exc:
            return _fail(f"{where}: {label}: {exc}", 2)
        if before and not len(data):
            emptied_by = label
        print(f"edit: {label}: {len(data):,} of {before:,} splats kept")
    if not len(data) and not args.allow_empty:
        return _fail(f"{where}: {emptied_by} removes every splat; nothing written (--allow-empty writes "
                     "an empty file)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SplatValueWarning)
            splat_io.write_splats(out, data)
    except OSError as exc:
        return _fail(describe_write_error(exc, out))
    except SplatFormatError as exc:
        return _fail(str(exc))
    for warning in caught:
        print(f"edit: warning: {out}: {warning.message}", file=sys.stderr)
    print(f"edit: {len(data):,} splats (SH degree {data.sh_degree}) in {time.perf_counter() - t0:.2f} s -> {out}")
    return 0
