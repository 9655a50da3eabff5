"""Autograd layer: one function per stage, each backed by a private torch.autograd.Function.

Stages: project (3D Gaussians -> 2D means, conics, depths, radii), sh_colors (SH -> RGB),
bin (tile intersections, no gradient), raster (tile blending). `rasterize` chains them.
The device of the inputs picks the CPU or CUDA kernels; there is no fallback to the
pure-torch reference.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import _build


def _ext():
    return _build.load_extension()


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, quats, scales, opacities, viewmat, K, width, height):
        means2d, conics, depths, radii, rects = _ext().project_forward(
            means, quats, scales, opacities, viewmat, K, width, height)
        ctx.save_for_backward(means, quats, scales, viewmat, K, radii)
        ctx.mark_non_differentiable(radii, rects)
        return means2d, conics, depths, radii, rects

    @staticmethod
    def backward(ctx, v_means2d, v_conics, v_depths, _v_radii, _v_rects):
        means, quats, scales, viewmat, K, radii = ctx.saved_tensors
        v_means, v_quats, v_scales = _ext().project_backward(
            means, quats, scales, viewmat, K, radii, v_means2d, v_conics, v_depths)
        return v_means, v_quats, v_scales, None, None, None, None, None


def project(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, viewmat: Tensor, K: Tensor,
            width: int, height: int):
    """-> means2d [N,2] (pixels), conics [N,3], depths [N], radii [N] int32 (0 = culled), rects [N,4] int32 tiles."""
    return _Project.apply(means, quats, scales, opacities, viewmat, K, width, height)


class _SHColors(torch.autograd.Function):
    @staticmethod
    def forward(ctx, coeffs, means, viewmat, radii, degree):
        colors, clamped = _ext().sh_forward(coeffs, means, viewmat, radii, degree)
        ctx.save_for_backward(coeffs, means, viewmat, radii, clamped)
        ctx.degree = degree
        return colors

    @staticmethod
    def backward(ctx, v_colors):
        coeffs, means, viewmat, radii, clamped = ctx.saved_tensors
        v_coeffs, v_means = _ext().sh_backward(coeffs, means, viewmat, radii, clamped, v_colors, ctx.degree)
        return v_coeffs, v_means, None, None, None


def sh_colors(coeffs: Tensor, means: Tensor, viewmat: Tensor, radii: Tensor, degree: int) -> Tensor:
    """coeffs [N,K,3] -> RGB [N,3] = max(SH(normalize(mean - campos)) + 0.5, 0); zero where radii == 0."""
    return _SHColors.apply(coeffs, means, viewmat, radii, degree)


def bin_gaussians(radii: Tensor, rects: Tensor, depths: Tensor, width: int, height: int):
    """-> tile_offsets [T+1] int64, isect_ids [M] int32 (per 16x16 tile, front to back)."""
    return _ext().bin_gaussians(radii, rects, depths.detach(), width, height)


class _Raster(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, width, height,
                absgrad_out):
        rgb, alpha, depth, final_T, n_contrib = _ext().raster_forward(
            means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, width, height)
        ctx.save_for_backward(means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids,
                              final_T, n_contrib)
        ctx.size = (width, height)
        ctx.absgrad_out = absgrad_out
        return rgb, alpha.unsqueeze(-1), depth.unsqueeze(-1)

    @staticmethod
    def backward(ctx, v_rgb, v_alpha, v_depth):
        (means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, final_T,
         n_contrib) = ctx.saved_tensors
        width, height = ctx.size
        v_means2d, v_conics, v_colors, v_opacities, v_depths, v_abs = _ext().raster_backward(
            means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, width, height,
            final_T, n_contrib, v_rgb, v_alpha[..., 0], v_depth[..., 0], ctx.absgrad_out is not None)
        if ctx.absgrad_out is not None:
            ctx.absgrad_out += v_abs
        v_background = None
        if background is not None and ctx.needs_input_grad[5]:
            v_background = (final_T.unsqueeze(-1) * v_rgb).sum(dim=(0, 1))
        return v_means2d, v_conics, v_colors, v_opacities, v_depths, v_background, None, None, None, None, None


def raster(means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, width, height,
           absgrad_out: Optional[Tensor] = None):
    """-> rgb [H,W,3], alpha [H,W,1], depth [H,W,1] (sum of w_i z_i). absgrad_out [N,2], if given, gains
    in backward the sum over pixels of each pixel's |d loss / d means2d| (per axis)."""
    return _Raster.apply(means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids,
                         width, height, absgrad_out)


