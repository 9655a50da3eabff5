"""Initial point cloud: visible surface points (unprojected depth) with colours, voxel-downsampled,
written as a binary little-endian PLY (x y z nx ny nz float32, red green blue uchar)."""
from __future__ import annotations

import os

import numpy as np

from ..core.ply import read_ply_element, write_ply_columns

PLY_DTYPE = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4"),
     ("red", "u1"), ("green", "u1"), ("blue", "u1")]
)


def voxel_downsample(points: np.ndarray, colors: np.ndarray, normals: np.ndarray, voxel: float,
                     key_points: np.ndarray | None = None):
    """Average points [N, 3], colours [N, 3] (0..255) and normals [N, 3] per cube of side ``voxel``
    (cubes laid over ``key_points`` [N, 3] when given, e.g. ``compress_far`` of the points).

    Returns (points [M, 3] float64, colours [M, 3] uint8, unit normals [M, 3] float64), ordered
    by voxel key so the result does not depend on the input order beyond float rounding.
    """
    if len(points) == 0:
        return points.reshape(0, 3), colors.reshape(0, 3).astype(np.uint8), normals.reshape(0, 3)
    keys = _voxel_keys(points if key_points is None else key_points, voxel)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)

    def mean(values):
        sums = [np.bincount(inverse, weights=values[:, k], minlength=len(counts)) for k in range(values.shape[1])]
        return np.stack(sums, axis=1) / counts[:, None]

    p = mean(points)
    c = np.clip(np.rint(mean(colors.astype(np.float64))), 0, 255).astype(np.uint8)
    n = mean(normals)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-8, n / np.maximum(length, 1e-12), 0.0)
    return p, c, n


def compress_far(points: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Points [N, 3] moved towards ``centre`` [3] beyond ``radius``: distance r becomes
    radius * (1 + ln(r / radius)). Voxels laid over these grow with the distance, so a far
    horizon (an ocean to 2 km) does not take the point budget from the scene itself."""
    d = points - centre
    r = np.linalg.norm(d, axis=1, keepdims=True)
    far = r > radius
    scaled = np.where(far, radius * (1.0 + np.log(np.maximum(r, 1e-9) / radius)) / np.maximum(r, 1e-9), 1.0)
    return centre + d * scaled


def _voxel_keys(points: np.ndarray, voxel: float) -> np.ndarray:
    """One int64 key [N] per voxel cell (x fastest), ordered like the cells' (z, y, x) indices."""
    cell = np.floor((points - points.min(axis=0)) / voxel).astype(np.int64)  # [N, 3], >= 0
    dims = cell.max(axis=0) + 1
    if float(dims[0]) * float(dims[1]) * float(dims[2]) >= 2.0**62:
        raise ValueError(f"voxel {voxel} is too small for a point cloud this large")
    return cell[:, 0] + dims[0] * (cell[:, 1] + dims[1] * cell[:, 2])


def choose_voxel(points: np.ndarray, max_points: int) -> float:
    """A voxel size that leaves roughly at most ``max_points`` points (grows until it does).

    Terminates for any input: once the voxel is larger than the cloud's extent, one cell holds all.
    """
    if int(max_points) < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    if len(points) == 0:
        return 1.0
    extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
    voxel = max(extent / 1024.0, 1e-6)
    while True:
        n = len(np.unique(_voxel_keys(points, voxel)))
        if n <= max_points:
            return voxel
        voxel *= 1.5


def write_ply(path: str | os.PathLike, points: np.ndarray, colors: np.ndarray,
              normals: np.ndarray | None = None) -> None:
    """Binary little-endian PLY of points [N, 3], colours [N, 3] uint8, normals [N, 3] (zero when None); atomic."""
    if normals is None:
        normals = np.zeros((len(points), 3), np.float32)
    columns = {k: points[:, i] for i, k in enumerate("xyz")}
    columns.update({"n" + k: normals[:, i] for i, k in enumerate("xyz")})
    columns.update({k: colors[:, i] for i, k in enumerate(("red", "green", "blue"))})
    write_ply_columns(path, columns, {n: PLY_DTYPE.fields[n][0] for n in PLY_DTYPE.names})


def read_ply(path: str | os.PathLike) -> np.ndarray:
    """Vertices of a PLY written by ``write_ply`` (structured array [N] with PLY_DTYPE fields)."""
    vertices = read_ply_element(path, "vertex").data
    if vertices.dtype != PLY_DTYPE:
        raise ValueError(f"{os.fspath(path)}: not the point cloud layout ({', '.join(PLY_DTYPE.names)})")
    return vertices
