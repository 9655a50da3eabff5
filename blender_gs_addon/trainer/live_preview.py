"""What a watcher of a training run sees (`train --preview-every N`): after each periodic held-out
evaluation, a render of the first held-out view (`renders/live_preview.png`, replaced atomically)
and one progress event with the held-out PSNR and that file's path (procgen.core.jobs_protocol)."""
from __future__ import annotations

import os

import numpy as np
import torch

from procgen.core.atomic import write_bytes
from procgen.core.jobs_protocol import PREVIEW, TEST_PSNR
from procgen.render.png import encode_png

PREVIEW_FILE = "renders/live_preview.png"  # a trainer file (out_folder.is_trainer_file)


@torch.no_grad()
def report_held_out(trainer, iteration: int, evaluation: dict) -> None:
    """Write the preview of ``trainer``'s first held-out view and report it with the held-out PSNR."""
    from .train import render

    cfg = trainer.cfg
    rgb = render(trainer.model, trainer.test_views[0], cfg.sh_degree, trainer.fixed_bg, trainer.sky)[0]
    path = os.path.abspath(os.path.join(cfg.out, PREVIEW_FILE))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_bytes(path, encode_png((rgb.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)))
    psnr = evaluation["psnr"]
    trainer.reporter.progress(iteration, cfg.iterations, f"iteration {iteration}/{cfg.iterations}, held-out PSNR "
                              f"{psnr:.2f} dB", **{TEST_PSNR: psnr, PREVIEW: path})
