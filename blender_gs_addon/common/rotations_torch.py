"""Quaternion -> rotation matrix in torch, differentiable (the formula of ``rotations``).

Only torch code imports this module, so loading ``rotations`` never loads torch.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .rotations import matrix_entries


def quat_to_rotmat(q: Tensor) -> Tensor:
    """[..., 4] (w, x, y, z), any non-zero norm -> [..., 3, 3], in q's dtype and device."""
    unit = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.stack(matrix_entries(*unit.unbind(-1)), dim=-1).reshape(*q.shape[:-1], 3, 3)
