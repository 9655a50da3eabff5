"""The progress protocol of background jobs (rendering a dataset, training), writer side.

A child asked for it (its `--progress-json` flag, or the environment variable
`GS_PROGRESS_JSON=1`) writes one JSON object per line on stdout, every one with an `event`
and a `stage` (the subcommand: "render", "train"):

    {"event": "progress", "stage": "train", "done": 120, "total": 7000, "message": "iteration 120/7000, ..."}
    {"event": "result", "stage": "train", ...what the job produced}
    {"event": "error", "stage": "train", "message": "what went wrong"}

`done`/`total` count the stage's units (frames, iterations); `message` is a line for people.
A stage may add its own keys. The trainer's progress events carry `loss` (its running mean),
`psnr` (of the training view) and `gaussians`; after a periodic held-out evaluation
(`train --preview-every N`) one more progress event carries `test_psnr` (the mean PSNR of the
held-out views, dB) and `preview` (the absolute path of a PNG render of the first held-out
view, replaced atomically each time), which the add-on's Train panel charts and shows:

    {"event": "progress", "stage": "train", "done": 200, "total": 7000, "message": "...",
     "test_psnr": 21.7, "preview": "/runs/a/renders/live_preview.png"}

Without the flag the child draws a tqdm bar for people instead. The add-on's reader is
`blender.jobs.read_event`; `blender.jobs.LiveTraining` collects the trainer's curves.
No bpy and no torch here: every child imports this module.
"""
from __future__ import annotations

import json
import os
import sys
from typing import TextIO

ENV = "GS_PROGRESS_JSON"
EVENTS = ("progress", "result", "error")
# keys of the trainer's progress events that the add-on charts (see above)
LOSS, TEST_PSNR, PREVIEW = "loss", "test_psnr", "preview"


def requested(flag: bool = False) -> bool:
    """Whether JSON progress is wanted: the command's flag, or GS_PROGRESS_JSON set to anything but 0."""
    return flag or os.environ.get(ENV, "0").strip() not in ("", "0")


class Reporter:
    """Writes one stage's events; does nothing when not enabled (people get a bar instead)."""

    def __init__(self, stage: str, enabled: bool = True, stream: TextIO | None = None):
        self.stage = stage
        self.enabled = enabled
        self._stream = stream

    def _write(self, event: str, fields: dict) -> None:
        if not self.enabled:
            return
        stream = self._stream or sys.stdout  # looked up late: tests and tools swap sys.stdout
        stream.write(json.dumps({"event": event, "stage": self.stage, **fields}) + "\n")
        stream.flush()

    def progress(self, done: int, total: int, message: str = "", **extra) -> None:
        self._write("progress", {"done": int(done), "total": int(total), "message": message, **extra})

    def result(self, **fields) -> None:
        self._write("result", fields)

    def error(self, message: str) -> None:
        self._write("error", {"message": message})
