"""Quaternion -> rotation matrix in torch, differentiable: the torch side of the rasterizer's rotations.

The pure-torch reference (``_torch_impl``) and the trainer (densification) use it. It writes the
matrix as the kernels do (``csrc/gaussian_math.h``, ``quat_to_rotmat``), after normalising. The
numpy version for files and cameras is ``procgen.core.rotations.quat_to_matrix``; a test holds
the two equal.
"""
from __future__ import annotations

import torch
from torch import Tensor


def quat_to_rotmat(q: Tensor) -> Tensor:
    """[..., 4] (w, x, y, z), any non-zero norm -> [..., 3, 3], in q's dtype and device."""
    w, x, y, z = (q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)).unbind(-1)
    rows = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
    return torch.stack(rows, dim=-1).reshape(*q.shape[:-1], 3, 3)
