"""SplatData: the in-memory model of a set of 3D Gaussians (bpy-free, numpy only).

Fields hold the values exactly as the 3DGS PLY layout stores them (logits, log scales,
unnormalised (w, x, y, z) quaternions, SH coefficients), so that a file read and written
again is bit-exact.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import SplatFormatError

# Log-scales whose exp a float32 holds as a finite, normal, positive number.
LOG_SCALE_RANGE = (float(np.log(np.finfo(np.float32).tiny)), float(np.log(np.finfo(np.float32).max)) - 1e-3)


class SplatValueWarning(UserWarning):
    """A value a file format cannot hold was clamped on writing."""

SH_C0 = 0.28209479177387814  # Y_0^0; colour = 0.5 + SH_C0 * f_dc


def sh_degree_from_rest_count(k_minus_1: int) -> int | None:
    """Number of non-DC SH coefficients per channel -> degree, or None if not (deg+1)^2 - 1."""
    for deg in range(0, 4):  # the 3DGS layout stores degrees 0..3
        if (deg + 1) ** 2 - 1 == k_minus_1:
            return deg
    return None


@dataclass
class SplatData:
    """N Gaussians. All arrays float32 and C-contiguous.

    means          [N, 3]       positions
    scales_log     [N, 3]       log of the per-axis standard deviations
    quats          [N, 4]       rotation (w, x, y, z) as stored (not necessarily unit)
    opacity_logit  [N]          logit of the peak opacity
    sh_dc          [N, 3]       SH band 0 per channel (f_dc_0..2)
    sh_rest        [N, K-1, 3]  SH bands 1..deg, coefficient-major, channel last
    normals        [N, 3] | None
    extra          name -> [N] unknown per-splat properties, in file order (dtype as read)
    layout         the file's vertex property order and types ((name, ply type) pairs),
                   used to write the same layout back; None -> the canonical layout
    comments       header comment lines of the source file (written back as they were)
    """

    means: np.ndarray
    scales_log: np.ndarray
    quats: np.ndarray
    opacity_logit: np.ndarray
    sh_dc: np.ndarray
    sh_rest: np.ndarray
    normals: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    layout: list[tuple[str, str]] | None = None
    comments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------- derived
    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def count(self) -> int:
        return len(self)

    @property
    def sh_degree(self) -> int:
        deg = sh_degree_from_rest_count(int(self.sh_rest.shape[1]))
        assert deg is not None
        return deg

    def colors(self) -> np.ndarray:  # [N, 3] linear display colour in 0..1
        return np.clip(0.5 + SH_C0 * self.sh_dc, 0.0, 1.0).astype(np.float32)

    def alphas(self) -> np.ndarray:  # [N] opacity in 0..1
        return (1.0 / (1.0 + np.exp(-self.opacity_logit.astype(np.float64)))).astype(np.float32)

    def scales(self) -> np.ndarray:  # [N, 3] linear standard deviations
        """exp(scales_log) as float32; log-scales whose exp float32 cannot hold (beyond about +-88)
        are clamped to the nearest value it can, with a warning that says how many."""
        log = self.scales_log.astype(np.float64)
        lo, hi = LOG_SCALE_RANGE
        outside = int(((log < lo) | (log > hi)).sum())
        if outside:
            warnings.warn(SplatValueWarning(
                f"{outside} log-scale values lie outside [{lo:.1f}, {hi:.1f}], beyond what a float32 linear "
                "scale can hold; they were clamped to it"), stacklevel=2)
        return np.exp(np.clip(log, lo, hi)).astype(np.float32)

    def unit_quats(self) -> np.ndarray:  # [N, 4] normalised (w, x, y, z)
        q = self.quats.astype(np.float64)
        n = np.linalg.norm(q, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return (q / n).astype(np.float32)

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        """Check shapes and dtypes; raise SplatFormatError(None, reason) if inconsistent."""
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        want = {
            "means": (self.means, (n, 3)),
            "scales_log": (self.scales_log, (n, 3)),
            "quats": (self.quats, (n, 4)),
            "opacity_logit": (self.opacity_logit, (n,)),
            "sh_dc": (self.sh_dc, (n, 3)),
        }
        for name, (arr, shape) in want.items():
            if not isinstance(arr, np.ndarray) or arr.shape != shape:
                raise SplatFormatError(None, f"{name} must have shape {shape}, got {getattr(arr, 'shape', None)}")
            if arr.dtype != np.float32:
                raise SplatFormatError(None, f"{name} must be float32, got {arr.dtype}")
        r = self.sh_rest
        if r.ndim != 3 or r.shape[0] != n or r.shape[2] != 3 or sh_degree_from_rest_count(r.shape[1]) is None:
            raise SplatFormatError(None, f"sh_rest must have shape [N, (deg+1)^2-1, 3], got {r.shape}")
        if r.dtype != np.float32:
            raise SplatFormatError(None, f"sh_rest must be float32, got {r.dtype}")
        if self.normals is not None and (self.normals.shape != (n, 3) or self.normals.dtype != np.float32):
            raise SplatFormatError(
                None, f"normals must be float32 [N, 3], got {self.normals.dtype} {self.normals.shape}")
        for name, arr in self.extra.items():
            if arr.shape != (n,):
                raise SplatFormatError(None, f"extra property {name!r} must have shape ({n},), got {arr.shape}")

    # ----------------------------------------------------------------- building
    @classmethod
    def empty_like_degree(cls, n: int, sh_degree: int = 0) -> "SplatData":
        """Zero-initialised data (identity rotations) for n splats of the given SH degree."""
        k1 = (sh_degree + 1) ** 2 - 1
        quats = np.zeros((n, 4), np.float32)
        quats[:, 0] = 1.0
        return cls(
            means=np.zeros((n, 3), np.float32), scales_log=np.zeros((n, 3), np.float32), quats=quats,
            opacity_logit=np.zeros(n, np.float32), sh_dc=np.zeros((n, 3), np.float32),
            sh_rest=np.zeros((n, k1, 3), np.float32),
        )

    def subset(self, index: np.ndarray) -> "SplatData":
        """The splats selected by a boolean mask or an index array (same layout)."""
        return dataclasses.replace(
            self,
            means=np.ascontiguousarray(self.means[index]),
            scales_log=np.ascontiguousarray(self.scales_log[index]),
            quats=np.ascontiguousarray(self.quats[index]),
            opacity_logit=np.ascontiguousarray(self.opacity_logit[index]),
            sh_dc=np.ascontiguousarray(self.sh_dc[index]),
            sh_rest=np.ascontiguousarray(self.sh_rest[index]),
            normals=None if self.normals is None else np.ascontiguousarray(self.normals[index]),
            extra={k: np.ascontiguousarray(v[index]) for k, v in self.extra.items()},
        )

    # ----------------------------------------------------------------- flat columns
    def columns(self) -> dict[str, np.ndarray]:
        """Every stored property as a [N] array keyed by its PLY name, canonical order then extras."""
        cols: dict[str, np.ndarray] = {}
        for i, c in enumerate("xyz"):
            cols[c] = self.means[:, i]
        if self.normals is not None:
            for i, c in enumerate(("nx", "ny", "nz")):
                cols[c] = self.normals[:, i]
        for i in range(3):
            cols[f"f_dc_{i}"] = self.sh_dc[:, i]
        k1 = self.sh_rest.shape[1]
        for ch in range(3):  # the file groups f_rest per channel
            for j in range(k1):
                cols[f"f_rest_{ch * k1 + j}"] = self.sh_rest[:, j, ch]
        cols["opacity"] = self.opacity_logit
        for i in range(3):
            cols[f"scale_{i}"] = self.scales_log[:, i]
        for i in range(4):
            cols[f"rot_{i}"] = self.quats[:, i]
        for k, v in self.extra.items():
            cols[k] = v
        return cols

    @classmethod
    def from_columns(cls, cols: dict[str, np.ndarray], path=None, layout=None, comments=None) -> "SplatData":
        """Inverse of columns(); unknown keys become extras (in the given order).

        Raises SplatFormatError(path, ...) when a required property is missing.
        """
        names = list(cols)
        k1, has_normals = check_property_names(names, path)
        n = len(cols["x"])
        fields = {}
        core = set()
        for name, props in field_columns(k1, has_normals).items():
            core.update(props)
            block = np.empty((n, len(props)), np.float32)
            for i, p in enumerate(props):
                block[:, i] = cols[p]
            if name == "sh_rest":
                block = np.ascontiguousarray(block.reshape(n, 3, k1).transpose(0, 2, 1))
            elif name == "opacity_logit":
                block = block.reshape(n)
            fields[name] = block
        extra = {k: np.ascontiguousarray(v) for k, v in cols.items() if k not in core}
        return cls(**fields, extra=extra, layout=layout, comments=list(comments or []))


def field_columns(data_or_k1, has_normals: bool | None = None) -> dict[str, list[str]]:
    """PLY property names of each SplatData field, in field order (f_rest in file order)."""
    if isinstance(data_or_k1, SplatData):
        k1, has_normals = data_or_k1.sh_rest.shape[1], data_or_k1.normals is not None
    else:
        k1 = data_or_k1
    out = {"means": ["x", "y", "z"]}
    if has_normals:
        out["normals"] = ["nx", "ny", "nz"]
    out["sh_dc"] = [f"f_dc_{i}" for i in range(3)]
    out["sh_rest"] = [f"f_rest_{i}" for i in range(3 * k1)]  # channel-major, as in the file
    out["opacity_logit"] = ["opacity"]
    out["scales_log"] = [f"scale_{i}" for i in range(3)]
    out["quats"] = [f"rot_{i}" for i in range(4)]
    return out


REQUIRED = ("x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
            "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3")


def check_property_names(names: list[str], path=None) -> tuple[int, bool]:
    """Validate the property names of a splat file -> (SH coefficients per channel - 1, has normals)."""
    present = set(names)
    missing = [k for k in REQUIRED if k not in present]
    if missing:
        raise SplatFormatError(path, "not a Gaussian splat file: missing properties " + ", ".join(missing))
    rest = [k for k in names if k.startswith("f_rest_")]
    n_rest = len(rest)
    names_ok = set(rest) == {f"f_rest_{i}" for i in range(n_rest)}
    if not names_ok or n_rest % 3 or sh_degree_from_rest_count(n_rest // 3) is None:
        raise SplatFormatError(
            path, f"{n_rest} f_rest properties do not form SH bands: expected f_rest_0..f_rest_(3*((D+1)^2-1)-1) "
                  "for a degree D of 0..3")
    return n_rest // 3, all(k in present for k in ("nx", "ny", "nz"))
