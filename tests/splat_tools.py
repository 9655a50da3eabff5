"""Helpers of the splat-format tests: in-range test scenes, the independent converter, renders, PSNR.

The independent converter is the splat-transform command-line tool from npm, installed
by ``python build.py setup`` into build/npm and run through tests/tools/npm.py: tests skip
only where Node.js is missing; with Node.js present and the tool missing they fail and say
how to install it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blender_gs_addon.splats import SH_C0, SplatData

ROOT = Path(__file__).resolve().parent.parent
W, H = 128, 96
K = np.array([[110.0, 0, W / 2], [0, 110.0, H / 2], [0, 0, 1]])


def scene(n: int, degree: int, seed: int = 0, sh_scale: float = 0.3) -> SplatData:
    """Random splats inside every format's range: |x| <= 1, f_dc within +-3, log scales in [-6, -1.5]."""
    rng = np.random.default_rng(seed)
    return SplatData(
        means=rng.uniform(-1, 1, size=(n, 3)).astype(np.float32),
        scales_log=rng.uniform(-6, -1.5, size=(n, 3)).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),
        opacity_logit=rng.normal(0.5, 1.5, size=n).astype(np.float32),
        sh_dc=np.clip(rng.normal(0, 1.0, size=(n, 3)), -3, 3).astype(np.float32),
        sh_rest=rng.uniform(-sh_scale, sh_scale, size=(n, (degree + 1) ** 2 - 1, 3)).astype(np.float32),
    )


def splat_transform(*args, timeout: float = 900) -> str:
    """Run the independent converter quietly, overwriting: ``splat_transform(src, dst, ...)``."""
    from tests.tools import npm

    return npm.splat_transform("-q", "-w", *args, timeout=timeout)


def quat_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| of the unit quaternions, with b's sign chosen to match a ([N])."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.abs((a.astype(np.float64) * b).sum(1))))


def band_errors(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Largest root-sum-square difference over each SH band of sh_rest [N, K-1, 3] (per splat and channel)."""
    degree = int(round(np.sqrt(a.shape[1] + 1))) - 1
    out = []
    for band in range(1, degree + 1):
        sl = slice(band * band - 1, (band + 1) ** 2 - 1)
        out.append(float(np.sqrt(((a[:, sl].astype(np.float64) - b[:, sl]) ** 2).sum(1)).max()))
    return out


# ----------------------------------------------------------------------------- rendering

def cameras(n: int = 4, distance: float = 3.2) -> list[np.ndarray]:
    """World-to-camera [4, 4] (OpenCV axes) of ``n`` cameras around the origin, slightly above it."""
    out = []
    for i in range(n):
        a = 2 * np.pi * (i + 0.125) / n
        eye = distance * np.array([np.cos(a), np.sin(a), 0.45])
        z = -eye / np.linalg.norm(eye)
        x = np.cross(z, [0.0, 0.0, 1.0])
        x /= np.linalg.norm(x)
        V = np.eye(4)
        V[:3, :3] = np.stack([x, np.cross(z, x), z])
        V[:3, 3] = -V[:3, :3] @ eye
        out.append(V)
    return out


def render_views(data: SplatData) -> np.ndarray:
    """RGB renders [4, H, W, 3] of ``data`` by the project's rasterizer from the four cameras()."""
    torch = pytest.importorskip("torch", reason="the rasterizer needs torch")
    from blender_gs_addon.cuda_ext import rasterize

    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    colors = np.concatenate([data.sh_dc[:, None], data.sh_rest], axis=1)
    images = []
    with torch.no_grad():
        for V in cameras():
            rgb, _, _, _ = rasterize(t(data.means), t(data.quats), t(data.scales()), t(data.alphas()), t(colors),
                                     t(V), t(K), W, H, sh_degree=data.sh_degree)
            images.append(rgb.numpy())
    return np.stack(images)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((a.astype(np.float64) - b) ** 2)))


def noise_psnr(dc_step: float, sh_steps: list[float], log_scale_step: float, alpha_step: float) -> float:
    """The PSNR a format's quantisation steps allow, derived for the worst pixel kind.

    Model: a pixel shows one opaque splat of brightness up to 1 (no averaging over splats,
    which only lowers the error); each stored value is off by a uniform error of its step
    (variance step^2 / 12). The colour error is C0 * dc error plus SH errors, whose band-l
    part has variance (2l + 1) / (4 pi) * var per coefficient (the addition theorem); a
    log-scale error e changes the footprint value G = exp(-q/2) by G q e, at most 2/e * e;
    an opacity error passes through as it is. Position and rotation errors move footprints
    by well under 0.01 pixel at these cameras and are left out.
    """
    var = (SH_C0 * dc_step) ** 2 / 12
    var += sum((2 * band + 1) / (4 * np.pi) * step ** 2 / 12 for band, step in enumerate(sh_steps, start=1))
    var += (2 / np.e * log_scale_step) ** 2 / 12 + alpha_step ** 2 / 12
    return float(-10 * np.log10(var))
