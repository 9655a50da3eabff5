"""Editing splats without Blender: transforms, filters, crops, SH reduction, decimation, merging.

Every function takes SplatData and returns new SplatData (or a [N] bool mask of the splats to
keep); the command line (``gs edit``), the console API and the Blender operators all call these.

Coordinates. SplatData holds the file's own coordinates. Where a parameter is given in other
coordinates, ``frame`` is the 4x4 affine matrix from the file's coordinates to those: the
parameter is read there (a box, a sphere, a rotation, a column value). Blender passes an
object's world matrix; the command line passes ``SPLAT_TRANSFORM_FRAME``, the frame in which
splat-transform reads its options (the file turned 180 degrees about Z: x and y negated).

Values of ``value_mask`` follow splat-transform's meanings: ``opacity`` is the activated opacity
(sigmoid of the stored logit), ``scale_0..2`` linear standard deviations (exp of the stored
logs), ``f_dc_0..2`` colours (0.5 + SH_C0 * f_dc); ``<name>_raw`` compares those stored values
as they are, and any other name is a stored column (x, rot_0, f_rest_7, an extra property...).
``scale_max`` is the largest linear scale of a splat. The stored float32 value is compared with
the given value converted into the stored space, in float64.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from .data import SH_C0, SplatData
from .transform import bake_transform

SPLAT_TRANSFORM_FRAME = np.diag([-1.0, -1.0, 1.0, 1.0])  # splat-transform's coordinates of a 3DGS file

COMPARATORS = {"lt": np.less, "lte": np.less_equal, "gt": np.greater, "gte": np.greater_equal,
               "eq": np.equal, "neq": np.not_equal}


def _log(v: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log(np.float64(v)))  # log(0) = -inf and log(<0) = nan, as splat-transform compares


# activated name -> (stored column, activated value -> stored value); all increasing, so comparisons keep their sense
_STORED = {"opacity": ("opacity", lambda v: math.log(v / (1.0 - v)))}
_STORED.update({f"scale_{i}": (f"scale_{i}", _log) for i in range(3)})
_STORED.update({f"f_dc_{i}": (f"f_dc_{i}", lambda v: (v - 0.5) / SH_C0) for i in range(3)})
_STORED["scale_max"] = ("scale_max", _log)
# columns whose values change with the frame (positions, orientations, sizes, view-dependent colour)
_FRAME_COLUMNS = {"x", "y", "z", "nx", "ny", "nz", "scale_0", "scale_1", "scale_2", "scale_max",
                  "rot_0", "rot_1", "rot_2", "rot_3"}


class EditError(ValueError):
    """An edit cannot be made as asked (unknown attribute, value out of range...); says why."""


# ----------------------------------------------------------------------------- transforms

def euler_matrix(degrees: Sequence[float]) -> np.ndarray:
    """Rotation [3, 3] of Euler angles in degrees about x, then y, then z (fixed axes): Rz @ Ry @ Rx.

    This is Blender's 'XYZ' Euler order and splat-transform's ``--rotate``."""
    rx, ry, rz = np.radians(np.asarray(degrees, np.float64))
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return z @ y @ x


def affine(linear: np.ndarray | None = None, offset: Sequence[float] | None = None) -> np.ndarray:
    """4x4 matrix of a 3x3 linear part and an offset."""
    m = np.eye(4)
    if linear is not None:
        m[:3, :3] = linear
    if offset is not None:
        m[:3, 3] = offset
    return m


def transform(data: SplatData, matrix: np.ndarray, frame: np.ndarray | None = None) -> SplatData:
    """Move the splats by the 4x4 ``matrix`` (rotation, translation, scale) given in ``frame``:
    positions, rotations, scales and SH colour (rotated) change together, as export bakes them."""
    m = np.asarray(matrix, np.float64)
    if frame is not None:
        f = np.asarray(frame, np.float64)
        m = np.linalg.inv(f) @ m @ f
    return bake_transform(data, m)


def translate(data: SplatData, offset: Sequence[float], frame: np.ndarray | None = None) -> SplatData:
    return transform(data, affine(offset=offset), frame)


def rotate(data: SplatData, degrees: Sequence[float], frame: np.ndarray | None = None) -> SplatData:
    """Rotate about the origin by Euler angles in degrees (see euler_matrix)."""
    return transform(data, affine(euler_matrix(degrees)), frame)


def scale(data: SplatData, factor: float) -> SplatData:
    """Scale uniformly about the origin (positions and sizes); a factor <= 0 is refused."""
    if not factor > 0:
        raise EditError(f"the scale factor must be > 0, got {factor:g}")
    return transform(data, affine(np.eye(3) * factor))


# ----------------------------------------------------------------------------- selections

def points(data: SplatData, frame: np.ndarray | None = None) -> np.ndarray:
    """Positions [N, 3] float64 in ``frame`` (the file's own coordinates without one)."""
    p = data.means.astype(np.float64)
    if frame is None:
        return p
    f = np.asarray(frame, np.float64)
    return p @ f[:3, :3].T + f[:3, 3]


def box_mask(data: SplatData, lo: Sequence[float], hi: Sequence[float], frame: np.ndarray | None = None) -> np.ndarray:
    """[N] bool: centres inside the axis-aligned box [lo, hi] of ``frame``, faces included (+-inf: unbounded)."""
    p = points(data, frame)
    return ((p >= np.asarray(lo, np.float64)) & (p <= np.asarray(hi, np.float64))).all(axis=1)


def sphere_mask(data: SplatData, centre: Sequence[float], radius: float,
                frame: np.ndarray | None = None) -> np.ndarray:
    """[N] bool: centres strictly closer than ``radius`` to ``centre`` (in ``frame``)."""
    d = points(data, frame) - np.asarray(centre, np.float64)
    return (d * d).sum(axis=1) < float(radius) ** 2


def finite_mask(data: SplatData) -> np.ndarray:
    """[N] bool: splats without NaN or infinite values, as splat-transform's --filter-nan keeps them.

    An opacity logit of +inf (opaque) and a log-scale of -inf (flat) are allowed; a zero
    quaternion (no rotation can be made of it) is not."""
    keep = np.isfinite(data.means).all(1) & np.isfinite(data.quats).all(1) & np.isfinite(data.sh_dc).all(1)
    keep &= np.isfinite(data.sh_rest).all(axis=(1, 2))
    keep &= np.isfinite(data.opacity_logit) | (data.opacity_logit == np.inf)
    keep &= (np.isfinite(data.scales_log) | (data.scales_log == -np.inf)).all(1)
    keep &= (data.quats != 0).any(1)
    if data.normals is not None:
        keep &= np.isfinite(data.normals).all(1)
    for values in data.extra.values():
        if values.dtype.kind == "f":
            keep &= np.isfinite(values)
    return keep


def attribute_names(data: SplatData) -> list[str]:
    """Every name value_mask accepts for these splats."""
    activated = ["opacity", "scale_0", "scale_1", "scale_2", "scale_max", "f_dc_0", "f_dc_1", "f_dc_2"]
    return activated + [f"{n}_raw" for n in activated] + [c for c in data.columns() if c not in activated]


def describe_names(data: SplatData) -> str:
    """The accepted names in one short line (f_rest_* as a range)."""
    names = attribute_names(data)
    rest = [n for n in names if n.startswith("f_rest_")]
    out = [n for n in names if not n.startswith("f_rest_")]
    return ", ".join(out + ([f"{rest[0]}..{rest[-1]}"] if rest else []))


def _column(data: SplatData, name: str, frame: np.ndarray | None) -> np.ndarray:
    if frame is not None and (name in _FRAME_COLUMNS or name.startswith("f_rest_")):
        data = bake_transform(data, np.asarray(frame, np.float64))
    if name == "scale_max":
        return data.scales_log.max(axis=1)
    cols = data.columns()
    if name not in cols:
        raise EditError(f"no attribute {name!r}; the splats have: {describe_names(data)}")
    return cols[name]


def value_mask(data: SplatData, name: str, cmp: str, value: float, frame: np.ndarray | None = None) -> np.ndarray:
    """[N] bool: splats whose attribute ``name`` compares ``cmp`` (lt, lte, gt, gte, eq, neq) to ``value``.

    See the module docstring for the names; columns that depend on the coordinates (positions,
    normals, rotations, scales, f_rest) are read in ``frame``."""
    if cmp not in COMPARATORS:
        raise EditError(f"unknown comparison {cmp!r}; use one of {', '.join(COMPARATORS)}")
    value = float(value)
    if name.endswith("_raw") and name[:-4] in _STORED:
        name = _STORED[name[:-4]][0]
    elif name in _STORED:
        if name == "opacity" and not 0.0 < value < 1.0:
            raise EditError(f"opacity is the activated opacity (0..1), so the value must lie strictly between 0 "
                            f"and 1, got {value:g}; opacity_raw compares the stored logit")
        name, to_stored = _STORED[name]
        value = to_stored(value)
    column = _column(data, name, frame).astype(np.float64)
    with np.errstate(invalid="ignore"):
        return COMPARATORS[cmp](column, value)


def keep(data: SplatData, mask: np.ndarray) -> SplatData:
    """The splats where ``mask`` is true, in their order."""
    return data.subset(np.asarray(mask, bool))


# ----------------------------------------------------------------------------- SH, decimation, merging

def reduce_sh(data: SplatData, degree: int) -> SplatData:
    """Drop the SH bands above ``degree`` (0..3); splats of a lower degree are returned as they are."""
    if degree not in (0, 1, 2, 3):
        raise EditError(f"the SH degree must be 0, 1, 2 or 3, got {degree}")
    if degree >= data.sh_degree:
        return data
    k1 = (degree + 1) ** 2 - 1
    return dataclasses.replace(data, sh_rest=np.ascontiguousarray(data.sh_rest[:, :k1]))


def log_importance(data: SplatData) -> np.ndarray:
    """[N] float64: log of each splat's importance, alpha * s1 * s2.

    alpha is the activated opacity and s1 >= s2 the two largest standard deviations: the
    splat's opacity integrated over the screen seen face-on is 2 pi alpha s1 s2 (in squared
    world units), so this is the share of the picture a splat can cover. NaN sorts last."""
    logs = np.sort(data.scales_log.astype(np.float64), axis=1)
    x = data.opacity_logit.astype(np.float64)
    log_alpha = -np.logaddexp(0.0, -x)  # log sigmoid(x) without overflow
    return log_alpha + logs[:, 2] + logs[:, 1]


def decimate(data: SplatData, count: int) -> SplatData:
    """The ``count`` most important splats (log_importance; ties keep the earlier splat), in file order."""
    if count < 0:
        raise EditError(f"the number of splats to keep must be >= 0, got {count}")
    if count >= len(data):
        return data
    order = np.argsort(-log_importance(data), kind="stable")  # NaN importance last
    return data.subset(np.sort(order[:count]))


def decimate_count(total: int, spec: str) -> int:
    """Splats to keep of ``total`` for ``n`` (at most n) or ``n%`` (rounded half up), as splat-transform counts."""
    text = spec.strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0.0 <= percent <= 100.0:
                raise EditError(f"the percentage must be between 0% and 100%, got {spec}")
            return int(math.floor(total * percent / 100.0 + 0.5))
        number = float(text)
    except ValueError:
        raise EditError(f"expected a number of splats or a percentage (n or n%), got {spec!r}") from None
    if not number.is_integer() or number < 0:
        raise EditError(f"the number of splats must be a whole number >= 0, got {spec}")
    return min(int(number), total)


def merge(parts: Sequence[SplatData]) -> SplatData:
    """All splats of ``parts`` in order, as one set: the highest SH degree (missing bands 0), normals where
    any part has them (0 elsewhere), and every extra property of any part (0 where a part lacks it)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    k1 = max(p.sh_rest.shape[1] for p in parts)
    fields = {}
    for name in ("means", "scales_log", "quats", "opacity_logit", "sh_dc"):
        fields[name] = np.concatenate([getattr(p, name) for p in parts])
    rest = np.zeros((sum(len(p) for p in parts), k1, 3), np.float32)
    row = 0
    for p in parts:
        rest[row:row + len(p), :p.sh_rest.shape[1]] = p.sh_rest
        row += len(p)
    normals = None
    if any(p.normals is not None for p in parts):
        normals = np.concatenate([p.normals if p.normals is not None else np.zeros((len(p), 3), np.float32)
                                  for p in parts])
    names = list(dict.fromkeys(k for p in parts for k in p.extra))
    extra = {}
    for k in names:
        dtype = np.result_type(*[p.extra[k].dtype for p in parts if k in p.extra])
        extra[k] = np.concatenate([p.extra[k].astype(dtype) if k in p.extra else np.zeros(len(p), dtype)
                                   for p in parts])
    layouts = {tuple(p.layout) if p.layout else None for p in parts}
    layout = parts[0].layout if len(layouts) == 1 else None
    return SplatData(**fields, sh_rest=rest, normals=normals, extra=extra, layout=layout,
                     comments=list(parts[0].comments))

