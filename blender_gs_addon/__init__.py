"""Gaussian Scenes: procedural natural scenes, ground-truth datasets and 3D Gaussian splats.

This package is the Blender extension (``register``/``unregister``) and also a plain
Python package: its bpy-free parts (``splats``, ``trainer``, ``cli``) import without
Blender, so ``python -m blender_gs_addon ...`` and the background trainer run anywhere.
bpy is imported only inside the functions below.

``procgen`` and ``cuda_ext`` are subpackages of this package: the extension zip carries them
inside it, so nothing takes a generic top-level name in Blender's shared site-packages. In a
source checkout they sit beside this folder, and the line below makes them subpackages too.
"""
import os as _os

if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "procgen")):
    __path__.append(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))  # noqa: F821

_cli_handle = None


def _run_cli(argv: list[str]) -> int:
    from .cli import main

    return main(argv, prog="blender -c gs")


def register() -> None:
    import bpy

    from . import blender

    global _cli_handle
    blender.register(__package__)
    # Headless jobs: ``blender -b -c gs <subcommand> ...`` (Blender 4.2+).
    _cli_handle = bpy.utils.register_cli_command("gs", _run_cli)


def unregister() -> None:
    import bpy

    from . import blender

    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    blender.unregister()
