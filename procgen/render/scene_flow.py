"""The world-space motion of each pixel's surface point between frames (bpy-free).

A pixel's surface point (its depth unprojected through its camera) moves with its object: the
4x4 world motion from frame t to s of the object, or of the instancer of an instanced object
(``camera_motion.object_motions``); ids without a motion stay where they are. On a directly
drawn mesh whose vertices move in object space (the water's wave grid, an animal's moving
parts, a plant bending in the wind) the point is instead anchored to its triangle of the
evaluated mesh in frame t and rebuilt from that triangle's vertices in frame s, as the point
tracks follow their surfaces (``track_anchors.anchor_pixels`` / ``carry_pixels``, given here as
``carried``); so is a point on a geometry-node copy that the wind shears or whose shared mesh
flutters, on its own copy (``instance_anchors``). Copies drawn through collection instances move
with their instancer's matrix only.
``occlusion.occlusion_mask`` uses the same moved points for its depth test.

3D scene flow of frame t towards s = t+1 (fwd) or t-1 (bwd): float32 [H, W, 3], the moved point
minus the point, in world units and axes; NaN where the pixel has no surface (docs/dataset-format.md).
"""
from __future__ import annotations

import numpy as np

from .camera_poses import unproject_depth


def surface_points(depth_t: np.ndarray, K_t: np.ndarray, c2w_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points [H, W, 3] world, surface [H, W] bool): each pixel's depth unprojected; pixels without
    a surface get the point at depth 1 (not meaningful)."""
    surface = np.isfinite(depth_t)
    return unproject_depth(np.where(surface, depth_t, 1.0), K_t, c2w_t), surface


def moved_surface_points(depth_t: np.ndarray, instance_t: np.ndarray, K_t: np.ndarray, c2w_t: np.ndarray,
                         motions: dict[int, np.ndarray] | None, carried: tuple[np.ndarray, np.ndarray] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points [H, W, 3] world at t, the same points moved to s, surface [H, W] bool).

    ``motions`` maps instance ids to the 4x4 world motion of their object from t to s;
    ``carried`` = (flat pixel indices [K], world points [K, 3] in s) replaces the motion of the
    pixels on deforming meshes and moving copies (``track_anchors.surface_motions``)."""
    points, surface = surface_points(depth_t, K_t, c2w_t)
    moved = points.copy()
    for i, m in (motions or {}).items():
        sel = surface & (instance_t == i)
        if sel.any():
            moved[sel] = points[sel] @ m[:3, :3].T + m[:3, 3]
    if carried is not None and len(carried[0]):
        moved.reshape(-1, 3)[carried[0]] = carried[1]
    return points, moved, surface


def scene_flow(depth_t: np.ndarray, instance_t: np.ndarray, K_t: np.ndarray, c2w_t: np.ndarray,
               motions: dict[int, np.ndarray] | None, carried: tuple[np.ndarray, np.ndarray] | None = None
               ) -> np.ndarray:
    """float32 [H, W, 3]: world motion of each pixel's surface point from t to s, NaN without a surface."""
    points, moved, surface = moved_surface_points(depth_t, instance_t, K_t, c2w_t, motions, carried)
    flow = (moved - points).astype(np.float32)
    flow[~surface] = np.nan
    return flow
