"""Photometric loss 0.8 L1 + 0.2 (1 - SSIM), SSIM with an 11x11 Gaussian window (sigma 1.5)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

_WINDOWS: dict = {}


def _gauss_1d(size: int, sigma: float, device, dtype) -> torch.Tensor:
    key = (size, sigma, str(device), dtype)
    if key not in _WINDOWS:
        x = torch.arange(size, dtype=torch.float64) - size // 2
        g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
        _WINDOWS[key] = (g / g.sum()).to(device=device, dtype=dtype)
    return _WINDOWS[key]


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of [1, C, H, W] with zero padding (same size)."""
    c, k = x.shape[1], g.numel()
    x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), padding=(k // 2, 0), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), padding=(0, k // 2), groups=c)


def ssim_map(img: torch.Tensor, ref: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM of images [H, W, C] in [0, 1] -> [C, H, W]."""
    x = img.permute(2, 0, 1)[None]
    y = ref.permute(2, 0, 1)[None]
    c = x.shape[1]
    g = _gauss_1d(window, sigma, x.device, x.dtype)
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), g)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(c, dim=1)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s[0]


def ssim(img: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of images [H, W, C]. Float32 CPU images take the fused C++ kernel (several times
    faster than the convolutions); CUDA tensors, other dtypes and a ref that needs a gradient take
    `ssim_map`, which is also the fused kernel's reference in the tests."""
    if _fused_applies(img, ref):
        from cuda_ext.ssim import fused_ssim

        return fused_ssim(img, ref)
    return ssim_map(img, ref).mean()


def _fused_applies(img: torch.Tensor, ref: torch.Tensor) -> bool:
    return (img.device.type == "cpu" and ref.device.type == "cpu" and img.dtype == ref.dtype == torch.float32
            and img.dim() == 3 and img.shape == ref.shape and img.numel() > 0 and not ref.requires_grad)


def photometric_loss(img: torch.Tensor, ref: torch.Tensor, lambda_ssim: float = 0.2) -> torch.Tensor:
    """(1 - lambda) L1 + lambda (1 - SSIM), both means over pixels and channels."""
    l1 = (img - ref).abs().mean()
    return (1 - lambda_ssim) * l1 + lambda_ssim * (1 - ssim(img, ref))


def depth_loss(depth: torch.Tensor, alpha: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean relative error |expected depth - gt| / gt over pixels with a surface.

    depth [H, W, 1] = sum_i w_i z_i, alpha [H, W, 1], gt [H, W] (inf = no surface). Relative, so
    near grass and far hills weigh alike and the weight does not depend on the scene's scale.
    """
    valid = torch.isfinite(gt) & (gt > 0)
    if not bool(valid.any()):
        return depth.sum() * 0.0
    expected = depth[..., 0] / alpha[..., 0].clamp(min=1e-4)
    return ((expected[valid] - gt[valid]).abs() / gt[valid]).mean()


def mask_alpha_loss(alpha: torch.Tensor, sky: torch.Tensor) -> torch.Tensor:
    """The scene's opacity [H, W, 1] against the sky mask [H, W]: its mean over sky pixels (the
    shell lies behind them: pushes sky-coloured floaters out of the scene) plus its mean shortfall
    from 1 over surface pixels (the shell must not show through the ground or the grass)."""
    a = alpha[..., 0]
    over_sky = a[sky].mean() if bool(sky.any()) else a.sum() * 0.0
    through_surface = (1.0 - a[~sky]).mean() if not bool(sky.all()) else a.sum() * 0.0
    return over_sky + through_surface
