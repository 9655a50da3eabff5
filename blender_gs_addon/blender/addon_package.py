"""The add-on's package: its name (the preferences key), its folder, and its preferences."""
from __future__ import annotations

ADDON_PACKAGE: str = "blender_gs_addon"  # set by register(); the preferences bl_idname


def preferences():
    """The add-on preferences, or None when the add-on is not registered as an add-on."""
    import bpy

    addon = bpy.context.preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon is not None else None


def top_package_dir() -> str:
    """Folder of the top add-on package (the parent of this ``blender`` package)."""
    import os

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
