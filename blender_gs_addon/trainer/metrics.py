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
