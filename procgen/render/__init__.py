"""Ground-truth dataset renderer: any Blender scene with an animated camera -> dataset folder.

``render_dataset`` is the public entry point (bpy is imported only when it is called).
"""
from __future__ import annotations

import os

from ..core import staged_output
from .layout import is_dataset_file


def render_dataset(out_dir, *, overwrite: bool = False, **kwargs) -> dict:
    """Render the dataset of a scene into ``out_dir``; see ``dataset.render_dataset`` for the options.

    ``overwrite`` replaces an existing dataset without a moment of loss: the new one is rendered
    into ``out_dir/.gs-overwrite/`` (resumed there after an interruption) and moved into place only
    when complete. Files in ``out_dir`` that the renderer did not write are kept.
    """
    from .dataset import render_dataset as render_into

    out_dir = os.path.abspath(os.fspath(out_dir))
    staged_output.finish_commit(out_dir, is_dataset_file)
    if not (overwrite and staged_output.product_files(out_dir, is_dataset_file)):
        return render_into(out_dir, **kwargs)
    summary = render_into(staged_output.stage_dir(out_dir), restart_stage=True, **kwargs)
    if summary["complete"]:
        staged_output.commit(out_dir, is_dataset_file)
        summary["out_dir"] = out_dir
    return summary


__all__ = ["render_dataset"]