def rasterize(
    means: Tensor,       # [N, 3] world positions
    quats: Tensor,       # [N, 4] (w, x, y, z), any norm
    scales: Tensor,      # [N, 3] linear standard deviations
    opacities: Tensor,   # [N] in [0, 1]
    colors: Tensor,      # [N, 3] RGB, or [N, K, 3] SH with K >= (sh_degree + 1) ** 2
    viewmat: Tensor,     # [4, 4] world-to-camera, OpenCV axes
    K: Tensor,           # [3, 3] pinhole intrinsics, pixel (u, v) centred at (u + 0.5, v + 0.5)
    width: int,
    height: int,
    sh_degree: Optional[int] = None,
    background: Optional[Tensor] = None,  # [3] or None (black)
    absgrad: bool = False,
):
    """Render N 3D Gaussians. Returns rgb [H,W,3], alpha [H,W,1], depth [H,W,1] (= sum_i w_i z_i;
    divide by alpha for the expected depth) and meta:
      radii [N] int32 (0 = culled), means2d [N,2] pixels (its .grad, after backward, is the
      screen-space gradient used for densification), depths [N], conics [N,3], colors [N,3],
      n_isects (int, tile intersections), and with absgrad=True means2d_absgrad [N,2]: zeros that
      backward fills with the sum over pixels of each pixel's |gradient| of means2d, per axis.
    Raises ValueError on bad input (shapes, dtypes, devices, NaN/Inf, empty image).
    """
    if not isinstance(width, int) or not isinstance(height, int):
        raise ValueError(f"rasterize: width and height must be ints, got {type(width).__name__}, "
                         f"{type(height).__name__}")
    if sh_degree is not None and not isinstance(sh_degree, int):
        raise ValueError(f"rasterize: sh_degree must be None or an int 0..3, got {sh_degree!r}")
    tensors = dict(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors, viewmat=viewmat,
                   K=K)
    if background is not None:
        tensors["background"] = background
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise ValueError(f"rasterize: {name} must be a torch.Tensor, got {type(t).__name__}")
    ext = _ext()
    ext.validate(means, quats, scales, opacities, colors, viewmat, K, width, height,
                 -1 if sh_degree is None else sh_degree, background)
    means2d, conics, depths, radii, rects = project(means, quats, scales, opacities, viewmat, K, width, height)
    if sh_degree is None:
        rgb_g = colors
    else:
        rgb_g = sh_colors(colors, means, viewmat, radii, sh_degree)
    tile_offsets, isect_ids = bin_gaussians(radii, rects, depths, width, height)
    absgrad_out = torch.zeros_like(means2d.detach()) if absgrad else None
    rgb, alpha, depth = raster(means2d, conics, rgb_g, opacities, depths, background, tile_offsets, isect_ids,
                               width, height, absgrad_out)
    if means2d.requires_grad:
        means2d.retain_grad()  # the trainer reads means2d.grad for densification
    meta = {
        "radii": radii,
        "means2d": means2d,
        "depths": depths,
        "conics": conics,
        "colors": rgb_g,
        "n_isects": int(isect_ids.shape[0]),
    }
    if absgrad_out is not None:
        meta["means2d_absgrad"] = absgrad_out
    return rgb, alpha, depth, meta
