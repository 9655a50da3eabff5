"""Fused SSIM on the CPU: `fused_ssim(img, ref)` -> mean SSIM, with its gradient for img.

One C++ pass blurs the five statistics (x, y, x², y², xy) with the 11-tap Gaussian window
(sigma 1.5, zero padding) and computes the SSIM map and its partial derivatives; the backward is
three more blurs (csrc/cpu/ssim_cpu.cpp). Same value as trainer/losses.py's `ssim_map(...).mean()`,
which stays the reference and the path for CUDA tensors. The reference image gets no gradient.
"""
from __future__ import annotations

import torch
from torch import Tensor

from . import _build


class _FusedSSIM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, img, ref):
        value, partials = _build.load_extension().ssim_forward(img, ref)
        ctx.save_for_backward(img, ref, partials)
        return value

    @staticmethod
    def backward(ctx, grad):
        img, ref, partials = ctx.saved_tensors
        v_img = _build.load_extension().ssim_backward(img, ref, partials, float(grad))
        return v_img, None


def fused_ssim(img: Tensor, ref: Tensor) -> Tensor:
    """Mean SSIM of img and ref [H, W, C] (float32 CPU tensors) -> 0-dim tensor; differentiable in img."""
    if ref.requires_grad:
        raise ValueError("fused_ssim: ref must not require a gradient (only img's gradient is computed)")
    return _FusedSSIM.apply(img, ref)
