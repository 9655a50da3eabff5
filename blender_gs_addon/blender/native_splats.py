"""Blender's own Gaussian-splat point clouds (``PointCloud.type == 'GAUSSIAN_SPLAT'``), where Blender has them.

Blender draws and renders such a point cloud as splats from these point attributes (the
same ones its own PLY importer makes):

    position          FLOAT_VECTOR  x y z
    scale             FLOAT_VECTOR  exp(scale_i): linear standard deviations
    rotation          QUATERNION    the unit quaternion (w, x, y, z)
    radiance:base     FLOAT4        f_dc_0..2 and sigmoid(opacity)
    radiance:sh_k     FLOAT_VECTOR  k = 0..K-2: (f_rest_k, f_rest_{K-1+k}, f_rest_{2(K-1)+k}) (R, G, B)

Lossless export needs what those lose; we keep it in two more attributes (32 bytes a splat):

    gs:opacity_scale  FLOAT4        the file's opacity logit and log-scales, as read
    gs:rotation       FLOAT4        the file's quaternion, as read (not normalised)

plus ``gs:normal`` (FLOAT_VECTOR) only when the file's normals are not all zero, and one
point attribute per extra property. A splat whose native values no longer agree with its
kept ones (edited after import) is exported from the native values.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import bpy
import numpy as np

NATIVE_TYPE = "GAUSSIAN_SPLAT"
BASE = "radiance:base"
SH_PREFIX = "radiance:sh_"
RAW_OPACITY_SCALE = "gs:opacity_scale"
RAW_ROTATION = "gs:rotation"
NORMAL = "gs:normal"
NATIVE_NAMES = {"position", "scale", "rotation", BASE, RAW_OPACITY_SCALE, RAW_ROTATION, NORMAL}
# a kept value is used when the native one derived from it again agrees this closely (relative)
AGREE = 1e-5


def has_native_splats() -> bool:
    """Whether this Blender has Gaussian-splat point clouds (a feature, not a version number)."""
    prop = bpy.types.PointCloud.bl_rna.properties.get("type")
    return prop is not None and NATIVE_TYPE in prop.enum_items.keys()


def can_resize_pointclouds() -> bool:
    """Whether point clouds can be sized from Python (else they are made from a mesh)."""
    return "resize" in bpy.types.PointCloud.bl_rna.functions


def is_native(obj) -> bool:
    return obj is not None and obj.type == "POINTCLOUD" and getattr(obj.data, "type", None) == NATIVE_TYPE


def holds_native_splats(obj) -> bool:
    """A point cloud with Blender's splat attributes, drawn as splats or not (``type`` switched to POINTS)."""
    if obj is None or obj.type != "POINTCLOUD":
        return False
    attrs = obj.data.attributes
    return BASE in attrs and "scale" in attrs and "rotation" in attrs


def is_native_name(name: str) -> bool:
    return name in NATIVE_NAMES or name.startswith(SH_PREFIX) or name.startswith(".")


# ----------------------------------------------------------------------------- derived values

