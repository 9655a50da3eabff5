"""Fast moves between a [N, P] float32 property table and SplatData fields (bpy-free).

Files store splats row by row ([N, P]); fields are [N, k] blocks of some of those
columns. Copying runs of consecutive columns at once keeps these moves to a few
cache-friendly passes instead of one strided pass per property.
"""
from __future__ import annotations

import numpy as np

from .data import SplatData, field_columns


def _runs(cols: list[int]) -> list[tuple[int, int, int]]:
    """(dst offset, src start, length) runs of consecutive source columns."""
    runs: list[tuple[int, int, int]] = []
    for dst, src in enumerate(cols):
        if runs and runs[-1][1] + runs[-1][2] == src:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((dst, src, 1))
    return runs


def gather(table: np.ndarray, cols: list[int]) -> np.ndarray:
    """table[:, cols] as a new C-contiguous float32 array [N, len(cols)]."""
    out = np.empty((table.shape[0], len(cols)), np.float32)
    for dst, src, n in _runs(cols):
        out[:, dst:dst + n] = table[:, src:src + n]
    return out


def scatter(table: np.ndarray, cols: list[int], block: np.ndarray) -> None:
    """table[:, cols] = block [N, len(cols)]."""
    for dst, src, n in _runs(cols):
        table[:, src:src + n] = block[:, dst:dst + n]


def fields_from_table(table: np.ndarray, names: list[str], k1: int, has_normals: bool) -> dict[str, np.ndarray]:
    """SplatData field arrays from a [N, P] float32 table whose columns are ``names``."""
    pos = {n: i for i, n in enumerate(names)}
    out = {}
    for field, props in field_columns(k1, has_normals).items():
        block = gather(table, [pos[p] for p in props])
        if field == "sh_rest":
            block = np.ascontiguousarray(block.reshape(len(table), 3, k1).transpose(0, 2, 1))
        elif field == "opacity_logit":
            block = block.reshape(-1)
        out[field] = block
    return out


def table_from_fields(data: SplatData, names: list[str], out: np.ndarray | None = None) -> np.ndarray:
    """[N, P] float32 table of the core fields of ``data`` laid out as ``names`` (extras not filled)."""
    n = len(data)
    table = np.empty((n, len(names)), np.float32) if out is None else out
    pos = {nm: i for i, nm in enumerate(names)}
    k1 = data.sh_rest.shape[1]
    for field, props in field_columns(data).items():
        block = getattr(data, field)
        if field == "sh_rest":
            block = block.transpose(0, 2, 1).reshape(n, 3 * k1)
        elif field == "opacity_logit":
            block = block.reshape(n, 1)
        scatter(table, [pos[p] for p in props], block)
    return table


def transpose_blocked(a: np.ndarray, block: int = 2048, out: np.ndarray | None = None) -> np.ndarray:
    """a.T copied in cache-sized blocks of the long axis ([R, C] -> [C, R]) into ``out`` or a new array."""
    if out is None:
        out = np.empty((a.shape[1], a.shape[0]), a.dtype)
    if a.shape[0] >= a.shape[1]:
        for i in range(0, a.shape[0], block):
            out[:, i:i + block] = a[i:i + block].T
    else:
        for j in range(0, a.shape[1], block):
            out[j:j + block] = a[:, j:j + block].T
    return out


def rows_from_fields(data: SplatData) -> tuple[list[str], np.ndarray]:
    """Every core property except x, y, z as contiguous rows: (names, [P, N] float32).

    Row order is the canonical field order with f_rest in file (channel-major) order.
    """
    n, k1 = len(data), data.sh_rest.shape[1]
    names: list[str] = []
    blocks = []
    for field, props in field_columns(data).items():
        if field == "means":
            continue
        names += props
        blocks.append(field)
    rows = np.empty((len(names), n), np.float32)
    r = 0
    for field in blocks:
        arr = getattr(data, field)
        if field == "opacity_logit":
            rows[r] = arr
            r += 1
        elif field == "sh_rest":
            view = rows[r:r + 3 * k1].reshape(3, k1, n)
            for i in range(0, n, 16384):  # [B, k1, 3] -> [3, k1, B]
                view[:, :, i:i + 16384] = arr[i:i + 16384].transpose(2, 1, 0)
            r += 3 * k1
        else:
            rows[r:r + arr.shape[1]] = transpose_blocked(arr)
            r += arr.shape[1]
    return names, rows
