"""``python -m blender_gs_addon <subcommand>``."""
import sys

from .cli import main

sys.exit(main(prog="python -m " + (__package__ or "blender_gs_addon")))
