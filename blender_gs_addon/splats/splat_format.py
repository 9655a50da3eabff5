"""The compact ``.splat`` format: 32 bytes per splat, no higher SH (bpy-free).

Per splat: position 3 x float32, scale 3 x float32 (linear standard deviations),
RGBA 4 x uint8 (colour 0.5 + C0 * f_dc, alpha sigmoid(opacity)), rotation 4 x uint8
(unit quaternion w, x, y, z mapped to q * 128 + 128).
"""
from __future__ import annotations

import os

import numpy as np

from .data import SH_C0, SplatData
from .errors import SplatFormatError
from .ply import atomic_write, check_finite

SPLAT_DTYPE = np.dtype([("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
_ALPHA_EPS = 1e-4  # keeps logits finite for alpha 0 and 255 while rounding back to the same byte


def read_splat(path: str | os.PathLike) -> SplatData:
    """Read a .splat file into SplatData (SH degree 0). Raises SplatFormatError when malformed."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise SplatFormatError(path, "file is empty")
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == b"ply\n" or head.startswith(b"ply\r"):
            raise SplatFormatError(path, "this is a PLY file, not a .splat file (rename it to .ply)")
        if head[:2] == b"\x1f\x8b":
            raise SplatFormatError(path, "this is a gzip-compressed file (an .spz?), not a .splat file")
        if size % SPLAT_DTYPE.itemsize:
            raise SplatFormatError(
                path, f"file size {size} is not a multiple of 32 bytes (truncated or not a .splat file)")
        arr = np.fromfile(path, dtype=SPLAT_DTYPE)
    except OSError as exc:
        raise SplatFormatError(path, f"cannot read file: {exc.strerror or exc}") from None
    n = arr.shape[0]
    with np.errstate(invalid="ignore"):  # NaN bytes are reported below
        scale = arr["scale"].astype(np.float64)
    if not np.isfinite(arr["position"]).all() or not np.isfinite(scale).all():
        bad = int((~np.isfinite(arr["position"])).sum() + (~np.isfinite(scale)).sum())
        raise SplatFormatError(path, f"{bad} position/scale values are NaN or infinite")
    if (scale <= 0).any():
        raise SplatFormatError(path, f"{int((scale <= 0).sum())} scale values are zero or negative")
    rgba = arr["rgba"].astype(np.float64) / 255.0
    alpha = np.clip(rgba[:, 3], _ALPHA_EPS, 1.0 - _ALPHA_EPS)
    rot = (arr["rot"].astype(np.float64) - 128.0) / 128.0
    norm = np.linalg.norm(rot, axis=1)
    rot[norm == 0] = (1.0, 0.0, 0.0, 0.0)
    data = SplatData(
        means=np.ascontiguousarray(arr["position"], dtype=np.float32),
        scales_log=np.log(scale).astype(np.float32),
        quats=rot.astype(np.float32),
        opacity_logit=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=((rgba[:, :3] - 0.5) / SH_C0).astype(np.float32),
        sh_rest=np.zeros((n, 0, 3), np.float32),
    )
    check_finite(data, path)
    return data


def write_splat(path: str | os.PathLike, data: SplatData) -> None:
    """Write SplatData as .splat atomically. Higher SH bands, normals and extras are dropped."""
    path = os.fspath(path)
    data.validate()
    arr = np.empty(len(data), SPLAT_DTYPE)
    arr["position"] = data.means
    arr["scale"] = data.scales()  # clamped to what float32 holds, with a warning
    colour = 0.5 + SH_C0 * data.sh_dc.astype(np.float64)
    rgba = np.empty((len(data), 4), np.float64)
    rgba[:, :3] = colour
    rgba[:, 3] = 1.0 / (1.0 + np.exp(-data.opacity_logit.astype(np.float64)))
    arr["rgba"] = np.clip(np.floor(rgba * 255.0 + 0.5), 0, 255).astype(np.uint8)
    q = data.quats.astype(np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    # Quaternions that are already unit up to 8-bit quantisation (e.g. read from a .splat) are
    # encoded as they are, so .splat -> .splat is byte-stable; the others are normalised.
    renorm = np.abs(norm - 1.0) > 0.02
    q = np.where(renorm, q / np.where(norm == 0, 1.0, norm), q)
    q[norm[:, 0] == 0] = (1.0, 0.0, 0.0, 0.0)
    arr["rot"] = np.clip(np.floor(q * 128.0 + 128.0 + 0.5), 0, 255).astype(np.uint8)
    atomic_write(path, [arr])
