"""``--overwrite`` without a moment of loss: build the new output beside the old, then swap.

The new output is written into ``DIR/.gs-overwrite/`` while the old one stays untouched, so a
run killed at any point leaves the complete old output (and a staging folder that the next
``--overwrite`` run resumes). Only when the new output is complete does ``commit`` move it in:
it first records the list of staged files in a journal, then removes the old output's files
that the new one does not replace, then renames each staged file into place. A commit cut
short is finished by the next run (``finish_commit``), which reads the same journal. Files
that the product did not write (``is_product`` says no) are never removed.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Callable

from .atomic import write_text

STAGE = ".gs-overwrite"
JOURNAL = ".gs-commit.json"

IsProduct = Callable[[str], bool]  # relative path with '/' separators -> written by the product?


def stage_dir(out_dir: str) -> str:
    return os.path.join(out_dir, STAGE)


def _files(root: str, skip_top: tuple[str, ...] = ()) -> list[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        if folder == root:
            dirs[:] = [d for d in dirs if d not in skip_top]
        rel_dir = os.path.relpath(folder, root)
        for name in files:
            out.append(name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}")
    return sorted(out)


def product_files(out_dir: str, is_product: IsProduct) -> list[str]:
    """Relative paths of the files in ``out_dir`` that the product wrote (the staging folder excluded)."""
    if not os.path.isdir(out_dir):
        return []
    return [rel for rel in _files(out_dir, skip_top=(STAGE,)) if is_product(rel)]


def commit(out_dir: str, is_product: IsProduct) -> None:
    """Replace the product files of ``out_dir`` by the staged ones; user files stay."""
    stage = stage_dir(out_dir)
    journal = os.path.join(stage, JOURNAL)
    if not os.path.exists(journal):
        write_text(journal, json.dumps([rel for rel in _files(stage) if rel != JOURNAL]))
    with open(journal, encoding="utf-8") as fh:
        staged = json.load(fh)
    new = set(staged)
    for rel in product_files(out_dir, is_product):
        if rel not in new:
            os.remove(os.path.join(out_dir, rel))
    for rel in staged:
        src = os.path.join(stage, rel)
        if os.path.exists(src):  # absent when an earlier, interrupted commit moved it already
            dst = os.path.join(out_dir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
    shutil.rmtree(stage)


def finish_commit(out_dir: str, is_product: IsProduct) -> bool:
    """Complete a commit that a killed run started; True if there was one."""
    if os.path.exists(os.path.join(stage_dir(out_dir), JOURNAL)):
        commit(out_dir, is_product)
        return True
    return False
