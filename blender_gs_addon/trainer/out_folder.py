"""The output folder of ``train``: one writer at a time, nothing replaced without ``--overwrite``.

Importing it needs no torch (``is_training_folder`` is asked before torch loads).

``train_in_folder`` holds the folder lock for the whole run. A folder that already holds a
training run's output is refused unless the run continues it (``--resume``) or replaces it
(``--overwrite``). ``--overwrite`` trains in a staging folder beside the old output and swaps
the trainer's files in only when the new run has ended, so a run stopped or killed on the way
leaves the old output whole; files that the trainer did not write are never touched.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys

from procgen.core.folder_lock import FolderLock
from procgen.core.staged_output import commit, finish_commit, product_files, stage_dir

_CHECKPOINT = re.compile(r"ckpt_\d{7}\.pt")
_TOP_FILES = {"metrics.json", "curves.png", "point_cloud.bin"}  # .bin: the buffer of point_cloud.gltf


class OutputExistsError(RuntimeError):
    """The output folder holds results that this run would replace; the message says what to pass."""


def is_trainer_file(rel: str) -> bool:
    """True for the files a training run writes, as paths relative to --out with '/' separators."""
    from ..splats.io import extensions

    parts = rel.split("/")
    if len(parts) == 1:
        name = parts[0]
        return name in _TOP_FILES or any(name == f"point_cloud{ext}" for ext in extensions())
    if len(parts) == 2 and parts[0] == "renders":
        return parts[1].endswith(".png")
    return len(parts) == 2 and parts[0] == "checkpoints" and bool(_CHECKPOINT.fullmatch(parts[1]))


def is_training_folder(folder: str) -> bool:
    """Whether ``folder`` holds a training run's output (resumed or refused by ``check_replacing``)."""
    return bool(product_files(folder, is_trainer_file))


def _summary(out: str, existing: list[str]) -> str:
    from .checkpoint import checkpoint_iteration, latest_checkpoint  # torch: imported once training is asked for

    shown = [f for f in ("point_cloud.ply", "metrics.json") if f in existing]
    ckpt = latest_checkpoint(out)
    if ckpt is not None:
        shown.append(f"a checkpoint at iteration {checkpoint_iteration(ckpt)}")
    return ", ".join(shown) or f"{len(existing)} files of a training run"


def check_replacing(out: str, existing: list[str], resume: bool) -> None:
    """Refuse to replace an earlier run's output, unless continuing it (resume with a checkpoint)."""
    from .checkpoint import latest_checkpoint

    if not existing:
        return
    if resume and latest_checkpoint(out) is not None:
        return
    if resume:
        raise OutputExistsError(f"{out} holds {_summary(out, existing)} but no checkpoint to resume from; "
                                "use --overwrite to replace them")
    raise OutputExistsError(f"{out} already holds the output of a training run ({_summary(out, existing)}); "
                            "use --resume to continue it or --overwrite to replace it (other files are kept)")


def train_in_folder(cfg, overwrite: bool = False, strategy=None) -> dict:
    """Run ``train(cfg)`` under the folder lock of ``cfg.out``; see the module's note. Returns the metrics."""
    from .train import train

    out = os.path.abspath(cfg.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputExistsError(f"{out} exists and is not a folder")
    with FolderLock(out, "train"):
        if finish_commit(out, is_trainer_file):
            print(f"train: finished the replacement that an interrupted --overwrite run began in {out}",
                  file=sys.stderr)
        existing = product_files(out, is_trainer_file)
        if overwrite and (existing or os.path.isdir(stage_dir(out))):
            return _train_staged(cfg, out, strategy)
        check_replacing(out, existing, cfg.resume)
        if os.path.isdir(stage_dir(out)):
            print(f"train: note: {stage_dir(out)} holds an unfinished --overwrite run; "
                  "--overwrite --resume continues it", file=sys.stderr)
        return train(dataclasses.replace(cfg, out=out), strategy)


def _train_staged(cfg, out: str, strategy) -> dict:
    from .train import train

    stage = stage_dir(out)
    if not cfg.resume and os.path.isdir(stage):
        shutil.rmtree(stage)  # an earlier, unfinished --overwrite run: only the trainer writes there
    metrics = train(dataclasses.replace(cfg, out=stage, final_out=out), strategy)
    if metrics["status"] == "cancelled":
        print(f"train: the old output in {out} is unchanged; --overwrite --resume continues the new run",
              file=sys.stderr)
        return metrics
    commit(out, is_trainer_file)
    return metrics
