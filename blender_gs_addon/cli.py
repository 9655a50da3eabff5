"""Command line of the extension: one parser, one implementation per subcommand.

The same ``main(argv)`` serves ``python -m blender_gs_addon <cmd>`` and
``blender -b -c gs <cmd>``. Each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports (bpy, torch)
happen inside ``run`` so that ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# name -> (module, package-relative?, one-line help)
SUBCOMMANDS: dict[str, tuple[str, bool, str]] = {
    "generate": ("procgen.generate_cli", False, "generate a procedural scene from a seed and render its dataset"),
    "render": ("procgen.render.cli", False, "render the ground-truth dataset of an existing .blend scene"),
    "train": (".trainer.cli", True, "train Gaussian splats on a dataset"),
    "import": (".blender.cli_import", True, "import a splat file (.ply/.splat) into a .blend"),
    "export": (".blender.cli_export", True, "export a splat object of a .blend to .ply/.splat"),
    "demo": (".demo", True, "run the whole pipeline: generate, render, train, import, report"),
}

PROG = "gs"


def _load(name: str):
    """Import a subcommand's module, or return None when that part has not landed yet."""
    module, relative, _ = SUBCOMMANDS[name]
    target = module if not relative else __package__ + module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        # Only a missing subcommand module means "not available"; a missing
        # dependency inside it is a real error and must surface.
        missing = exc.name or ""
        if target == missing or target.startswith(missing + "."):
            return None
        raise


def build_parser(prog: str = PROG) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Gaussian Scenes: procedural scenes, ground-truth datasets and Gaussian splats.",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    modules: dict[str, object] = {}
    for name, (_, _, help_text) in SUBCOMMANDS.items():
        module = _load(name)
        modules[name] = module
        if module is None:
            sub.add_parser(name, help=help_text + " (not available yet)")
        else:
            p = sub.add_parser(name, help=help_text, description=help_text)
            module.add_arguments(p)
    return parser, modules


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Parse ``argv`` (without the program name) and run the subcommand; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, modules = build_parser(prog)
    if not argv:
        parser.print_help()
        return 2
    if argv[0] in modules and modules[argv[0]] is None:
        print(f"{prog} {argv[0]}: not available yet in this version.", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error; Blender must not exit from inside a CLI handler
        return int(exc.code or 0)
    module = modules[args.command]
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted; finished work was kept.", file=sys.stderr)
        return 130
