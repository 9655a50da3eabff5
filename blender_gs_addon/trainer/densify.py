"""Adaptive density control: clone, split, prune and opacity reset.

Gradient units. The threshold (2e-4) is in the units of the common 3DGS trainer, whose
rasterizer differentiates the loss with respect to each Gaussian's projected centre in
normalised device coordinates (NDC, -1..1 across the image). Our rasterizer reports the
gradient with respect to the centre in pixels. Pixel and NDC coordinates are related by
    px = ((ndc + 1) * W - 1) / 2   =>   d px / d ndc = W / 2   (and H / 2 for y),
so  dL/d ndc_x = dL/d px * W / 2  and  dL/d ndc_y = dL/d px * H / 2.
The statistic is the norm of that 2-vector, averaged over the training views in which the
Gaussian was visible (radius > 0) since the last densification. The loss must be a mean over
pixels (as ours is) for the units to agree.

With `signal = "absgrad"` the statistic is built the same way from the rasterizer's absolute
gradient: per axis, the sum over pixels of each pixel's |dL/d px|. Pixels on either side of a
Gaussian that pull its centre in opposite directions cancel in the plain gradient, which is
what happens to a blade of grass or a leaf covering a few pixels of mixed error; they add up in
the absolute one. Its values are larger, hence a threshold of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from cuda_ext.quaternions import quat_to_rotmat

from .model import inverse_sigmoid
from .optim import Adam
from .schedule import default_densify_threshold


@dataclass
class DensifyConfig:
    grad_threshold: float | None = None  # None: schedule.default_densify_threshold (the trainer fills it in)
    signal: str = "grad"  # one of schedule.DENSIFY_SIGNALS
    percent_dense: float = 0.01  # clone below, split above this fraction of the scene extent
    min_opacity: float = 0.005
    max_screen_radius: float = 20.0  # pixels; applied after the first opacity reset
    max_world_scale: float = 0.1  # fraction of the scene extent
    max_gaussians: int = 0  # 0 = no cap

    def threshold(self, objects: bool = False) -> float:
        """The growth threshold: the one given, else the default for the signal and the kind of capture."""
        return self.grad_threshold if self.grad_threshold is not None else default_densify_threshold(self.signal,
                                                                                                   objects)
    split_count: int = 2


class DensifyStats:
    """Running per-Gaussian screen-space gradient statistics between densifications."""

    def __init__(self, n: int, device):
        self.grad_sum = torch.zeros(n, device=device)
        self.count = torch.zeros(n, device=device)
        self.max_radii = torch.zeros(n, device=device)

    @torch.no_grad()
    def update(self, means2d_grad: torch.Tensor, radii: torch.Tensor, width: int, height: int) -> None:
        """means2d_grad [N, 2] in pixels, radii [N] in pixels (0 = not visible)."""
        visible = radii > 0
        g = means2d_grad * torch.tensor([0.5 * width, 0.5 * height], device=means2d_grad.device)
        self.grad_sum[visible] += g[visible].norm(dim=-1)
        self.count[visible] += 1
        self.max_radii[visible] = torch.maximum(self.max_radii[visible], radii[visible].float())

    def mean_grad(self) -> torch.Tensor:  # [N]
        return self.grad_sum / self.count.clamp(min=1)

    def state_dict(self) -> dict:
        return {"grad_sum": self.grad_sum.cpu(), "count": self.count.cpu(), "max_radii": self.max_radii.cpu()}

    def load_state_dict(self, sd: dict) -> None:
        dev = self.grad_sum.device
        self.grad_sum, self.count, self.max_radii = (sd[k].to(dev) for k in ("grad_sum", "count", "max_radii"))


@torch.no_grad()
def densify_and_prune(opt: Adam, stats: DensifyStats, cfg: DensifyConfig, extent: float,
                      prune_large: bool, generator: torch.Generator | None = None) -> dict:
    """Clone small and split large high-gradient Gaussians, then prune.

    Returns counts {"cloned", "split", "pruned", "total"}. Resets the statistics.
    """
    p = opt.params
    n = p["means"].shape[0]
    grads = stats.mean_grad()
    max_scale = torch.exp(p["scales_log"]).max(dim=1).values
    candidates = grads >= cfg.threshold()
    if cfg.max_gaussians > 0:  # each clone or split adds one Gaussian: keep the strongest that fit
        budget = max(0, cfg.max_gaussians - n)
        if int(candidates.sum()) > budget:
            order = torch.argsort(torch.where(candidates, grads, torch.full_like(grads, -1.0)), descending=True)
            keep = torch.zeros_like(candidates)
            keep[order[:budget]] = True
            candidates &= keep
    small = max_scale <= cfg.percent_dense * extent
    clone = candidates & small
    split = candidates & ~small

    # clone: an exact copy; the two copies then drift apart under the optimiser
    new = {k: v[clone] for k, v in p.items()}
    # split: cfg.split_count samples drawn from the Gaussian itself, scales shrunk by 1.6
    k = cfg.split_count
    idx = split.nonzero().squeeze(1)
    if idx.numel() > 0:
        scales = torch.exp(p["scales_log"][idx]).repeat(k, 1)  # [kS, 3]
        noise = torch.randn(scales.shape, generator=generator, device=scales.device) * scales
        R = quat_to_rotmat(p["quats"][idx]).repeat(k, 1, 1)
        offsets = (R @ noise[:, :, None]).squeeze(-1)
        split_rows = {name: v[idx].repeat(k, *([1] * (v.dim() - 1))) for name, v in p.items()}
        split_rows["means"] = split_rows["means"] + offsets
        split_rows["scales_log"] = torch.log(scales / (0.8 * k))
        for name in new:
            new[name] = torch.cat([new[name], split_rows[name]])
    opt.append_rows(new)
    n_added = new["means"].shape[0]

    # prune: the split originals, transparent ones, and (after the first reset) oversized ones
    p = opt.params
    remove = torch.cat([split, torch.zeros(n_added, dtype=torch.bool, device=split.device)])
    remove |= torch.sigmoid(p["opacity_logit"]) < cfg.min_opacity
    if prune_large:
        radii = torch.cat([stats.max_radii, torch.zeros(n_added, device=split.device)])
        remove |= radii > cfg.max_screen_radius
        remove |= torch.exp(p["scales_log"]).max(dim=1).values > cfg.max_world_scale * extent
    if bool(remove.all()):  # never prune everything: keep the most opaque one
        remove[torch.argmax(p["opacity_logit"])] = False
    opt.keep_rows(~remove)
    total = opt.params["means"].shape[0]
    stats.__init__(total, opt.params["means"].device)
    return {"cloned": int(clone.sum()), "split": int(split.sum()), "pruned": int(remove.sum()), "total": total}


@torch.no_grad()
def reset_opacity(opt: Adam, ceiling: float = 0.01) -> None:
    """Clamp every opacity to at most `ceiling` (so that useless Gaussians can be pruned)."""
    logit = opt.params["opacity_logit"]
    ceiling_logit = float(inverse_sigmoid(torch.tensor(ceiling)))
    opt.reset_param("opacity_logit", torch.clamp(logit, max=ceiling_logit))
