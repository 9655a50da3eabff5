"""MCMC-style densification under a fixed Gaussian budget.

Instead of cloning and splitting on screen-space gradients (which favour large, smooth
regions), the Gaussians are treated as samples of a distribution over the scene:

- every step, after the optimiser, each centre moves by noise shaped by its own covariance,
  strong for nearly transparent Gaussians and vanishing for opaque ones (they explore, opaque
  ones stay);
- on the densification milestones, "dead" Gaussians (opacity below `min_opacity`) are moved
  onto live ones drawn with probability proportional to opacity, and the count grows by
  `growth` toward the budget, again by copying live ones;
- a Gaussian copied into n coincident ones gets opacity and scale chosen so that the n
  copies composite like the original (`split_opacity_and_scale`);
- a small L1 penalty on opacities and scales lets unneeded Gaussians fade and die.

Thin structures (grass blades, needles, leaves) are where opaque, small Gaussians pile up, so
the budget goes there rather than to large translucent blobs. Nothing is ever pruned: the
count only grows, to `max_gaussians`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cuda_ext.quaternions import quat_to_rotmat

from .model import inverse_sigmoid
from .optim import Adam
from .schedule import Schedule
from .strategy import Strategy

MAX_COPIES = 51  # a Gaussian is copied into at most this many at one relocation (numerics of the series)


@dataclass
class MCMCConfig:
    max_gaussians: int = 300_000  # the budget; the initial points count toward it
    growth: float = 0.05  # the count grows by this fraction on each densification milestone
    min_opacity: float = 0.005  # below this a Gaussian is dead and gets relocated
    noise_lr: float = 5e5  # position noise, times the current learning rate of the means
    opacity_reg: float = 0.01  # L1 weight on opacities
    scale_reg: float = 0.01  # L1 weight on scales, relative to the scene extent


def split_opacity_and_scale(opacity: torch.Tensor, scales: torch.Tensor,
                            copies: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Opacity [M] and scales [M, 3] of each of `copies` [M] (>= 1) coincident Gaussians that
    together stand for one Gaussian of opacity `opacity` and scales `scales`.

    The opacity makes the composite at the centre exact: 1 - (1 - o')^n = o. The scale keeps
    the integral of the composited opacity along any line through the centre:
        integral of 1 - (1 - o' g'(x))^n  =  integral of o g(x),
    with g, g' unit-height Gaussians of widths s, s'. Expanding the power,
        s' = o s / sum_{j=1..n} C(n, j) (-1)^(j+1) o'^j / sqrt(j).
    """
    n = copies.to(torch.float64).clamp(1, MAX_COPIES)
    o = opacity.to(torch.float64).clamp(1e-6, 1 - 1e-6)
    o_new = 1.0 - (1.0 - o) ** (1.0 / n)
    j = torch.arange(1, MAX_COPIES + 1, dtype=torch.float64, device=o.device)  # [J]
    log_binom = torch.lgamma(n[:, None] + 1) - torch.lgamma(j + 1) - torch.lgamma((n[:, None] - j + 1).clamp(min=1))
    terms = torch.exp(log_binom + j * torch.log(o_new[:, None])) / torch.sqrt(j)  # [M, J]
    sign = torch.where(j % 2 == 1, 1.0, -1.0)
    denom = (terms * sign * (j <= n[:, None])).sum(dim=1)
    factor = (o / denom).to(scales.dtype)
    return o_new.to(opacity.dtype), scales * factor[:, None]


class MCMCStrategy(Strategy):
    """Relocate dead Gaussians and grow to a budget on `schedule`'s densification milestones;
    noise on the centres every step; L1 on opacities and scales (`regularization`)."""

    def __init__(self, cfg: MCMCConfig, schedule: Schedule, device: torch.device, seed: int):
        self.cfg = cfg
        self.schedule = schedule
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed + 2)

    def regularization(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        scales = torch.exp(params["scales_log"]) / self.schedule.extent
        return (self.cfg.opacity_reg * torch.sigmoid(params["opacity_logit"]).mean()
                + self.cfg.scale_reg * scales.mean())

    @torch.no_grad()
    def step_post_optimizer(self, opt: Adam, info: dict, step: int) -> dict | None:
        counts = None
        if self.schedule.is_densify_step(step):
            counts = {"relocated": self._relocate(opt), "added": self._grow(opt)}
            counts["total"] = opt.params["means"].shape[0]
        self._add_noise(opt)
        return counts

    def _sample_live(self, opt: Adam, k: int) -> torch.Tensor:
        """k indices of live Gaussians, drawn with replacement in proportion to opacity."""
        p = torch.sigmoid(opt.params["opacity_logit"])
        p = torch.where(p > self.cfg.min_opacity, p, torch.zeros_like(p))
        if float(p.sum()) <= 0:
            p = torch.ones_like(p)
        return torch.multinomial(p, k, replacement=True, generator=self.generator)

    def _copied_rows(self, opt: Adam, sources: torch.Tensor) -> dict[str, torch.Tensor]:
        """Give each source Gaussian the opacity and scale of one of its copies (the source itself
        and every time it was drawn); returns the rows to write at the new places."""
        p = opt.params
        unique, times = torch.unique(sources, return_counts=True)
        o, s = split_opacity_and_scale(torch.sigmoid(p["opacity_logit"][unique]),
                                       torch.exp(p["scales_log"][unique]), times + 1)
        o = o.clamp(self.cfg.min_opacity, 1 - 1e-6)
        opt.set_rows(unique, {"opacity_logit": inverse_sigmoid(o), "scales_log": torch.log(s)})
        return {name: v[sources] for name, v in opt.params.items()}

    @torch.no_grad()
    def _relocate(self, opt: Adam) -> int:
        dead = torch.sigmoid(opt.params["opacity_logit"]) <= self.cfg.min_opacity
        n_dead = int(dead.sum())
        if n_dead == 0 or n_dead == dead.numel():
            return 0
        rows = self._copied_rows(opt, self._sample_live(opt, n_dead))
        opt.set_rows(dead.nonzero().squeeze(1), rows)
        return n_dead

    @torch.no_grad()
    def _grow(self, opt: Adam) -> int:
        n = opt.params["means"].shape[0]
        k = min(self.cfg.max_gaussians, int(math.ceil(n * (1 + self.cfg.growth)))) - n
        if k <= 0:
            return 0
        opt.append_rows(self._copied_rows(opt, self._sample_live(opt, k)))
        return k

    @torch.no_grad()
    def _add_noise(self, opt: Adam) -> None:
        """Move each centre by N(0, Sigma) noise times lr * noise_lr, gated to the transparent ones."""
        p = opt.params
        opacity = torch.sigmoid(p["opacity_logit"])
        gate = torch.sigmoid(-100.0 * (opacity - self.cfg.min_opacity))  # ~1 when transparent, ~0 when opaque
        R = quat_to_rotmat(p["quats"])  # [N, 3, 3]
        var = torch.exp(2 * p["scales_log"])  # [N, 3]
        eps = torch.randn(p["means"].shape, generator=self.generator, device=p["means"].device)
        # Sigma @ eps with Sigma = R diag(var) R^T
        noise = (R @ (var * (R.transpose(1, 2) @ eps[:, :, None])[..., 0])[:, :, None])[..., 0]
        scale = opt.lrs["means"] * self.cfg.noise_lr
        p["means"].add_(noise * (gate * scale)[:, None])

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, sd: dict) -> None:
        self.generator.set_state(sd["generator"])
