"""One command line made of subcommand modules, for ``python -m procgen`` and the add-on's ``gs``.

Each subcommand is a module exposing ``add_arguments(parser)`` and ``run(args) -> int``; heavy
imports (bpy, torch) happen inside ``run``, so ``--help`` stays fast. Every subcommand takes
``--debug``. An exception that reaches the top becomes one line that names its file or option
and says that ``--debug`` (or GS_DEBUG=1) shows the stack; an ``OutputPathError`` (a bad output
path, refused before work starts) exits 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Sequence

from . import interrupt
from .child_process import tie_to_parent
from .disk import describe_write_error
from .output_paths import OutputPathError

Subcommands = dict[str, tuple[str, str]]  # name -> (absolute module name, one-line help)


def build_parser(prog: str, description: str, subcommands: Subcommands) -> tuple[argparse.ArgumentParser, dict]:
    """The parser with one sub-parser per subcommand, and the subcommand modules by name."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    modules: dict[str, object] = {}
    for name, (module_name, help_text) in subcommands.items():
        modules[name] = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        modules[name].add_arguments(sub_parser)
        sub_parser.add_argument("--debug", action="store_true",
                                help="show the Python stack of an unexpected error (also GS_DEBUG=1)")
    return parser, modules


def describe_error(exc: BaseException) -> str:
    """One line for an unexpected error: its file where it names one, its kind, its first line."""
    if isinstance(exc, OSError) and (exc.filename or exc.errno):
        return describe_write_error(exc, exc.filename or os.getcwd())
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_command(argv: Sequence[str], parser: argparse.ArgumentParser, modules: dict, prog: str) -> int:
    """Parse ``argv`` (without the program name) and run the subcommand; returns the exit code."""
    argv = list(argv)
    tie_to_parent()
    if not argv:
        parser.print_help()
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error; Blender must not exit from inside a CLI handler
        return int(exc.code or 0)
    debug = bool(getattr(args, "debug", False) or os.environ.get("GS_DEBUG"))
    try:
        return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted; finished work was kept.", file=sys.stderr)
        return interrupt.exit_code()
    except OutputPathError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the one place where any error becomes one line
        if interrupt.received():  # C code can turn the signal's KeyboardInterrupt into another error
            print(f"{prog} {args.command}: interrupted; finished work was kept.", file=sys.stderr)
            return interrupt.exit_code()
        if debug:
            traceback.print_exc()
        print(f"{args.command}: {describe_error(exc)} (run with --debug to see the stack)", file=sys.stderr)
        return 1
