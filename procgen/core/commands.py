"""One command line made of subcommand modules, for ``python -m procgen`` and the add-on's ``gs``.

Each subcommand is a module exposing ``add_arguments(parser)`` and ``run(args) -> int``; heavy
imports (bpy, torch) happen inside ``run``, so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from . import interrupt
from .child_process import tie_to_parent

Subcommands = dict[str, tuple[str, str]]  # name -> (absolute module name, one-line help)


def build_parser(prog: str, description: str, subcommands: Subcommands) -> tuple[argparse.ArgumentParser, dict]:
    """The parser with one sub-parser per subcommand, and the subcommand modules by name."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    modules: dict[str, object] = {}
    for name, (module_name, help_text) in subcommands.items():
        modules[name] = importlib.import_module(module_name)
        modules[name].add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser, modules


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
    try:
        return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted; finished work was kept.", file=sys.stderr)
        return interrupt.exit_code()
