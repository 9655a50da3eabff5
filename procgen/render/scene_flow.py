"""The world-space motion of each pixel's surface point between frames (bpy-free).

A pixel's surface point (its depth unprojected through its camera) moves with its object: the
4x4 world motion from frame t to s of the object, or of the instancer of an instanced object
(``camera_motion.object_motions``); ids without a motion stay where they are. Deforming
surfaces such as the water are taken as rigid and still (their waves rise and fall a few
centimetres at most). ``occlusion.occlusion_mask`` uses the same moved points for its depth test.

3D scene flow of frame t towards s = t+1 (fwd) or t-1 (bwd): float32 [H, W, 3], the moved point
minus the point, in world units and axes; NaN where the pixel has no surface (docs/dataset-format.md).
"""
from __future__ import annotations

import numpy as np

from .camera_poses import unproject_depth


def moved_surface_points(depth_t: np.ndarray, instance_t: np.ndarray, K_t: np.ndarray, c2w_t: np.ndarray,
                         motions: dict[int, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points [H, W, 3] world at t, the same points moved to s, surface [H, W] bool).

    ``motions`` maps instance ids to the 4x4 world motion of their object from t to s; pixels
    without a surface get the point at depth 1 (not meaningful)."""
    surface = np.isfinite(depth_t)
    points = unproject_depth(np.where(surface, depth_t, 1.0), K_t, c2w_t)  # [H, W, 3] world
    moved = points.copy()
    for i, m in (motions or {}).items():
        sel = surface & (instance_t == i)
        if sel.any():
            moved[sel] = points[sel] @ m[:3, :3].T + m[:3, 3]
    return points, moved, surface


def scene_flow(depth_t: np.ndarray, instance_t: np.ndarray, K_t: np.ndarray, c2w_t: np.ndarray,
               motions: dict[int, np.ndarray] | None) -> np.ndarray:
    """float32 [H, W, 3]: world motion of each pixel's surface point from t to s, NaN without a surface."""
    points, moved, surface = moved_surface_points(depth_t, instance_t, K_t, c2w_t, motions)
    flow = (moved - points).astype(np.float32)
    flow[~surface] = np.nan
    return flow
