"""Slow, legible pure-torch reference of the rasterizer, for tests and benchmarks only.

Same semantics as the kernels, without tiles: every pixel blends every visible Gaussian
front to back (near-plane cull 0.2, EWA projection with 0.3 dilation, SH colour +0.5
clamped at 0, alpha = min(0.99, o exp(-d^T conic d / 2)), skip alpha < 1/255, stop
before transmittance falls below 1e-4). Works in float32 and float64 (for finite
differences); gradients come from torch autograd.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .quaternions import quat_to_rotmat

NEAR_PLANE = 0.2
COV2D_DILATION = 0.3
FOV_CLAMP = 1.3
ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
         1.445305721320277, -0.5900435899266435)


def project(means: Tensor, quats: Tensor, scales: Tensor, viewmat: Tensor, K: Tensor):
    """-> means2d [N,2], cov2d [N,2,2] (dilated), depths [N], valid [N] bool (near plane and det > 0)."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ R.T + t                                   # [N, 3] camera space
    x, y, z = p.unbind(-1)
    valid = z >= NEAR_PLANE
    z_safe = torch.where(valid, z, torch.ones_like(z))
    M = quat_to_rotmat(quats) * scales[:, None, :]        # R diag(s)
    cov_cam = R @ (M @ M.transpose(1, 2)) @ R.T            # [N, 3, 3]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    zero = torch.zeros_like(z)
    # the Jacobian at the centre clamped to FOV_CLAMP x the half view (cx / fx, cy / fy)
    lim_x, lim_y = FOV_CLAMP * cx / fx, FOV_CLAMP * cy / fy
    rx = torch.maximum(torch.minimum(x / z_safe, lim_x), -lim_x)
    ry = torch.maximum(torch.minimum(y / z_safe, lim_y), -lim_y)
    J = torch.stack([fx / z_safe, zero, -fx * rx / z_safe,
                     zero, fy / z_safe, -fy * ry / z_safe], dim=-1).reshape(-1, 2, 3)
    cov2d = J @ cov_cam @ J.transpose(1, 2) + COV2D_DILATION * torch.eye(2, dtype=means.dtype, device=means.device)
    det = cov2d[:, 0, 0] * cov2d[:, 1, 1] - cov2d[:, 0, 1] ** 2
    valid = valid & (det > 0)
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)
    return means2d, cov2d, z, valid


def sh_basis(dirs: Tensor, degree: int) -> Tensor:  # [N, 3] unit -> [N, (degree+1)^2]
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        out += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [SH_C2[0] * x * y, SH_C2[1] * y * z, SH_C2[2] * (2 * zz - xx - yy), SH_C2[3] * x * z,
                SH_C2[4] * (xx - yy)]
    if degree >= 3:
        out += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * x * y * z, SH_C3[2] * y * (4 * zz - xx - yy),
                SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy), SH_C3[4] * x * (4 * zz - xx - yy),
                SH_C3[5] * z * (xx - yy), SH_C3[6] * x * (xx - 3 * yy)]
    return torch.stack(out, dim=-1)


def sh_colors(coeffs: Tensor, means: Tensor, viewmat: Tensor, degree: int) -> Tensor:  # -> [N, 3]
    campos = -viewmat[:3, :3].T @ viewmat[:3, 3]
    d = means - campos
    dirs = d / d.norm(dim=-1, keepdim=True)
    nb = (degree + 1) ** 2
    rgb = (sh_basis(dirs, degree)[:, :, None] * coeffs[:, :nb, :]).sum(dim=1) + 0.5
    return rgb.clamp_min(0.0)


def footprint_radii(cov2d: Tensor, opacities: Tensor, valid: Tensor) -> Tensor:
    """Radius (pixels) of the region where alpha >= 1/255, as an int per Gaussian (0 = none)."""
    q = 2 * torch.log((opacities * 255).clamp_min(1.0))
    r = torch.sqrt(q * torch.maximum(cov2d[:, 0, 0], cov2d[:, 1, 1]))
    ok = valid & (opacities * 255 >= 1)
    return torch.where(ok, torch.ceil(r), torch.zeros_like(r)).to(torch.int32)


def rasterize(means, quats, scales, opacities, colors, viewmat, K, width: int, height: int,
              sh_degree: Optional[int] = None, background: Optional[Tensor] = None, pixel_chunk: int = 4096):
    """Same contract as cuda_ext.rasterize (meta has radii, means2d, depths)."""
    means2d, cov2d, depths, valid = project(means, quats, scales, viewmat, K)
    rgb_g = colors if sh_degree is None else sh_colors(colors, means, viewmat, sh_degree)
    idx = torch.nonzero(valid).squeeze(1)
    idx = idx[torch.sort(depths[idx].detach(), stable=True).indices]   # front to back, ties by index
    m2, cv, op, col, z = means2d[idx], cov2d[idx], opacities[idx], rgb_g[idx], depths[idx]
    det = cv[:, 0, 0] * cv[:, 1, 1] - cv[:, 0, 1] ** 2
    ca, cb, cc = cv[:, 1, 1] / det, -cv[:, 0, 1] / det, cv[:, 0, 0] / det    # conic = inverse(cov2d)
    dt = means.dtype
    vs, us = torch.meshgrid(torch.arange(height, dtype=dt, device=means.device),
                            torch.arange(width, dtype=dt, device=means.device), indexing="ij")
    pix = torch.stack([us.reshape(-1) + 0.5, vs.reshape(-1) + 0.5], dim=-1)   # [P, 2] pixel centres
    out_rgb, out_T, out_depth = [], [], []
    for s in range(0, pix.shape[0], pixel_chunk):
        p = pix[s:s + pixel_chunk]
        dx = p[:, None, 0] - m2[None, :, 0]                                # [P, n]
        dy = p[:, None, 1] - m2[None, :, 1]
        power = -0.5 * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
        alpha = torch.clamp(op * torch.exp(power), max=ALPHA_MAX)
        used = (power <= 0) & (alpha >= ALPHA_MIN)
        alpha = torch.where(used, alpha, torch.zeros_like(alpha))
        trans_after = torch.cumprod(1 - alpha, dim=1)                      # T after each Gaussian
        kept = trans_after >= T_MIN                                        # a prefix: stop at the first failure
        ones = torch.ones_like(trans_after[:, :1])
        trans_before = torch.cat([ones, trans_after[:, :-1]], dim=1)
        w = torch.where(kept, alpha * trans_before, torch.zeros_like(alpha))
        out_rgb.append(w @ col)
        out_depth.append(w @ z)
        final_T = torch.where(kept, 1 - alpha, torch.ones_like(alpha)).prod(dim=1)
        out_T.append(final_T)
    rgb = torch.cat(out_rgb).reshape(height, width, 3)
    T = torch.cat(out_T).reshape(height, width, 1)
    depth = torch.cat(out_depth).reshape(height, width, 1)
    if background is not None:
        rgb = rgb + T * background
    meta = {"radii": footprint_radii(cov2d, opacities, valid), "means2d": means2d, "depths": depths}
    return rgb, 1 - T, depth, meta
