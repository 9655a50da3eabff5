"""The options of a subcommand's argparse parser as panel fields, and panel values back as argv (bpy-free).

The add-on's Generate, Render Dataset and Train panels are built from the parsers of `generate`,
`render` and `train` themselves, so a new command-line option becomes a panel field with no other
change: `options_of(name)` walks the parser's actions (type, choices, default, nargs, help) into
`Option`s; `argv_of(options, values)` turns the panel's values back into the child's argv, naming
only the options whose value differs from the command's default. An option that makes no sense
in a panel is named, with the reason, in `EXCLUDED`; `uncovered(name)` lists any other option
that has no field (a test asks it to be empty).
"""
from __future__ import annotations

import argparse
import struct
from dataclasses import dataclass, replace

from procgen.core import commands

# subcommand -> {dest: why the panel has no field for it}; "help" and "debug" hold for every command
COMMON_EXCLUDED = {
    "help": "argparse's usage text; the fields carry the same help as tooltips",
    "debug": "shows the Python stack of an unexpected error; the panel reports errors itself",
}
EXCLUDED = {
    "generate": {
        "out": "Generate builds the scene into the open file; Render Dataset writes it to the Dataset folder",
        "seeds": "one scene goes into the open file; several seeds are `generate` or `batch` work",
        "no_render": "Generate never renders in Blender: the Render Dataset panel does",
        "overwrite": "Generate writes nothing on disk",
        "device": "a rendering option: the Render Dataset panel's Device",
        "passes": "a rendering option: the Render Dataset panel's Passes",
        "track_points": "a rendering option: the Render Dataset panel's Track Points",
    },
    "render": {
        "blend": "the operator renders a saved copy of the open file",
        "out": "the panel's Dataset folder",
        "scene": "the operator renders the scene the panel belongs to",
        "progress_json": "the operator always asks for the progress protocol",
    },
    "train": {
        "dataset": "the panel's Dataset folder",
        "out": "the panel's Output folder",
        "resume": "the panel's Existing Output: Continue passes --resume",
        "overwrite": "the panel's Existing Output: Replace passes --overwrite",
        "progress_json": "the operator always asks for the progress protocol",
    },
}
PANEL_COMMANDS = tuple(EXCLUDED)
# where a panel starts from another value than the command: Generate runs in Blender's own process,
# so it starts tiny and always names its seed; Train shows its progress with a preview
PANEL_DEFAULTS = {"generate": {"preset": "tiny", "seed": 0}, "train": {"preview_every": 100}}
# labels that the option's name does not spell well ("--sh-degree" -> "Sh Degree")
LABELS = {"sh_degree": "SH Degree", "exr": "EXR Images", "no_denoise": "No Denoising", "max_points": "Max Points"}


@dataclass(frozen=True)
class Option:
    """One command-line option as a panel field."""

    dest: str  # the argparse dest: the property's name
    flag: str  # "--sh-degree"; "" for a positional argument
    kind: str  # "bool" (a store_true flag), "int", "float", "string", "enum" or "flags" (a set of names)
    default: object  # the command's default (None: not given)
    help: str
    choices: tuple[str, ...] = ()  # enum and flags items, as strings
    size: int = 1  # values after the flag (nargs=2: 2)
    minimum: float | None = None
    maximum: float | None = None
    panel_default: object = None  # what the panel starts from (the command's default unless PANEL_DEFAULTS)

    @property
    def label(self) -> str:
        if self.dest in LABELS:
            return LABELS[self.dest]
        return (self.flag or self.dest).lstrip("-").replace("-", " ").replace("_", " ").title()

    @property
    def optional(self) -> bool:
        """A value the command leaves unset by default (None): the panel shows a 'set' toggle (an
        enum an extra 'Default' item) and passes the option only when it is set."""
        return self.panel_default is None and self.kind != "bool"


