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

import procgen
from procgen.core import interrupt
from procgen.core.child_process import tie_to_parent

# name -> (package, module in it, one-line help); procgen's commands live in procgen, the rest here
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "generate": (procgen.__name__, "generate_cli", "generate a procedural scene from a seed and render its dataset"),
    "render": (procgen.__name__, "render.cli", "render the ground-truth dataset of an existing .blend scene"),
    "gallery": (procgen.__name__, "gallery",
                "render one frame of every biome for a few seeds into one labelled PNG sheet"),
    "train": (__package__, "trainer.cli", "train Gaussian splats on a dataset"),
    "import": (__package__, "blender.cli_import", "import a splat file (.ply, .splat, .glb, ...) into a .blend"),
    "export": (__package__, "blender.cli_export", "export a splat object of a .blend to .ply, .splat, .glb, ..."),
    "demo": (__package__, "demo", "run the whole pipeline: generate, render, train, import, report"),
    "batch": (__package__, "batch.cli",
              "generate many seeds on a local pool, Ray or Slurm; resumable, one process per seed"),
}

PROG = "gs"


def build_parser(prog: str = PROG) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Gaussian Scenes: procedural scenes, ground-truth datasets and Gaussian splats.",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    modules: dict[str, object] = {}
    for name, (package, module_name, help_text) in SUBCOMMANDS.items():
        modules[name] = importlib.import_module(f"{package}.{module_name}")
        modules[name].add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser, modules


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Parse ``argv`` (without the program name) and run the subcommand; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tie_to_parent()
    parser, modules = build_parser(prog)
    if not argv:
        parser.print_help()
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
        return interrupt.exit_code()
