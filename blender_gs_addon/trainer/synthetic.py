"""A small synthetic dataset for tests and benchmarks: random ground-truth Gaussians rendered
with `cuda_ext.rasterize` from a ring of cameras, written in the transforms.json layout
(images/, depth/, points3d.ply). The ground truth is exactly representable by the model,
so a trainer that works reaches high held-out PSNR on it.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from procgen.core.axes import w2c_opencv


@dataclass
class SyntheticScene:
    means: np.ndarray  # [N, 3]
    quats: np.ndarray  # [N, 4]
    scales: np.ndarray  # [N, 3] linear
    opacities: np.ndarray  # [N]
    colors: np.ndarray  # [N, 3] RGB in [0, 1]
    c2w_gl: list  # per view [4, 4] camera-to-world, OpenGL axes
    K: np.ndarray  # [3, 3]
    width: int
    height: int
    images: list  # per view [H, W, 3] uint8
    alphas: list  # per view [H, W] float32
    depths: list  # per view [H, W] float32 z-depth, inf where alpha < 0.5


def look_at_c2w_gl(eye: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world [4, 4] in OpenGL axes (camera looks down its -z, y up)."""
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, up)
    right = right / np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, true_up, -fwd, eye
    return m


def ring_cameras(n_views: int, radius: float = 3.0, heights=(0.6, 1.4)) -> list[np.ndarray]:
    """Cameras on a ring around the origin, alternating between two heights, all looking at it."""
    out = []
    for i in range(n_views):
        a = 2 * math.pi * i / n_views
        z = heights[i % len(heights)]
        out.append(look_at_c2w_gl(np.array([radius * math.cos(a), radius * math.sin(a), z]), np.zeros(3)))
    return out


def make_scene(n_gaussians: int = 300, n_views: int = 24, size: int = 48, seed: int = 0,
               fov_deg: float = 45.0) -> SyntheticScene:
    from cuda_ext import rasterize

    rng = np.random.default_rng(seed)
    means = rng.uniform(-0.8, 0.8, size=(n_gaussians, 3)).astype(np.float32)
    quats = rng.normal(size=(n_gaussians, 4)).astype(np.float32)
    scales = np.exp(rng.uniform(math.log(0.04), math.log(0.15), size=(n_gaussians, 3))).astype(np.float32)
    opac = rng.uniform(0.6, 0.95, size=n_gaussians).astype(np.float32)
    colors = rng.uniform(0.05, 0.95, size=(n_gaussians, 3)).astype(np.float32)
    f = 0.5 * size / math.tan(math.radians(fov_deg) / 2)
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]], np.float32)
    c2ws = ring_cameras(n_views)
    images, alphas, depths = [], [], []
    t = lambda a: torch.as_tensor(a)  # noqa: E731
    with torch.no_grad():
        for c2w in c2ws:
            viewmat = w2c_opencv(c2w).astype(np.float32)
            rgb, alpha, depth, _ = rasterize(t(means), t(quats), t(scales), t(opac), t(colors), t(viewmat), t(K),
                                             size, size)
            a = alpha[..., 0].numpy()
            images.append((np.clip(rgb.numpy(), 0, 1) * 255 + 0.5).astype(np.uint8))
            alphas.append(a)
            d = depth[..., 0].numpy() / np.maximum(a, 1e-6)
            depths.append(np.where(a > 0.5, d, np.inf).astype(np.float32))
    return SyntheticScene(means, quats, scales, opac, colors, c2ws, K, size, size, images, alphas, depths)


def write_transforms_dataset(scene: SyntheticScene, out_dir: str, n_points: int = 2000, seed: int = 0,
                             with_points: bool = True, with_depth: bool = True) -> str:
    """Write the scene in our dataset layout (transforms.json, images/, depth/, points3d.ply)."""
    from procgen.render.initial_points import write_ply as write_points_ply
    from procgen.render.png import write_png

    rng = np.random.default_rng(seed + 7)
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "depth"), exist_ok=True)
    frames = []
    for i, (img, depth, c2w) in enumerate(zip(scene.images, scene.depths, scene.c2w_gl)):
        name = f"{i:05d}"
        write_png(os.path.join(out_dir, "images", name + ".png"), img)
        frames.append({"file_path": f"images/{name}.png", "transform_matrix": c2w.tolist()})
        if with_depth:
            np.save(os.path.join(out_dir, "depth", name + ".npy"), depth)
            frames[-1]["depth_file_path"] = f"depth/{name}.npy"
    doc = {"camera_model": "OPENCV", "fl_x": float(scene.K[0, 0]), "fl_y": float(scene.K[1, 1]),
           "cx": float(scene.K[0, 2]), "cy": float(scene.K[1, 2]), "w": scene.width, "h": scene.height,
           "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "frames": frames}
    if with_points:
        # initial points: samples from the ground-truth Gaussians, jittered, with their colours
        idx = rng.integers(0, len(scene.means), n_points)
        pts = scene.means[idx] + rng.normal(size=(n_points, 3)).astype(np.float32) * scene.scales[idx]
        cols = (np.clip(scene.colors[idx] + rng.normal(scale=0.05, size=(n_points, 3)), 0, 1) * 255).astype(np.uint8)
        write_points_ply(os.path.join(out_dir, "points3d.ply"), pts.astype(np.float32), cols)
        doc["ply_file_path"] = "points3d.ply"
    with open(os.path.join(out_dir, "transforms.json"), "w") as f:
        json.dump(doc, f, indent=1)
    return out_dir
