"""The Gaussian model: raw (unconstrained) parameters and their activations.

Parameters (all float32, one row per Gaussian):
  means [N, 3], scales_log [N, 3], quats [N, 4] (w, x, y, z, unnormalised),
  opacity_logit [N], sh_dc [N, 1, 3], sh_rest [N, K-1, 3] with K = (max_degree + 1) ** 2.
"""
from __future__ import annotations

import math

import numpy as np
import torch

SH_C0 = 0.28209479177387814
PARAM_NAMES = ("means", "scales_log", "quats", "opacity_logit", "sh_dc", "sh_rest")


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    return (rgb - 0.5) / SH_C0


def inverse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x / (1 - x))


def knn_mean_distance(points: torch.Tensor, k: int = 3, chunk: int | None = None) -> torch.Tensor:
    """Mean distance from each point [N, 3] to its k nearest other points -> [N].

    Chunked exact search with cdist: O(N^2) work but O(chunk * N) memory (at most 2^25
    distances, 128 MB, at a time), fine for ~100k points.
    """
    n = points.shape[0]
    chunk = chunk or max(1, min(4096, (1 << 25) // max(n, 1)))
    if n <= 1:
        return torch.ones(n, dtype=points.dtype, device=points.device)
    k_eff = min(k, n - 1)
    out = torch.empty(n, dtype=points.dtype, device=points.device)
    for s in range(0, n, chunk):
        d = torch.cdist(points[s:s + chunk], points)  # [c, N]
        d[torch.arange(d.shape[0]), torch.arange(s, s + d.shape[0])] = float("inf")  # not itself
        out[s:s + chunk] = d.topk(k_eff, dim=1, largest=False).values.mean(1)
    return out


class GaussianModel:
    """Holds the parameters as leaf tensors with requires_grad (the optimiser owns their state)."""

    def __init__(self, params: dict[str, torch.Tensor], max_sh_degree: int):
        self.params = params
        self.max_sh_degree = max_sh_degree

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(cls, points: np.ndarray, colors: np.ndarray, max_sh_degree: int,
                    device: torch.device, init_opacity: float = 0.1) -> "GaussianModel":
        """Isotropic Gaussians at points [P, 3] with colours [P, 3] in [0, 1]."""
        means = torch.as_tensor(points, dtype=torch.float32, device=device)
        n = means.shape[0]
        dist = knn_mean_distance(means).clamp(min=1e-7)  # [N]
        K = (max_sh_degree + 1) ** 2
        params = {
            "means": means.clone(),
            "scales_log": torch.log(dist)[:, None].repeat(1, 3),
            "quats": torch.tensor([1.0, 0.0, 0.0, 0.0], device=device).repeat(n, 1),
            "opacity_logit": inverse_sigmoid(torch.full((n,), init_opacity, device=device)),
            "sh_dc": rgb_to_sh_dc(torch.as_tensor(colors, dtype=torch.float32, device=device))[:, None, :],
            "sh_rest": torch.zeros(n, K - 1, 3, device=device),
        }
        return cls({k: v.contiguous().requires_grad_(True) for k, v in params.items()}, max_sh_degree)

    @classmethod
    def from_splat_data(cls, data, device: torch.device) -> "GaussianModel":
        """From a SplatData (numpy arrays) -> model with the file's SH degree."""
        K = data.sh_rest.shape[1] + 1
        degree = int(round(math.sqrt(K))) - 1
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)  # noqa: E731
        params = {
            "means": t(data.means), "scales_log": t(data.scales_log), "quats": t(data.quats),
            "opacity_logit": t(data.opacity_logit), "sh_dc": t(data.sh_dc)[:, None, :],
            "sh_rest": t(data.sh_rest).reshape(len(data.means), K - 1, 3),
        }
        return cls({k: v.requires_grad_(True) for k, v in params.items()}, degree)

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return self.params["means"].shape[0]

    @property
    def means(self) -> torch.Tensor:
        return self.params["means"]

    def scales(self) -> torch.Tensor:  # [N, 3] linear standard deviations
        return torch.exp(self.params["scales_log"])

    def opacities(self) -> torch.Tensor:  # [N] in (0, 1)
        return torch.sigmoid(self.params["opacity_logit"])

    def colors(self, degree: int) -> torch.Tensor:
        """SH coefficients up to `degree` -> [N, (degree+1)^2, 3]."""
        k = (degree + 1) ** 2
        return torch.cat([self.params["sh_dc"], self.params["sh_rest"][:, : k - 1]], dim=1)

    def consistent(self) -> bool:
        """Every parameter has the same number of rows (false only if an edit was interrupted)."""
        return len({v.shape[0] for v in self.params.values()}) == 1

    def all_finite(self) -> str | None:
        """Name of the first parameter holding NaN/Inf, or None.

        Runs every iteration, so it first sums each parameter (one pass over memory, one host
        sync): a sum is finite when every element is. A NaN/Inf element, or an overflow of a
        sum, makes it non-finite; only then are the parameters checked element by element.
        """
        with torch.no_grad():
            sums = torch.stack([self.params[name].detach().sum().float() for name in PARAM_NAMES])
            if bool(torch.isfinite(sums).all()):
                return None
            for name in PARAM_NAMES:
                if not bool(torch.isfinite(self.params[name]).all()):
                    return name
        return None  # only a sum overflowed

    def to_splat_data(self):
        """-> SplatData for the 3DGS PLY (normals zero, as trainers write them)."""
        from ..splats import SplatData

        p = {k: v.detach().float().cpu().numpy() for k, v in self.params.items()}
        n = p["means"].shape[0]
        return SplatData(
            means=np.ascontiguousarray(p["means"]), scales_log=np.ascontiguousarray(p["scales_log"]),
            quats=np.ascontiguousarray(p["quats"]), opacity_logit=np.ascontiguousarray(p["opacity_logit"]),
            sh_dc=np.ascontiguousarray(p["sh_dc"][:, 0, :]), sh_rest=np.ascontiguousarray(p["sh_rest"]),
            normals=np.zeros((n, 3), np.float32), extra={})
