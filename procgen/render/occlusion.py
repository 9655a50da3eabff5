"""Occlusion masks and occlusion boundaries (bpy-free; definitions in docs/dataset-format.md).

Occlusion mask of frame t towards frame s = t+1 (fwd) or t-1 (bwd), uint8 [H, W]:

- ``VISIBLE`` (0): the pixel's surface point (or, for the sky, its direction) is seen in s;
- ``OCCLUDED`` (1): it is inside s's view but something else is in front of it there;
- ``OUT_OF_VIEW`` (2): it lands outside s's image (or behind the camera);
- ``UNKNOWN`` (255): s is not part of the dataset (the first frame's bwd, the last frame's fwd),
  so no depth test is possible; out-of-view is still decided by the flow.

The landing pixel is where the flow puts the pixel (exact for every kind of motion, the waves
included). The point's depth in s comes from moving the surface point as the 3D scene flow
does (``scene_flow.moved_surface_points``: with its object's or instancer's matrix, or on a
deforming mesh or a moving instanced copy with its triangle's vertices). It is hidden when the
depth of the pixel it lands on in s is nearer by more than 1 % plus the depth change across half
a pixel of that surface.

Occlusion boundaries of a frame, uint8 [H, W] bits: ``DEPTH_EDGE`` (1) on the nearer pixel of
two 4-neighbours whose depths jump (by more than 5 % of the nearer depth and more than twice
the smaller of the depth steps on either side of the pair along the same line, so a slanted
surface is not an edge; a surface next to the sky always is), ``INSTANCE_EDGE`` (2) on both
pixels of 4-neighbours with surfaces of different instance ids.
"""
from __future__ import annotations

import numpy as np

from ..core.axes import w2c_opencv
from .scene_flow import moved_surface_points

VISIBLE, OCCLUDED, OUT_OF_VIEW, UNKNOWN = 0, 1, 2, 255
DEPTH_EDGE, INSTANCE_EDGE = 1, 2
REL_TOL = 0.01
_FAR = 1e30  # stands for inf in depth differences


def _landing(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel (row, col) each pixel lands on under ``flow`` [H, W, 2], and whether it is inside the image."""
    h, w = flow.shape[:2]
    u = np.arange(w)[None, :] + 0.5 + flow[..., 0]
    v = np.arange(h)[:, None] + 0.5 + flow[..., 1]
    ok = np.isfinite(u) & np.isfinite(v)
    col = np.floor(np.where(ok, u, -1)).astype(np.int64)
    row = np.floor(np.where(ok, v, -1)).astype(np.int64)
    inside = ok & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    return row.clip(0, h - 1), col.clip(0, w - 1), inside


def _half_pixel_change(depth: np.ndarray) -> np.ndarray:
    """Depth change across half a pixel [H, W] of each pixel's own surface: half the smaller one-sided
    step in x plus the same in y (the smaller side, so an edge next to the pixel does not count)."""
    d = np.where(np.isfinite(depth), depth.astype(np.float64), _FAR)
    out = np.zeros(d.shape)
    for axis in (0, 1):
        step = np.abs(np.diff(d, axis=axis))
        pad = np.full_like(np.take(step, [0], axis=axis), np.inf)
        before = np.concatenate([pad, step], axis=axis)
        after = np.concatenate([step, pad], axis=axis)
        smaller = np.minimum(before, after)
        out += 0.5 * np.where(smaller < _FAR / 2, smaller, 0.0)
    return out


def nearer_surface(depth_s: np.ndarray, row: np.ndarray, col: np.ndarray, z: np.ndarray) -> np.ndarray:
    """bool [...]: whether the depth map ``depth_s`` [H, W] at pixels (``row``, ``col``) is nearer than the
    points' own depths ``z`` by more than 1 % of ``z`` plus the depth change across half a pixel of that
    surface: something covers them (the depth test of the occlusion masks and of the point tracks)."""
    there = depth_s[row, col].astype(np.float64)
    return there < z - (REL_TOL * z + _half_pixel_change(depth_s)[row, col])


def occlusion_mask(depth_t: np.ndarray, flow_t: np.ndarray, instance_t: np.ndarray, K_t: np.ndarray,
                   c2w_t: np.ndarray, depth_s: np.ndarray | None, K_s: np.ndarray | None = None,
                   c2w_s: np.ndarray | None = None, motions: dict[int, np.ndarray] | None = None,
                   carried: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """uint8 [H, W] occlusion of frame t towards s (values in the module docstring).

    ``flow_t`` is t's flow towards s; ``motions`` maps instance ids to the 4x4 world motion of
    their object from t to s (ids not listed do not move); ``carried``: the points of the pixels on
    deforming meshes in s (``scene_flow.moved_surface_points``). ``depth_s=None``: s was not rendered.
    """
    row, col, inside = _landing(flow_t)
    mask = np.full(depth_t.shape, OUT_OF_VIEW, np.uint8)
    if depth_s is None:
        mask[inside] = UNKNOWN
        return mask
    _, points, surface = moved_surface_points(depth_t, instance_t, K_t, c2w_t, motions, carried)  # moved to s
    w2c = w2c_opencv(c2w_s)
    z = points @ w2c[2, :3] + w2c[2, 3]  # depth of the (moved) point in s
    there = depth_s[row, col]
    hidden = np.where(surface, nearer_surface(depth_s, row, col, z), np.isfinite(there))  # any surface hides the sky
    seen = inside & (~surface | (z > 0))
    mask[seen] = np.where(hidden[seen], OCCLUDED, VISIBLE)
    return mask


def occlusion_boundaries(depth: np.ndarray, instance: np.ndarray, rel: float = 0.05, ratio: float = 2.0) -> np.ndarray:
    """uint8 [H, W] occlusion-boundary bits of one frame (definition in the module docstring)."""
    d = np.where(np.isfinite(depth), depth.astype(np.float64), _FAR)
    surface = np.isfinite(depth)
    out = np.zeros(depth.shape, np.uint8)
    for axis in (0, 1):
        dm = np.moveaxis(d, axis, 0)          # pairs along the first axis
        n = dm.shape[0]
        if n < 2:
            continue
        jump = np.abs(dm[1:] - dm[:-1])       # [n-1, ...] between k and k+1
        inf = np.full_like(jump[:1], np.inf)
        before = np.concatenate([inf, jump[:-1]])  # step k-1 -> k
        after = np.concatenate([jump[1:], inf])    # step k+1 -> k+2
        near = np.minimum(dm[1:], dm[:-1])
        edge = (near < _FAR / 2) & (jump > rel * near) & (
            (jump >= _FAR / 2) | (jump > ratio * np.minimum(before, after)))
        first_nearer = dm[:-1] <= dm[1:]
        bits = np.moveaxis(out, axis, 0)       # a view: writes go to out
        bits[:-1] |= (edge & first_nearer).astype(np.uint8) * DEPTH_EDGE
        bits[1:] |= (edge & ~first_nearer).astype(np.uint8) * DEPTH_EDGE
        im = np.moveaxis(instance, axis, 0)
        sm = np.moveaxis(surface, axis, 0)
        differ = (im[1:] != im[:-1]) & sm[1:] & sm[:-1]
        bits[:-1] |= differ.astype(np.uint8) * INSTANCE_EDGE
        bits[1:] |= differ.astype(np.uint8) * INSTANCE_EDGE
    return out
