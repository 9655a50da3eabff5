"""The child process of one batch task: ``python -m blender_gs_addon.batch.child generate ...``.

It runs the ``generate`` command in this process (Blender as the bpy module). Inside the
Blender binary the driver starts ``blender -b -c gs generate ...`` instead. Tests can make a
child crash or hang on purpose (``faults``); without those switches ``faults.inject`` does nothing.
"""
from __future__ import annotations

import sys

from . import faults


def main(argv: list[str]) -> int:
    faults.inject(argv)
    from ..cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
