"""Ground-truth dataset renderer: any Blender scene with an animated camera -> dataset folder.

``render_dataset`` is the public entry point (bpy is imported only when it is called).
"""
from __future__ import annotations

import os

from ..core import atomic, staged_output
from .layout import MANIFEST, is_dataset_file


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
        if not overwrite and not kwargs.get("restart_stage"):
            refuse_foreign_files(out_dir)
        mark_as_dataset(out_dir)
        return render_into(out_dir, **kwargs)
    summary = render_into(staged_output.stage_dir(out_dir), restart_stage=True, **kwargs)
    if summary["complete"]:
        staged_output.commit(out_dir, is_dataset_file)
        summary["out_dir"] = out_dir
    return summary


# written before the first frame, so that a render killed inside it is known as ours (the progress
# manifest comes only with the first finished frame)
DATASET_MARK = ".gs-dataset"


def holds_dataset(out_dir: str) -> bool:
    """Whether a render of ours began in ``out_dir``, or another dataset (transforms.json) is there."""
    return any(os.path.exists(os.path.join(out_dir, name)) for name in (DATASET_MARK, MANIFEST, "transforms.json"))


def mark_as_dataset(out_dir: str) -> None:
    if not os.path.exists(os.path.join(out_dir, DATASET_MARK)):
        os.makedirs(out_dir, exist_ok=True)
        atomic.write_text(os.path.join(out_dir, DATASET_MARK), "a dataset rendered by procgen\n")


def refuse_foreign_files(out_dir: str) -> None:
    """FileExistsError where ``out_dir`` holds files of a dataset's names (images/00001.png, ...) but
    no dataset of ours began there (no progress manifest, no transforms.json): a user's photos, say."""
    if holds_dataset(out_dir):
        return  # a dataset: resumed, or refused by the renderer's own rule
    theirs = staged_output.product_files(out_dir, is_dataset_file)
    if theirs:
        raise FileExistsError(f"{out_dir} holds files the renderer did not write ({', '.join(theirs[:3])}"
                              f"{' ...' if len(theirs) > 3 else ''}); use --overwrite to replace them")


__all__ = ["render_dataset"]
