"""Splat file formats at N splats of SH degree 3, for the ``splats`` section (no Blender needed).

Per format, in one run on the same splats:
  file_mb, write_s (SplatData -> file), read_s (file -> SplatData),
  ply_to_format_s / format_to_ply_s  our whole conversion (read one file, write the other),
  psnr_db            renders of the decoded file against renders of the .ply source
                     (our rasterizer, 4 cameras; inf: identical pictures),
  splat_transform_*  the pinned npm tool's time for the same conversion (a process, so Node's
                     start-up is in it) and ratio = its time / ours (> 1: we are faster);
                     a direction it does not support says so.
To measure another format, add its suffix to BENCH_FORMATS.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

BENCH_FORMATS = [".glb", ".spz", ".spz v4", ".compressed.ply"]
# A variant of a format: name -> (suffix, our writer's options, splat-transform's options for the same file)
VARIANTS = {".spz": (".spz", {"version": 3}, ["--spz-version", "3"]),
            ".spz v4": (".spz", {"version": 4}, ["--spz-version", "4"])}
SPLAT_TRANSFORM = Path(__file__).resolve().parents[1] / "build" / "npm" / "node_modules" / ".bin" / "splat-transform"
SIZE = (320, 240)


def random_splats(n: int, seed: int = 0):
    """SH degree 3 splats of a few centimetres, whose view-dependent colour is a small part."""
    from blender_gs_addon.splats.synthetic import random_splats

    return random_splats(n, 3, seed=seed, log_scale_mean=-4.0, sh_rest_sd=0.1)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _viewmats() -> list[np.ndarray]:
    """Four world-to-camera matrices (OpenCV axes) looking at the origin from 4 units, Z up."""
    mats = []
    for eye in ((4.0, 0.0, 1.0), (0.0, -4.0, 2.0), (-3.0, 2.5, -1.0), (1.0, 3.5, 1.5)):
        eye = np.asarray(eye)
        z = -eye / np.linalg.norm(eye)
        x = np.cross(z, (0.0, 0.0, 1.0))
        x /= np.linalg.norm(x)
        V = np.eye(4)
        V[:3, :3] = np.stack([x, np.cross(z, x), z])
        V[:3, 3] = -V[:3, :3] @ eye
        mats.append(V)
    return mats


def render_all(data) -> list[np.ndarray]:
    import torch

    from cuda_ext import rasterize

    w, h = SIZE
    K = torch.tensor([[300.0, 0, w / 2], [0, 300.0, h / 2], [0, 0, 1]])
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    colors = t(np.concatenate([data.sh_dc[:, None], data.sh_rest], axis=1))
    out = []
    with torch.no_grad():
        for V in _viewmats():
            rgb, _, _, _ = rasterize(t(data.means), t(data.quats), t(data.scales()), t(data.alphas()), colors,
                                     t(V), K, w, h, sh_degree=data.sh_degree)
            out.append(rgb.numpy())
    return out


def psnr(images: list[np.ndarray], reference: list[np.ndarray]) -> float:
    mse = float(np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(images, reference)]))
    return float("inf") if mse == 0 else round(10 * np.log10(1.0 / mse), 2)


def _splat_transform(src: str, dst: str, options=()) -> tuple[float | None, str | None]:
    """(seconds, None), or (None, why) where the tool is missing or refuses the conversion."""
    if not SPLAT_TRANSFORM.exists() or shutil.which("node") is None:
        return None, "splat-transform is not installed (python build.py setup)"
    t, res = _timed(lambda: subprocess.run([str(SPLAT_TRANSFORM), "-q", "-w", *options, src, dst],
                                           capture_output=True, text=True, timeout=900, check=False))
    if res.returncode != 0:
        lines = (res.stderr + res.stdout).strip().splitlines() or ["failed"]
        return None, "splat-transform: " + lines[0].lstrip("✗ ").strip()[:200]
    return t, None


def _ratio(theirs: float | None, ours: float) -> float | None:
    return None if theirs is None else round(theirs / ours, 3)


def measure_format(name: str, src_path: str, data, reference, tmp: str) -> dict:
    from blender_gs_addon.splats import read_ply, read_splats, write_ply, write_splats

    suffix, options, tool_options = VARIANTS.get(name, (name, {}, []))
    path = os.path.join(tmp, "ours" + suffix)
    t_write, _ = _timed(lambda: write_splats(path, data, **options))
    t_ply_to, _ = _timed(lambda: write_splats(path, read_ply(src_path), **options))
    t_read, decoded = _timed(lambda: read_splats(path))
    t_to_ply, _ = _timed(lambda: write_ply(os.path.join(tmp, "back.ply"), read_splats(path)))
    size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp) if f.startswith("ours"))
    entry = {"file_mb": round(size / 1e6, 1), "write_s": round(t_write, 3), "read_s": round(t_read, 3),
             "ply_to_format_s": round(t_ply_to, 3), "format_to_ply_s": round(t_to_ply, 3),
             "psnr_db": psnr(render_all(decoded), reference)}
    del decoded
    theirs, why = _splat_transform(src_path, os.path.join(tmp, "theirs" + suffix), tool_options)
    entry["splat_transform_ply_to_format_s"] = None if theirs is None else round(theirs, 3)
    entry["ratio_ply_to_format"] = _ratio(theirs, t_ply_to) if why is None else why
    theirs, why = _splat_transform(path, os.path.join(tmp, "theirs_back.ply"))
    entry["splat_transform_format_to_ply_s"] = None if theirs is None else round(theirs, 3)
    entry["ratio_format_to_ply"] = _ratio(theirs, t_to_ply) if why is None else why
    for f in os.listdir(tmp):
        if f != os.path.basename(src_path):
            os.remove(os.path.join(tmp, f))
    return entry


def run(n: int, tmp: str) -> dict:
    """Every format of BENCH_FORMATS at ``n`` splats (SH 3); files go to ``tmp``."""
    from blender_gs_addon.splats import write_ply

    data = random_splats(n)
    src = os.path.join(tmp, "source.ply")
    write_ply(src, data)
    out = {"splats": n, "sh_degree": 3, "ply_mb": round(os.path.getsize(src) / 1e6, 1),
           "render": f"{SIZE[0]}x{SIZE[1]}, 4 cameras"}
    reference = render_all(data)
    for suffix in BENCH_FORMATS:
        out[suffix] = measure_format(suffix, src, data, reference, tmp)
    os.remove(src)
    return out
