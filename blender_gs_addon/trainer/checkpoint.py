"""Atomic training checkpoints: parameters, optimiser moments, statistics, RNG states, iteration.

A checkpoint is written to a temporary name and renamed, so a crash never leaves a half file.
A run keeps the newest two of the checkpoints it wrote itself (in the order it wrote them):
the one just written is never removed, and neither is a checkpoint of another run.
A full disk is reported as such, with the path (torch's own message says neither).
"""
from __future__ import annotations

import glob
import os
import re

import torch

from procgen.core.atomic import atomic_path
from procgen.core.disk import free_bytes, is_disk_full

_NAME = "ckpt_{:07d}.pt"
_PATTERN = re.compile(r"ckpt_(\d{7})\.pt$")


class OutputWriteError(RuntimeError):
    """A result or checkpoint could not be written; the message names the path and the cause."""


def write_error(exc: BaseException, path: str) -> OutputWriteError:
    """One line for a failed write of ``path``: "no space left on device" when that is the cause."""
    if is_disk_full(exc, path):
        free = free_bytes(path)  # measured after the partial file was removed
        shown = "" if free is None else f" ({free / 1e6:.1f} MB free without the partial file)"
        return OutputWriteError(f"{path}: cannot write: no space left on device{shown}")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputWriteError(f"{path}: cannot write: {reason}")


def checkpoint_dir(out_dir: str) -> str:
    return os.path.join(out_dir, "checkpoints")


def checkpoint_iteration(path: str) -> int:
    return int(_PATTERN.search(path).group(1))


def list_checkpoints(out_dir: str) -> list[str]:
    """Checkpoint paths, lowest iteration first."""
    paths = [p for p in glob.glob(os.path.join(checkpoint_dir(out_dir), "ckpt_*.pt")) if _PATTERN.search(p)]
    return sorted(paths, key=checkpoint_iteration)


def latest_checkpoint(out_dir: str) -> str | None:
    paths = list_checkpoints(out_dir)
    return paths[-1] if paths else None


class _Writer:
    """A file object for torch.save that keeps the OSError torch turns into an opaque RuntimeError."""

    def __init__(self, fh):
        self.fh = fh
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.fh.flush()


def _save(state: dict, path: str) -> None:
    writer = None
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            writer = _Writer(fh)
            torch.save(state, writer)
    except (OSError, RuntimeError) as exc:
        raise write_error(writer.error if writer is not None and writer.error else exc, path) from None


def save_checkpoint(out_dir: str, state: dict, keep: int = 2, written: list[str] | None = None) -> str:
    """Write ``state`` (must hold 'iteration') atomically and return its path.

    ``written``: this run's earlier checkpoints, oldest first; the new path is appended and all
    but the last ``keep`` of the list are deleted. Without it nothing is deleted.
    """
    d = checkpoint_dir(out_dir)
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, d) from None
    path = os.path.join(d, _NAME.format(int(state["iteration"])))
    _save(state, path)
    if written is not None:
        if path in written:  # the same iteration saved again (a stop right after a periodic save)
            written.remove(path)
        written.append(path)
        for old in written[:-keep]:
            try:
                os.remove(old)
            except OSError:
                pass
        del written[:-keep]
    return path


def load_checkpoint(path: str) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a damaged file: say which one
        raise RuntimeError(f"{path}: cannot read checkpoint ({exc})") from None
