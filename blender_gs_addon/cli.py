"""Command line of the extension: one parser, one implementation per subcommand.

The same ``main(argv)`` serves ``python -m blender_gs_addon <cmd>`` and
``blender -b -c gs <cmd>``. Each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports (bpy, torch)
happen inside ``run`` so that ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

import procgen
from procgen.core import commands
from procgen.core.commands import Subcommands

# name -> (module, one-line help): procgen's commands (generate, render, gallery), then the add-on's
SUBCOMMANDS: Subcommands = {
    **procgen.SUBCOMMANDS,
    "train": (f"{__package__}.trainer.cli", "train Gaussian splats on a dataset"),
    "import": (f"{__package__}.blender.cli_import", "import a splat file (.ply, .splat, .glb, ...) into a .blend"),
    "export": (f"{__package__}.blender.cli_export", "export a splat object of a .blend to .ply, .splat, .glb, ..."),
    "edit": (f"{__package__}.splats.edit_cli",
             "merge splat files and transform, filter, crop, reduce SH or decimate them, in the order given"),
    "demo": (f"{__package__}.demo", "run the whole pipeline: generate, render, train, import, report"),
    "batch": (f"{__package__}.batch.cli",
              "generate many seeds on a local pool, Ray or Slurm; resumable, one process per seed"),
}

PROG = "gs"
DESCRIPTION = "Gaussian Scenes: procedural scenes, ground-truth datasets and Gaussian splats."


def build_parser(prog: str = PROG) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    return commands.build_parser(prog, DESCRIPTION, SUBCOMMANDS)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Parse ``argv`` (without the program name) and run the subcommand; returns the exit code."""
    parser, modules = build_parser(prog)
    return commands.run_command(sys.argv[1:] if argv is None else argv, parser, modules, prog)