def sigmoid(logit: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp overflow of very negative logits is alpha 0
        return (1.0 / (1.0 + np.exp(-np.asarray(logit, np.float64)))).astype(np.float32)


def logit(alpha: np.ndarray) -> np.ndarray:
    """Inverse of sigmoid; alphas of 0 and 1 (saturated in float32) give the nearest finite logits."""
    a = np.clip(np.asarray(alpha, np.float64), np.finfo(np.float32).tiny, 1.0 - 2.0 ** -25)
    return np.log(a / (1.0 - a)).astype(np.float32)


def exp_scales(scales_log: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(scales_log, np.float64)).astype(np.float32)


def log_scales(scales: np.ndarray) -> np.ndarray:
    """Inverse of exp_scales; scales of 0 (underflowed) give the log of the smallest float32."""
    return np.log(np.maximum(np.asarray(scales, np.float64), np.finfo(np.float32).smallest_subnormal)).astype(
        np.float32)


def unit_quats(quats: np.ndarray) -> np.ndarray:
    """Normalised (w, x, y, z) quaternions [N, 4]; a zero quaternion becomes the identity (as Blender does)."""
    q = np.asarray(quats, np.float64)
    norm = np.sqrt((q * q).sum(axis=1, keepdims=True))
    out = np.divide(q, norm, out=np.zeros_like(q), where=norm > 0)
    out[norm[:, 0] == 0, 0] = 1.0
    return out.astype(np.float32)


# ----------------------------------------------------------------------------- building

BLOCK_ROWS = 8192  # rows of the source table moved at a time (about 2 MB for SH degree 3: stays in cache)


def _specs(k1: int, has_normals: bool) -> list[tuple[str, str, str, list[str]]]:
    """(attribute, data type, foreach key, the source properties it is made from), in build order."""
    specs = [("position", "FLOAT_VECTOR", "vector", ["x", "y", "z"]),
             (RAW_OPACITY_SCALE, "FLOAT4", "vector", ["opacity", "scale_0", "scale_1", "scale_2"]),
             ("scale", "FLOAT_VECTOR", "vector", ["scale_0", "scale_1", "scale_2"]),
             (BASE, "FLOAT4", "vector", ["f_dc_0", "f_dc_1", "f_dc_2", "opacity"]),
             (RAW_ROTATION, "FLOAT4", "vector", ["rot_0", "rot_1", "rot_2", "rot_3"]),
             ("rotation", "QUATERNION", "value", ["rot_0", "rot_1", "rot_2", "rot_3"])]
    specs += [(f"{SH_PREFIX}{k}", "FLOAT_VECTOR", "vector", [f"f_rest_{k}", f"f_rest_{k1 + k}", f"f_rest_{2 * k1 + k}"])
              for k in range(k1)]
    if has_normals:
        specs.append((NORMAL, "FLOAT_VECTOR", "vector", ["nx", "ny", "nz"]))
    return specs


def _copy(chunk: np.ndarray, idx: list[int], out: np.ndarray) -> None:
    """out = chunk[:, idx]: a slice where the columns are consecutive, else a gather."""
    if idx == list(range(idx[0], idx[0] + len(idx))):
        out[:] = chunk[:, idx[0]:idx[0] + len(idx)]
    else:
        np.take(chunk, idx, axis=1, out=out)


def _fill_block(chunk: np.ndarray, outs: dict[str, np.ndarray], cols: dict[str, list[int]], sh_cols: list[int],
                sh: np.ndarray | None, rows: slice) -> None:
    """One block of file rows into every attribute array (native values derived from the file's)."""
    for name in ("position", RAW_OPACITY_SCALE, BASE, RAW_ROTATION, NORMAL):
        if name in outs:
            _copy(chunk, cols[name], outs[name][rows])
    raw = outs[RAW_OPACITY_SCALE][rows]
    outs["scale"][rows] = exp_scales(raw[:, 1:])
    outs[BASE][rows, 3] = sigmoid(raw[:, 0])
    outs["rotation"][rows] = unit_quats(outs[RAW_ROTATION][rows])
    if sh is not None:  # all rest coefficients at once: [B, 3 * k1] file order -> [k1, B, 3]
        k1 = sh.shape[0]
        consecutive = sh_cols[-1] - sh_cols[0] == len(sh_cols) - 1  # the usual layout: a slice, no gather
        rest = chunk[:, sh_cols[0]:sh_cols[0] + len(sh_cols)] if consecutive else chunk[:, sh_cols]
        sh[:, rows] = rest.reshape(len(chunk), 3, k1).transpose(2, 0, 1)


def fill_native(pc, table: np.ndarray, names: list[str], k1: int, has_normals: bool) -> None:
    """Set the native and kept attributes of point cloud ``pc`` (already len(table) points).

    table: [N, P] float32 rows of 3DGS properties named ``names`` (a file's rows as read).
    The caller sets ``pc.type`` once the object exists.
    """
    n = len(table)
    pos = {c: i for i, c in enumerate(names)}
    specs = [s for s in _specs(k1, has_normals) if not s[0].startswith(SH_PREFIX)]
    outs = {name: np.empty((n, len(src)), np.float32) for name, _, _, src in specs}
    cols = {name: [pos[c] for c in src] for name, _, _, src in specs}
    sh = np.empty((k1, n, 3), np.float32) if k1 else None  # sh[k] is attribute radiance:sh_k, contiguous
    sh_cols = [pos[f"f_rest_{i}"] for i in range(3 * k1)]

    def fill(i: int) -> None:  # one cache-sized block of rows into every attribute at once
        rows = slice(i, min(i + BLOCK_ROWS, n))
        _fill_block(table[rows], outs, cols, sh_cols, sh, rows)

    workers = min(4, os.cpu_count() or 1)
    if workers > 1 and n > 4 * BLOCK_ROWS:  # blocks are disjoint; numpy copies run without the GIL
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fill, range(0, n, BLOCK_ROWS)))
    else:
        for i in range(0, n, BLOCK_ROWS):
            fill(i)
    attrs = pc.attributes
    for name, data_type, key, _ in specs:
        values = outs.pop(name)
        if name == NORMAL and not values.any():  # all-zero normals (what trainers write) come back from the layout
            continue
        attr = attrs["position"] if name == "position" else attrs.new(name, data_type, "POINT")
        attr.data.foreach_set(key, values.reshape(-1))
    for k in range(k1):
        attrs.new(f"{SH_PREFIX}{k}", "FLOAT_VECTOR", "POINT").data.foreach_set("vector", sh[k].reshape(-1))