def subcommand_parser(name: str) -> argparse.ArgumentParser:
    """The sub-parser of ``name`` exactly as the command line builds it (with --debug and --help)."""
    from .cli import SUBCOMMANDS

    parser, _ = commands.build_parser("gs", "", {name: SUBCOMMANDS[name]})
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _kind_and_bounds(action: argparse.Action) -> tuple[str, tuple[str, ...], float | None, float | None]:
    kind_of = getattr(action.type, "kind", action.type)  # cli_args' parsers carry their kind
    lo, hi = getattr(action.type, "minimum", None), getattr(action.type, "maximum", None)
    if action.choices is not None:
        return "enum", tuple(str(c) for c in action.choices), None, None
    if getattr(action.type, "flag_choices", None):
        return "flags", tuple(action.type.flag_choices), None, None
    if kind_of is int:
        return "int", (), lo, hi
    if kind_of is float:
        return "float", (), lo, hi
    return "string", (), None, None


def option_of(action: argparse.Action) -> Option | None:
    """The field of one argparse action; None for help (no value)."""
    if isinstance(action, argparse._HelpAction):
        return None
    flag = max(action.option_strings, key=len) if action.option_strings else ""
    if isinstance(action, argparse._StoreTrueAction):
        return Option(action.dest, flag, "bool", False, action.help or "", panel_default=False)
    kind, choices, lo, hi = _kind_and_bounds(action)
    size = action.nargs if isinstance(action.nargs, int) else 1  # "+" takes one value in a panel
    default = action.default
    if kind == "flags" and default is not None:
        default = tuple(default)
    if kind == "enum" and default is not None:
        default = str(default)
    return Option(action.dest, flag, kind, default, action.help or "", choices, size, lo, hi, default)


def all_options(name: str) -> list[Option]:
    """Every option of subcommand ``name``, excluded ones included, in the parser's order."""
    return [o for o in map(option_of, subcommand_parser(name)._actions) if o is not None]


def options_of(name: str) -> list[Option]:
    """The panel fields of subcommand ``name``: its options less the excluded ones."""
    excluded = {**COMMON_EXCLUDED, **EXCLUDED[name]}
    starts = PANEL_DEFAULTS.get(name, {})
    return [replace(o, panel_default=starts.get(o.dest, o.panel_default)) for o in all_options(name)
            if o.dest not in excluded]


def uncovered(name: str, fields: set[str]) -> list[str]:
    """The options of ``name`` that are neither among ``fields`` nor excluded (must be none)."""
    excluded = {**COMMON_EXCLUDED, **EXCLUDED[name]}
    actions = subcommand_parser(name)._actions
    return [a.option_strings[-1] if a.option_strings else a.dest for a in actions
            if a.dest not in excluded and a.dest not in fields]


def _text(option: Option, value) -> list[str]:
    if option.kind == "flags":
        chosen = [c for c in option.choices if c in set(value)]
        return [",".join(chosen) or "none"]
    if option.kind == "float":  # Blender keeps float32: 7 significant digits give its value back, not its noise
        return [repr(float(f"{float(v):.7g}")) for v in (value if option.size > 1 else [value])]
    return [str(v) for v in (value if option.size > 1 else [value])]


def _float32(v) -> float:
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def _same(option: Option, value, default) -> bool:
    if option.kind == "flags":
        return set(value) == set(default or ())
    if option.kind == "float" and default is not None:  # a panel's float32 against the parser's float64
        pairs = zip(value, default) if option.size > 1 else [(value, default)]
        return all(_float32(v) == _float32(d) for v, d in pairs)
    if option.size > 1 and default is not None:
        return tuple(value) == tuple(default)
    return value == default


def argv_of(options: list[Option], values: dict) -> list[str]:
    """argv for the options whose value differs from the command's default. ``values``: dest ->
    value (bool, int, float, str, a tuple of ``size`` numbers, a set of names), None for unset."""
    argv: list[str] = []
    for option in options:
        value = values.get(option.dest)
        if value is None or _same(option, value, option.default):
            continue
        if option.kind == "bool":
            argv.append(option.flag)
        else:
            argv += [option.flag, *_text(option, value)]
    return argv


def parse(name: str, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by the real parser of ``name`` (raises ValueError with argparse's message)."""
    parser = subcommand_parser(name)
    parser.exit_on_error = False
    try:
        return parser.parse_args(argv)
    except (argparse.ArgumentError, SystemExit) as exc:
        raise ValueError(f"{name}: {exc}") from None
