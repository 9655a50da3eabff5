"""Learning rates and densification schedules, scaled to the total number of iterations.

The base values are the widely used 3DGS defaults for a 30k-iteration run; a run of T
iterations stretches every milestone by T / 30000 so short runs keep the same shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

REFERENCE_ITERATIONS = 30000

# Per-parameter Adam learning rates (the 3DGS defaults); "means" is multiplied by the scene extent.
BASE_LR = {
    "means": 1.6e-4,
    "scales_log": 5e-3,
    "quats": 1e-3,
    "opacity_logit": 5e-2,
    "sh_dc": 2.5e-3,
    "sh_rest": 2.5e-3 / 20.0,
}
MEANS_LR_FINAL = 1.6e-6
# clone/split above this view-averaged screen-space gradient, in NDC units (densify.py says why)
DENSIFY_GRAD_THRESHOLD = 2e-4
DENSIFY_ABSGRAD_THRESHOLD = 8e-4  # the absolute gradient's (densify.py)
# objects on a transparent background grow from a few thousand random points into one compact
# subject: more growth pays there (NeRF-synthetic lego, docs/training.md), not on the biomes
OBJECT_DENSIFY_GRAD_THRESHOLD = 7e-5
DENSIFY_SIGNALS = ("grad", "absgrad")
MIN_OPACITY_RESET_INTERVAL = 300


@dataclass
class Schedule:
    total: int
    densify_from: int
    densify_until: int
    densify_interval: int
    opacity_reset_interval: int
    sh_up_interval: int
    extent: float

    @classmethod
    def for_run(cls, total: int, extent: float) -> "Schedule":
        s = total / REFERENCE_ITERATIONS
        return cls(
            total=total,
            densify_from=max(1, round(500 * s)),
            densify_until=max(2, round(15000 * s)),
            # short runs still accumulate gradients over enough views between densifications
            densify_interval=int(min(100, max(25, round(100 * s)))),
            # a reset drops opacities to 0.01; Adam (lr 0.05 on the logit) needs >= 130 steps to bring
            # them back, a fixed cost, so short runs reset less often than the proportional rate
            opacity_reset_interval=max(MIN_OPACITY_RESET_INTERVAL, round(3000 * s)),
            sh_up_interval=max(1, round(1000 * s)),
            extent=extent,
        )

    def means_lr(self, step: int) -> float:
        """Exponential (log-linear) decay from 1.6e-4 to 1.6e-6 over the run, times the extent."""
        t = min(max(step / max(self.total, 1), 0.0), 1.0)
        lr = math.exp((1 - t) * math.log(BASE_LR["means"]) + t * math.log(MEANS_LR_FINAL))
        return lr * self.extent

    def sh_degree(self, step: int, max_degree: int) -> int:
        """Active SH degree: one more every sh_up_interval iterations."""
        return min(max_degree, step // self.sh_up_interval)

    def is_densify_step(self, step: int) -> bool:
        return self.densify_from < step <= self.densify_until and step % self.densify_interval == 0

    def is_opacity_reset_step(self, step: int) -> bool:
        return step <= self.densify_until and step % self.opacity_reset_interval == 0

    def initial_lrs(self) -> dict[str, float]:
        lrs = dict(BASE_LR)
        lrs["means"] = self.means_lr(0)
        return lrs


def default_densify_threshold(signal: str, objects: bool) -> float:
    """The growth threshold when none is given: the absolute gradient's own, else the plain
    gradient's, lower for objects on a transparent background (images with alpha)."""
    if signal == "absgrad":
        return DENSIFY_ABSGRAD_THRESHOLD
    return OBJECT_DENSIFY_GRAD_THRESHOLD if objects else DENSIFY_GRAD_THRESHOLD
