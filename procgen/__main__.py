"""``python -m procgen <generate|render|gallery> ...``: procgen's commands without the add-on.

The add-on offers the same commands in its own command line (``gs generate ...``, ``blender -b -c gs generate ...``).
"""
import sys

from . import SUBCOMMANDS
from .core.commands import build_parser, run_command

PROG = "python -m procgen"
parser, modules = build_parser(PROG, "Procedural natural scenes and their ground-truth datasets.", SUBCOMMANDS)
sys.exit(run_command(sys.argv[1:], parser, modules, PROG))
