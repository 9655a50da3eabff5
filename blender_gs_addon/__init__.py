"""Gaussian Scenes: procedural natural scenes, ground-truth datasets and 3D Gaussian splats.

This package is the Blender extension (``register``/``unregister``) and also a plain
Python package: its bpy-free parts (``splats``, ``trainer``, ``cli``) import without
Blender, so ``python -m blender_gs_addon ...`` and the background trainer run anywhere.
bpy is imported only inside the functions below.

It imports ``procgen`` (scenes, datasets, and the shared file and process helpers in
``procgen.core``) and ``cuda_ext`` (the rasterizer) by their own names: in a source checkout
they are top-level packages beside this folder. ``python build.py package`` puts them inside
the add-on folder of the extension zip and makes those imports relative there, so the
installed extension takes no generic top-level name in Blender's shared site-packages.
"""
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
