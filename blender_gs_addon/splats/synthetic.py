"""Random splats for tests and benchmarks, drawn field by field in a fixed order, so a seed
always gives the same splats."""
from __future__ import annotations

import numpy as np

from .data import SplatData


def random_splats(n: int, degree: int = 3, seed: int = 0, log_scale_mean: float = -3.0, sh_rest_sd: float = 0.2,
                  normals: bool = False) -> SplatData:
    """``n`` splats of SH ``degree``: positions, rotations (not unit, as trainers store them),
    opacity logits and DC colours standard normal; log scales normal around ``log_scale_mean``;
    SH rest coefficients normal with deviation ``sh_rest_sd``; random normals where asked."""
    rng = np.random.default_rng(seed)
    return SplatData(
        means=rng.normal(size=(n, 3)).astype(np.float32),
        scales_log=(rng.normal(size=(n, 3)) + log_scale_mean).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),
        opacity_logit=rng.normal(size=n).astype(np.float32),
        sh_dc=rng.normal(size=(n, 3)).astype(np.float32),
        sh_rest=(sh_rest_sd * rng.normal(size=(n, (degree + 1) ** 2 - 1, 3))).astype(np.float32),
        normals=rng.normal(size=(n, 3)).astype(np.float32) if normals else None,
    )
