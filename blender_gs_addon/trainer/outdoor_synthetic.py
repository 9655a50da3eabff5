"""An outdoor scene with a walking camera for tests and benchmarks (no Blender): ground and trees
made of Gaussians under an analytic cloudy sky at infinity.

The camera walks forward at eye height and turns, as a phone capture does; about 40 % of each
view is sky. The sky is a function of the viewing direction only, so it is exactly what a
capture sees of content at infinity; depth is inf there. Written in our dataset layout, with
or without depth and initial points (a capture of photos has neither).
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import torch

from procgen.core.axes import w2c_opencv

from .synthetic import SyntheticScene, look_at_c2w_gl, write_transforms_dataset


def sky_colour(dirs: np.ndarray) -> np.ndarray:
    """Linear-ish display colour [..., 3] of unit world directions [..., 3] (z up): a blue gradient with
    soft cloud bands, darker towards the zenith."""
    elev = np.arcsin(np.clip(dirs[..., 2], -1, 1))
    azim = np.arctan2(dirs[..., 1], dirs[..., 0])
    t = np.clip(elev / (math.pi / 2), 0, 1)[..., None]
    base = (1 - t) * np.array([0.78, 0.86, 0.95]) + t * np.array([0.25, 0.45, 0.85])
    cloud = np.sin(5 * azim + 3 * np.sin(2 * elev)) * np.sin(9 * elev + 2 * np.cos(3 * azim))
    cloud = np.clip((cloud - 0.2) * 1.6, 0, 1)[..., None] * (elev > 0)[..., None]
    return np.clip(base * (1 - cloud) + np.array([0.97, 0.97, 0.97]) * cloud, 0, 1)


def _ground_and_trees(rng: np.random.Generator) -> dict[str, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(-30, 30, 0.6), np.arange(-10, 60, 0.6))
    n = gx.size
    ground = np.stack([gx.ravel(), gy.ravel(), np.zeros(n)], 1) + rng.normal(0, 0.1, (n, 3)) * [1, 1, 0]
    g_col = np.array([0.30, 0.45, 0.18]) + rng.normal(0, 0.06, (n, 3))
    g_scale = np.tile([0.4, 0.4, 0.03], (n, 1))
    parts = [(ground, g_scale, g_col)]
    beside = rng.uniform(3, 12, 8) * rng.choice([-1, 1], 8)  # trees left and right of the path
    for tx, ty in zip(beside, rng.uniform(8, 40, 8)):
        h = rng.uniform(3, 5)
        trunk = np.stack([np.full(8, tx), np.full(8, ty), np.linspace(0.2, h * 0.6, 8)], 1)
        parts.append((trunk, np.tile([0.12, 0.12, 0.3], (8, 1)), np.tile([0.35, 0.25, 0.15], (8, 1))))
        m = 60
        crown = np.array([tx, ty, h * 0.75]) + rng.normal(0, 1, (m, 3)) * [0.9, 0.9, 0.8]
        parts.append((crown, np.full((m, 3), 0.3), np.array([0.12, 0.35, 0.10]) + rng.normal(0, 0.05, (m, 3))))
    means, scales, colors = (np.concatenate([p[i] for p in parts]).astype(np.float32) for i in range(3))
    return {"means": means, "scales": scales, "colors": np.clip(colors, 0.02, 0.98).astype(np.float32)}


def walking_cameras(n_views: int, length: float = 12.0, turn_deg: float = 50.0) -> list[np.ndarray]:
    """Camera-to-world [4, 4] (OpenGL axes) at eye height, walking +y and turning left by turn_deg."""
    out = []
    for i in range(n_views):
        s = i / max(n_views - 1, 1)
        heading = math.radians(turn_deg) * s
        eye = np.array([-2.0 * s * s, length * s, 1.6])
        fwd = np.array([-math.sin(heading), math.cos(heading), 0.15])
        out.append(look_at_c2w_gl(eye, eye + fwd))
    return out


def make_outdoor_scene(n_views: int = 24, width: int = 64, height: int = 48, seed: int = 0,
                       fov_deg: float = 70.0) -> SyntheticScene:
    from cuda_ext import rasterize

    rng = np.random.default_rng(seed)
    g = _ground_and_trees(rng)
    n = len(g["means"])
    quats = np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1))
    opac = np.full(n, 0.95, np.float32)
    f = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float32)
    c2ws = walking_cameras(n_views)
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays_cv = np.stack([(u - K[0, 2]) / f, (v - K[1, 2]) / f, np.ones_like(u)], -1)  # OpenCV camera axes
    images, alphas, depths = [], [], []
    t = torch.as_tensor
    with torch.no_grad():
        for c2w in c2ws:
            viewmat = w2c_opencv(c2w).astype(np.float32)
            # Gaussians just beside the lens project (unclamped EWA) to huge smears: leave them out
            near = (g["means"] @ viewmat[:3, :3].T + viewmat[:3, 3])[:, 2] > 1.0
            rgb, alpha, depth, _ = rasterize(t(g["means"][near]), t(quats[near]), t(g["scales"][near]),
                                             t(opac[near]), t(g["colors"][near]), t(viewmat), t(K), width, height)
            a = alpha[..., 0].numpy()
            dirs = rays_cv @ viewmat[:3, :3]  # camera -> world rotation: R^T x
            dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
            img = rgb.numpy() + (1 - a[..., None]) * sky_colour(dirs)
            images.append((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
            alphas.append(a)
            d = depth[..., 0].numpy() / np.maximum(a, 1e-6)
            depths.append(np.where(a > 0.5, d, np.inf).astype(np.float32))
    return SyntheticScene(g["means"], quats, g["scales"], opac, g["colors"], c2ws, K, width, height, images,
                          alphas, depths)


def write_outdoor_dataset(out_dir: str, with_depth: bool = True, with_points: bool = True, **kw) -> str:
    """The scene in our layout; without depth and points it is what a photo capture gives. Held out:
    every 8th frame from the 4th, views between training views (frame 0 would look at ground that
    no training view sees)."""
    scene = make_outdoor_scene(**kw)
    write_transforms_dataset(scene, out_dir, n_points=3000, with_points=with_points, with_depth=with_depth)
    path = os.path.join(out_dir, "transforms.json")
    with open(path) as f:
        doc = json.load(f)
    doc["test_filenames"] = [fr["file_path"] for i, fr in enumerate(doc["frames"]) if i % 8 == 4]
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return out_dir
