"""Densification strategies: when and how the set of Gaussians changes during training.

The training loop calls a strategy's hooks at three points of every iteration:

    render -> step_pre_backward -> loss.backward() -> step_post_backward
           -> optimiser step -> step_post_optimizer

Statistics are read after the backward pass (they need the gradients); rows are added and
removed only after the optimiser step, which must see gradients with the old row count. A
strategy owns its statistics and random generator and checkpoints both; it edits the
parameters only through the optimiser (`Adam.append_rows`, `keep_rows`, `reset_param`), so
every row keeps its moments. The optimiser's parameter dict is the model's, so the model sees
every edit.

`info` is the rasterizer's meta dict (`means2d` [N, 2] pixels, `radii` [N], `depths` [N]) plus
the view's `width` and `height` in pixels.
"""
from __future__ import annotations

import torch

from .densify import DensifyConfig, DensifyStats, densify_and_prune, reset_opacity
from .optim import Adam
from .schedule import Schedule


class Strategy:
    """Keeps the Gaussians as they are (no densification); the base of other strategies."""

    def regularization(self, params: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """A term the strategy adds to the loss (None: nothing)."""
        return None

    def wants_absgrad(self, step: int) -> bool:
        """Whether iteration `step` must render with the absolute gradient (info["means2d_absgrad"])."""
        return False

    def step_pre_backward(self, opt: Adam, info: dict, step: int) -> None:
        """Before loss.backward() of iteration `step` (1-based)."""

    def step_post_backward(self, opt: Adam, info: dict, step: int) -> None:
        """After loss.backward(), before the optimiser step; runs under torch.no_grad()."""

    def step_post_optimizer(self, opt: Adam, info: dict, step: int) -> dict | None:
        """After the optimiser step; may edit rows. Returns counts when it did, else None."""
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, sd: dict) -> None:
        pass


class DefaultStrategy(Strategy):
    """The common 3DGS adaptive density control on `schedule`'s milestones: accumulate the
    view-averaged screen-space gradient until `densify_until`, clone/split/prune every
    `densify_interval` iterations (oversized ones too after the first opacity reset), and reset
    opacities every `opacity_reset_interval` iterations."""

    def __init__(self, cfg: DensifyConfig, schedule: Schedule, n: int, device: torch.device, seed: int):
        self.cfg = cfg
        self.schedule = schedule
        self.stats = DensifyStats(n, device)
        # split samples come from their own generator, so resuming reproduces them exactly
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed + 1)

    def _collecting(self, step: int) -> bool:
        return step <= self.schedule.densify_until

    def wants_absgrad(self, step: int) -> bool:
        return self.cfg.signal == "absgrad" and self._collecting(step)

    def step_pre_backward(self, opt: Adam, info: dict, step: int) -> None:
        means2d = info["means2d"]
        if self._collecting(step) and means2d.requires_grad:
            means2d.retain_grad()  # a non-leaf: its gradient is the statistic

    @torch.no_grad()
    def step_post_backward(self, opt: Adam, info: dict, step: int) -> None:
        if not self._collecting(step):
            return
        grad = info.get("means2d_absgrad") if self.cfg.signal == "absgrad" else info["means2d"].grad
        if grad is not None:
            self.stats.update(grad, info["radii"], info["width"], info["height"])

    @torch.no_grad()
    def step_post_optimizer(self, opt: Adam, info: dict, step: int) -> dict | None:
        counts = None
        if self.schedule.is_densify_step(step):
            counts = densify_and_prune(opt, self.stats, self.cfg, self.schedule.extent,
                                       prune_large=step > self.schedule.opacity_reset_interval,
                                       generator=self.generator)
        if self.schedule.is_opacity_reset_step(step):
            reset_opacity(opt)
        return counts

    def state_dict(self) -> dict:
        return {"stats": self.stats.state_dict(), "split_gen": self.generator.get_state()}

    def load_state_dict(self, sd: dict) -> None:
        self.stats.load_state_dict(sd["stats"])
        self.generator.set_state(sd["split_gen"])
