"""Shared helpers of the rasterizer tests (torch): random scenes, a render with optional
gradients, loss weights, and the argument list of a direct call."""
from __future__ import annotations

import math

import torch

DIFF_INPUTS = ("means", "quats", "scales", "opacities", "colors")


def make_scene(n: int, width: int, height: int, sh_degree=None, seed: int = 0, dtype=torch.float32,
               scale: float = 0.02) -> dict:
    """n Gaussians in (and a little around) the view of a rotated, shifted camera."""
    g = torch.Generator().manual_seed(seed)
    f = 0.8 * width
    z = 2.0 + 6.0 * torch.rand(n, generator=g)
    u = (torch.rand(n, generator=g) * 1.2 - 0.1) * width
    v = (torch.rand(n, generator=g) * 1.2 - 0.1) * height
    cx, cy = width / 2 + 0.3, height / 2 - 0.2
    cam_pts = torch.stack([(u - cx) / f * z, (v - cy) / f * z, z], dim=-1)
    a = 0.3
    R = torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    t = torch.tensor([0.1, -0.2, 0.3])
    viewmat = torch.eye(4)
    viewmat[:3, :3], viewmat[:3, 3] = R, t
    colors = (torch.rand(n, 3, generator=g) if sh_degree is None
              else 0.4 * torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g))
    scene = dict(
        means=(cam_pts - t) @ R,  # world = R^T (cam - t)
        quats=torch.randn(n, 4, generator=g),
        scales=scale * z[:, None] * torch.exp(0.5 * torch.randn(n, 3, generator=g)),
        opacities=torch.sigmoid(torch.randn(n, generator=g) + 0.5),
        colors=colors,
        viewmat=viewmat,
        K=torch.tensor([[f, 0.0, cx], [0.0, 1.05 * f, cy], [0.0, 0.0, 1.0]]),
    )
    return {k: val.to(dtype) for k, val in scene.items()}


def render(fn, scene, width, height, sh_degree=None, background=None, grad=False, weights=None, **kwargs):
    """Runs fn (kwargs passed on); with grad, back-propagates sum(weights * outputs) and returns the
    input grads too."""
    leaves = {k: (v.clone().requires_grad_(grad and k in DIFF_INPUTS)) for k, v in scene.items()}
    bg = None if background is None else background.clone().requires_grad_(grad)
    rgb, alpha, depth, meta = fn(leaves["means"], leaves["quats"], leaves["scales"], leaves["opacities"],
                                 leaves["colors"], leaves["viewmat"], leaves["K"], width, height,
                                 sh_degree=sh_degree, background=bg, **kwargs)
    out = {"rgb": rgb, "alpha": alpha, "depth": depth, "meta": meta}
    if grad:
        meta["means2d"].retain_grad()
        wr, wa, wd = weights
        ((rgb * wr).sum() + (alpha * wa).sum() + (depth * wd).sum()).backward()
        out["grads"] = {k: leaves[k].grad for k in DIFF_INPUTS}
        out["grads"]["means2d"] = meta["means2d"].grad
        if "means2d_absgrad" in meta:
            out["grads"]["means2d_absgrad"] = meta["means2d_absgrad"]
        if bg is not None:
            out["grads"]["background"] = bg.grad
    return out


def random_weights(height, width, seed=7, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(height, width, 3, generator=g, dtype=dtype),
            torch.randn(height, width, 1, generator=g, dtype=dtype),
            0.1 * torch.randn(height, width, 1, generator=g, dtype=dtype))


def rasterize_args(scene):
    return [scene[k] for k in ("means", "quats", "scales", "opacities", "colors", "viewmat", "K")]
