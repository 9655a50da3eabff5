"""The sky: a shell of Gaussians far outside the scene, trained with it and saved in the same file.

Distant content (sky, clouds, far hills) shows no parallax between the cameras of a capture, so
Gaussians fitted to it inside the scene hang in front of other views as a haze. The shell
gives that content a place of its own: Gaussians at a fixed radius around the cameras, each
seen as a patch of about `spacing_px` training pixels, coloured from the images at the start.

Their positions stay fixed (the shell is dense enough); colour, opacity, scale and rotation
train with the rest. They render behind every scene Gaussian (the trainer keeps the scene
inside half the radius), so compositing the scene over the shell equals one rasterisation
of both: the file alone renders as the trainer sees it. Rows of the shell are the last ones
of the exported file and carry the per-splat property `sky` = 1.

Where the dataset marks the sky (depth = inf, as ours do), only directions that some view
sees as sky get a Gaussian, and the scene is taught to be transparent there and opaque
elsewhere. Without marks (photos, COLMAP), every direction some camera sees gets one: the
shell is then the backdrop for whatever lies beyond the scene.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .dataset_loader import Camera, Dataset, has_alpha, project_points
from .model import GaussianModel


@dataclass
class SkyConfig:
    mode: str = "auto"  # auto: on unless the images have alpha (objects on a transparent background) | on | off
    spacing_px: float = 1.5  # neighbour spacing on the shell, in training-image pixels
    max_gaussians: int = 60000
    margin_deg: float = 10.0  # unseen directions this close to seen sky get a Gaussian too (held-out views look there)
    radius_factor: float = 2.0  # shell radius = this x the farthest initial point (at least 50 x the camera spread)
    alpha_weight: float = 0.1  # scene opacity against the sky mask: 0 over sky, 1 over surfaces (datasets with one)


def wants_sky(cfg: SkyConfig, data: Dataset) -> bool:
    if cfg.mode == "off":
        return False
    return cfg.mode == "on" or not has_alpha(data)


def fibonacci_sphere(n: int) -> np.ndarray:
    """n unit directions [n, 3], evenly spread (golden-angle spiral)."""
    i = np.arange(n, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def shell_geometry(data: Dataset, cfg: SkyConfig) -> tuple[np.ndarray, float]:
    """Centre [3] (mean camera position) and radius of the shell."""
    cams = data.train + data.test
    centers = np.stack([c.center for c in cams]).astype(np.float64)
    center = centers.mean(0)
    spread = max(float(np.linalg.norm(centers - center, axis=1).max()), 1e-3)
    far = float(np.linalg.norm(data.points.astype(np.float64) - center, axis=1).max()) if len(data.points) else 0.0
    return center, max(cfg.radius_factor * far, 50.0 * spread)


def _project(cam: Camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points [M, 3] -> integer pixel (u, v) [M] each and a mask [M] of those inside the image."""
    u, v, z = project_points(cam, points)
    with np.errstate(invalid="ignore"):
        u, v = np.floor(u), np.floor(v)
    inside = (z > 0) & (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
    return np.where(inside, u, 0).astype(np.int64), np.where(inside, v, 0).astype(np.int64), inside


def _seen_colours(dirs: np.ndarray, cams: list[Camera], center: np.ndarray, radius: float,
                  masked: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean image colour [M, 3] of each direction over the views that see it (as sky, when masked),
    and how many views do [M]."""
    points = center + radius * dirs
    total = np.zeros((len(dirs), 3))
    seen = np.zeros(len(dirs))
    for cam in cams:
        u, v, inside = _project(cam, points)
        if masked and cam.depth is not None:
            inside &= ~np.isfinite(cam.depth[v, u])
        elif masked:
            continue
        total[inside] += cam.image[v[inside], u[inside]] / 255.0
        seen[inside] += 1
    return total / np.maximum(seen, 1)[:, None], seen


def _with_margin(dirs: np.ndarray, colours: np.ndarray, sky: np.ndarray, seen: np.ndarray,
                 margin: float) -> np.ndarray:
    """Add to `sky` [M] the directions no training view sees (`seen` false) within `margin` radians of
    a sky direction; each takes the colour of its nearest sky direction (colours [M, 3], in place)."""
    cand = np.flatnonzero(~seen)
    src = np.flatnonzero(sky)
    if len(cand) == 0 or len(src) == 0:
        return sky
    d = torch.as_tensor(dirs, dtype=torch.float32)
    near = torch.empty(len(cand), dtype=torch.long)
    best = torch.empty(len(cand))
    for s in range(0, len(cand), 4096):
        dot = d[cand[s:s + 4096]] @ d[src].T  # [c, S] cosines
        best[s:s + 4096], near[s:s + 4096] = dot.max(dim=1)
    close = (best >= math.cos(margin)).numpy()
    colours[cand[close]] = colours[src[near.numpy()[close]]]
    out = sky.copy()
    out[cand[close]] = True
    return out


def has_sky_mask(data: Dataset) -> bool:
    """True when every training view carries depth, whose inf pixels mark the sky."""
    return all(c.depth is not None for c in data.train)


def init_sky(data: Dataset, cfg: SkyConfig, device: torch.device) -> tuple[GaussianModel, np.ndarray, float] | None:
    """The shell as a degree-0 GaussianModel, with its centre and radius; None when no direction is sky."""
    center, radius = shell_geometry(data, cfg)
    fx = float(np.median([c.K[0, 0] for c in data.train]))
    spacing = cfg.spacing_px / fx  # radians between neighbours
    masked = has_sky_mask(data)
    n = int(4 * math.pi / spacing ** 2)
    for _ in range(4):  # coarser until the seen part fits the budget
        dirs = fibonacci_sphere(n)
        colours, seen = _seen_colours(dirs, data.train, center, radius, masked)
        keep = _with_margin(dirs, colours, seen > 0, _seen_colours(dirs, data.train, center, radius, False)[1] > 0,
                            math.radians(cfg.margin_deg))
        if keep.sum() <= cfg.max_gaussians:
            break
        n = int(n * cfg.max_gaussians / keep.sum() * 0.98)
        spacing = math.sqrt(4 * math.pi / n)
    if not keep.any():
        return None
    means = center + radius * dirs[keep]
    model = GaussianModel.from_points(means.astype(np.float32), colours[keep].astype(np.float32), 0, device,
                                      init_opacity=0.9)
    with torch.no_grad():  # knn spacing is right but a patch should cover its neighbours halfway
        model.params["scales_log"].fill_(math.log(0.6 * spacing * radius))
    return model, center.astype(np.float32), float(radius)


def composite(scene_rgb: torch.Tensor, scene_alpha: torch.Tensor, sky_rgb: torch.Tensor) -> torch.Tensor:
    """The scene [H, W, 3] (rendered on black) over the sky [H, W, 3] (rendered on the background):
    what one rasterisation of both gives, since every sky Gaussian lies behind the scene."""
    return scene_rgb + (1.0 - scene_alpha) * sky_rgb


# Adam rates of the shell: positions stay put; the rest as the scene's (the 3DGS defaults).
SKY_LRS = {"means": 0.0, "scales_log": 5e-3, "quats": 1e-3, "opacity_logit": 5e-2, "sh_dc": 2.5e-3, "sh_rest": 0.0}


class SkyShell:
    """The shell's Gaussians (a degree-0 GaussianModel), its own optimiser, centre and radius."""

    def __init__(self, model: GaussianModel, center: np.ndarray, radius: float):
        from .optim import Adam

        self.model = model
        self.center = np.asarray(center, np.float32)
        self.radius = float(radius)
        self.opt = Adam(model.params, SKY_LRS)

    @classmethod
    def create(cls, data: Dataset, cfg: SkyConfig, device: torch.device) -> "SkyShell | None":
        made = init_sky(data, cfg, device) if wants_sky(cfg, data) else None
        return None if made is None else cls(*made)

    def __len__(self) -> int:
        return len(self.model)

    def keep_inside(self, means: torch.Tensor) -> None:
        """Pull scene Gaussians [N, 3] (in place) to within half the radius, so they stay in front."""
        c = torch.as_tensor(self.center, device=means.device)
        d = means - c
        dist = d.norm(dim=1, keepdim=True)
        limit = 0.5 * self.radius
        far = dist > limit
        if bool(far.any()):
            means.copy_(torch.where(far, c + d * (limit / dist.clamp(min=1e-12)), means))

    def state_dict(self) -> dict:
        return {"params": {k: v.detach().cpu().clone() for k, v in self.model.params.items()},
                "optimizer": self.opt.state_dict(), "center": self.center.tolist(), "radius": self.radius}

    def load_state_dict(self, sd: dict, device: torch.device) -> None:
        for k, v in sd["params"].items():
            self.model.params[k] = v.to(device).requires_grad_(True)
        self.opt.load_state_dict(sd["optimizer"])
        self.center = np.asarray(sd["center"], np.float32)
        self.radius = float(sd["radius"])