# ----------------------------------------------------------------------------- reading

def _get(attrs, name: str, width: int, key: str, n: int) -> np.ndarray:
    buf = np.empty(n * width, np.float32)
    attrs[name].data.foreach_get(key, buf)
    return buf.reshape(n, width) if width > 1 else buf


def sh_rest_count(pc) -> int:
    """Number of radiance:sh_k attributes (k = 0, 1, ... without gaps)."""
    k = 0
    while f"{SH_PREFIX}{k}" in pc.attributes:
        k += 1
    return k


def native_fields(pc, has_normals: bool) -> dict[str, np.ndarray]:
    """SplatData fields of a native splat point cloud: kept file values where they still agree."""
    attrs = pc.attributes
    n = len(pc.points)
    base = _get(attrs, BASE, 4, "vector", n)
    alpha = np.ascontiguousarray(base[:, 3])
    scale = _get(attrs, "scale", 3, "vector", n)
    unit = _get(attrs, "rotation", 4, "value", n)
    fields = {"means": _get(attrs, "position", 3, "vector", n), "sh_dc": np.ascontiguousarray(base[:, :3]),
              "opacity_logit": logit(alpha), "scales_log": log_scales(scale), "quats": unit}
    del base
    if RAW_OPACITY_SCALE in attrs:
        raw = _get(attrs, RAW_OPACITY_SCALE, 4, "vector", n)
        _keep(fields["opacity_logit"], raw[:, 0], np.isclose(sigmoid(raw[:, 0]), alpha, rtol=AGREE, atol=0))
        agree = np.isclose(exp_scales(raw[:, 1:]), scale, rtol=AGREE, atol=0).all(axis=1)
        _keep(fields["scales_log"], np.ascontiguousarray(raw[:, 1:]), agree)
    if RAW_ROTATION in attrs:
        raw = _get(attrs, RAW_ROTATION, 4, "vector", n)
        _keep(fields["quats"], raw, np.isclose(unit_quats(raw), unit, rtol=0, atol=AGREE).all(axis=1))
    k1 = sh_rest_count(pc)
    rest = np.empty((n, k1, 3), np.float32)
    for k in range(k1):
        rest[:, k] = _get(attrs, f"{SH_PREFIX}{k}", 3, "vector", n)
    fields["sh_rest"] = rest
    if NORMAL in attrs:
        fields["normals"] = _get(attrs, NORMAL, 3, "vector", n)
    elif has_normals:
        fields["normals"] = np.zeros((n, 3), np.float32)
    return fields


def _keep(out: np.ndarray, kept: np.ndarray, agree: np.ndarray) -> None:
    """out[i] = kept[i] wherever agree[i] (the kept file value still describes the native one)."""
    out[agree] = kept[agree]


# ----------------------------------------------------------------------------- what export can promise

U = 2.0 ** -24  # float32 unit roundoff


def export_tolerance(opacity_logit: np.ndarray, scales_log: np.ndarray) -> dict[str, np.ndarray]:
    """How far a file's values may move through Blender's own import and our export (per splat).

    Blender keeps alpha = f32(sigmoid(x)), s = f32(exp(x)) and q / |q|, each within one
    float32 ulp (relative 2U); we write f32(logit(alpha)), f32(log(s)) and the unit quaternion:

      opacity     |x' - x| <= 2U / (1 - sigmoid(x)) + 2U |x|   (d logit / d alpha = 1 / (alpha (1 - alpha)))
      log-scale   |x' - x| <= 4U + 2U |x|                      (d log s / d s = 1 / s)
      quaternion  |q' - q / |q|| <= 4U per component           (the file's norm is gone: q' is the unit quaternion)

    Where alpha or s saturates in float32 (alpha 0 or 1, or below the normal range; s 0 or
    inf) the file value is gone too: then only the stored value is kept (f32 of sigmoid(x'),
    exp(x')). Returns {"opacity": [N], "opacity_saturated": [N] bool, "scale": [N, 3],
    "scale_saturated": [N, 3] bool, "quat": float}.
    """
    x = np.asarray(opacity_logit, np.float64)
    with np.errstate(over="ignore"):
        one_minus = 1.0 / (1.0 + np.exp(x))  # 1 - sigmoid(x), without cancellation
    alpha = sigmoid(x)
    s = np.asarray(scales_log, np.float64)
    stored = exp_scales(s)
    return {"opacity": 2 * U / np.maximum(one_minus, 1e-300) + 2 * U * np.abs(x),
            "opacity_saturated": (alpha == 0) | (alpha == 1) | (alpha < np.finfo(np.float32).tiny),
            "scale": 4 * U + 2 * U * np.abs(s),
            "scale_saturated": (stored == 0) | ~np.isfinite(stored) | (stored < np.finfo(np.float32).tiny),
            "quat": 4 * U}
