"""Differentiable 3D Gaussian rasterizer (C++ CPU kernels and CUDA kernels).

    from cuda_ext import rasterize
    rgb, alpha, depth, meta = rasterize(means, quats, scales, opacities, colors,
                                        viewmat, K, width, height, sh_degree=None, background=None)

The compiled module is built and loaded on the first call (see `cuda_ext._build`).
"""
from ._wrapper import rasterize

__all__ = ["rasterize"]
