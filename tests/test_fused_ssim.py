"""The fused CPU SSIM kernel (cuda_ext.ssim) against the torch convolutions of trainer/losses.py
(`ssim_map`, in float64 for gradients), central finite differences, and determinism.

The compiled kernels are built on first use (about a minute the first time, cached after).
"""
from __future__ import annotations

import pytest
import torch

from blender_gs_addon.trainer.losses import photometric_loss, ssim, ssim_map
from cuda_ext.ssim import fused_ssim

# sizes that are not multiples of anything, smaller than the 11-pixel window, one row or column
SHAPES = [(37, 53, 3), (64, 48, 3), (5, 7, 1), (11, 11, 3), (1, 1, 3), (1, 40, 3), (23, 9, 2), (40, 40, 1)]


def random_pair(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g), torch.rand(shape, generator=g)


def structured_pair(shape, seed):
    """Smooth ramps, flat areas (zero variance), hard edges and a checkerboard; the reference is a
    shifted, noisier copy, so SSIM spans from about 0 to 1 across the image."""
    g = torch.Generator().manual_seed(seed)
    h, w, c = shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    ramp = (xx / max(w - 1, 1))[..., None] * torch.linspace(0.2, 1.0, c)
    checker = (((yy // 3 + xx // 3) % 2) * 0.8 + 0.1)[..., None].expand(h, w, c)
    img = torch.where((xx < w / 2)[..., None], ramp, checker).clone()
    img[: h // 3, : w // 3] = 0.5  # flat patch
    ref = (img.roll(1, dims=1) + 0.05 * torch.randn(shape, generator=g)).clamp(0, 1)
    return img.contiguous(), ref


PAIRS = {"random": random_pair, "structured": structured_pair}


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_value_matches_torch(kind, shape):
    img, ref = PAIRS[kind](shape, seed=sum(shape))
    ours = float(fused_ssim(img, ref))
    theirs32 = float(ssim_map(img, ref).mean())
    theirs64 = float(ssim_map(img.double(), ref.double()).mean())
    assert abs(ours - theirs64) <= 1e-6
    assert abs(ours - theirs32) <= 1e-6
    assert -1.0 <= ours <= 1.0


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gradient_matches_float64_autograd(kind, shape):
    img, ref = PAIRS[kind](shape, seed=sum(shape) + 1)
    x64 = img.double().requires_grad_()
    ssim_map(x64, ref.double()).mean().backward()
    x32 = img.clone().requires_grad_()
    (3.0 * fused_ssim(x32, ref)).backward()  # an upstream gradient other than 1
    want, got = 3.0 * x64.grad, x32.grad.double()
    assert got.shape == img.shape
    assert float((got - want).norm() / want.norm()) <= 1e-5
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())


def test_gradient_matches_finite_differences():
    img, ref = structured_pair((14, 17, 3), seed=3)
    x = img.clone().requires_grad_()
    fused_ssim(x, ref).backward()
    scale = float(x.grad.abs().max())
    eps = 1e-3
    for (i, j, c) in [(0, 0, 0), (7, 8, 1), (13, 16, 2), (3, 12, 0), (10, 2, 2)]:
        plus, minus = img.clone(), img.clone()
        plus[i, j, c] += eps
        minus[i, j, c] -= eps
        fd = (float(fused_ssim(plus, ref)) - float(fused_ssim(minus, ref))) / (2 * eps)
        assert abs(fd - float(x.grad[i, j, c])) <= 1e-2 * scale, (i, j, c)


def _value_and_grad(img, ref):
    x = img.clone().requires_grad_()
    value = fused_ssim(x, ref)
    value.backward()
    return value.detach(), x.grad


def test_deterministic_and_independent_of_threads():
    img, ref = random_pair((150, 97, 3), seed=5)  # several row bands
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        v1, g1 = _value_and_grad(img, ref)
        torch.set_num_threads(2)
        v2, g2 = _value_and_grad(img, ref)
        v3, g3 = _value_and_grad(img, ref)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(v1, v2) and torch.equal(v2, v3)
    assert torch.equal(g1, g2) and torch.equal(g2, g3)


def test_loss_uses_fused_kernel_on_cpu_float32():
    img, ref = random_pair((30, 31, 3), seed=7)
    assert torch.equal(ssim(img, ref), fused_ssim(img, ref))
    # float64 (and CUDA tensors) keep the convolutions
    assert torch.equal(ssim(img.double(), ref.double()), ssim_map(img.double(), ref.double()).mean())
    # the whole photometric loss's gradient against float64 autograd of the reference path
    x32, x64 = img.clone().requires_grad_(), img.double().requires_grad_()
    photometric_loss(x32, ref).backward()
    l1 = (x64 - ref.double()).abs().mean()
    (0.8 * l1 + 0.2 * (1 - ssim_map(x64, ref.double()).mean())).backward()
    assert float((x32.grad.double() - x64.grad).abs().max()) <= 1e-5 * float(x64.grad.abs().max())


def test_bad_input():
    img, ref = random_pair((8, 9, 3), seed=1)
    with pytest.raises(ValueError, match="ref must not require a gradient"):
        fused_ssim(img, ref.clone().requires_grad_())
    with pytest.raises(ValueError, match=r"ssim: ref must have img's shape \[8, 9, 3\]"):
        fused_ssim(img, ref[:, :8])
    with pytest.raises(ValueError, match="ssim: images must be float32"):
        fused_ssim(img.double(), ref.double())
    with pytest.raises(ValueError, match=r"ssim: img must have shape \[H, W, C\]"):
        fused_ssim(img[..., 0], ref[..., 0])
