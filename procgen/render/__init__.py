"""Ground-truth dataset renderer: any Blender scene with an animated camera -> dataset folder.

``render_dataset`` is the public entry point (bpy is imported only when it is called).
"""
from __future__ import annotations


def render_dataset(out_dir, **kwargs) -> dict:
    """Render the dataset of a scene; see ``procgen.render.dataset.render_dataset``."""
    from .dataset import render_dataset as _render_dataset

    return _render_dataset(out_dir, **kwargs)


__all__ = ["render_dataset"]
