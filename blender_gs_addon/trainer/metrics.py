"""Image quality metrics on [H, W, C] images in [0, 1]."""
from __future__ import annotations

import math

import torch

from .losses import ssim


def psnr(img: torch.Tensor, ref: torch.Tensor) -> float:
    mse = float(((img.float() - ref.float()) ** 2).mean())
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def ssim_value(img: torch.Tensor, ref: torch.Tensor) -> float:
    return float(ssim(img.float(), ref.float()))


def psnr_where(img: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> float | None:
    """PSNR over the pixels where mask [H, W] is true (None when there are none)."""
    if not bool(mask.any()):
        return None
    mse = float(((img.float() - ref.float())[mask] ** 2).mean())
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def ssim_where(img: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> float | None:
    """Mean of the SSIM map [H, W] over the pixels where mask [H, W] is true (None when there are none)."""
    from .losses import ssim_map

    if not bool(mask.any()):
        return None
    return float(ssim_map(img.float(), ref.float()).mean(0)[mask].mean())


def depth_error(depth: torch.Tensor, alpha: torch.Tensor, gt: torch.Tensor) -> float | None:
    """Median of |expected depth - gt| / gt over pixels with a surface (gt finite and > 0).

    depth [H, W, 1] = sum_i w_i z_i and alpha [H, W, 1] as the rasterizer gives them; gt [H, W]."""
    valid = torch.isfinite(gt) & (gt > 0)
    if not bool(valid.any()):
        return None
    expected = depth[..., 0] / alpha[..., 0].clamp(min=1e-4)
    return float(((expected[valid] - gt[valid]).abs() / gt[valid]).median())
