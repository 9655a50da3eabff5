"""Real spherical harmonics of the 3DGS convention and their rotation (bpy-free).

The colour of a splat seen along unit direction d (from the camera towards the splat)
is 0.5 + sum_k c_k Y_k(d), with the real SH basis Y of degree <= 3 in the order the
3DGS PLY layout stores coefficients. Rotating the splat by R means the new colour
function is f'(d) = f(R^T d). Each band l is closed under rotation, so the new
coefficients are c'_l = M_l c_l with a (2l+1)^2 matrix per band; M_l is obtained
exactly by solving Y_l(D) M_l = Y_l(R^T D) on a fixed set of directions D.
"""
from __future__ import annotations

import numpy as np

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
      -0.4570457994644658, 1.445305721320277, -0.5900435899266435)


def sh_basis(degree: int, dirs: np.ndarray) -> np.ndarray:
    """Real SH basis of bands 0..degree at unit directions dirs [M, 3] -> [M, (degree+1)^2] (float64)."""
    d = np.asarray(dirs, np.float64)
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    out = [np.full_like(x, C0)]
    if degree >= 1:
        out += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [C2[0] * x * y, C2[1] * y * z, C2[2] * (2 * zz - xx - yy), C2[3] * x * z, C2[4] * (xx - yy)]
    if degree >= 3:
        out += [C3[0] * y * (3 * xx - yy), C3[1] * x * y * z, C3[2] * y * (4 * zz - xx - yy),
                C3[3] * z * (2 * zz - 3 * xx - 3 * yy), C3[4] * x * (4 * zz - xx - yy),
                C3[5] * z * (xx - yy), C3[6] * x * (xx - 3 * yy)]
    if degree > 3:
        raise ValueError(f"SH degree {degree} is not supported (0..3)")
    return np.stack(out, axis=1)


def _fibonacci_dirs(m: int) -> np.ndarray:  # [m, 3] well-spread unit directions
    i = np.arange(m) + 0.5
    z = 1.0 - 2.0 * i / m
    r = np.sqrt(1.0 - z * z)
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


_DIRS = _fibonacci_dirs(64)


def band_rotation_matrices(rotation: np.ndarray, degree: int) -> list[np.ndarray]:
    """[M_1, ..., M_degree] for an orthogonal 3x3 matrix (a rotation, or a rotation with a mirror).

    M_l is [(2l+1), (2l+1)] and maps band-l coefficients of f to those of f(R^T .).
    """
    R = np.asarray(rotation, np.float64)
    Y = sh_basis(degree, _DIRS)
    Yr = sh_basis(degree, _DIRS @ R)  # rows are (R^T d)^T = d^T R
    mats = []
    for band in range(1, degree + 1):
        sl = slice(band * band, (band + 1) * (band + 1))
        m, *_ = np.linalg.lstsq(Y[:, sl], Yr[:, sl], rcond=None)
        mats.append(m)
    return mats


def rotate_sh_rest(sh_rest: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate SH bands 1..deg of sh_rest [N, K-1, 3] by an orthogonal 3x3 matrix -> [N, K-1, 3] float32."""
    k1 = sh_rest.shape[1]
    degree = int(round(np.sqrt(k1 + 1))) - 1
    block = np.zeros((k1, k1))  # the band matrices on the diagonal: one matrix product for all bands
    for band, m in enumerate(band_rotation_matrices(rotation, degree), start=1):
        sl = slice(band * band - 1, (band + 1) * (band + 1) - 1)  # sh_rest drops band 0
        block[sl, sl] = m
    # in the data's own precision: float32 at most 7 terms per coefficient, 3x faster than through float64
    return np.matmul(block.astype(sh_rest.dtype), sh_rest)


def eval_sh_colour(sh_dc: np.ndarray, sh_rest: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Colour 0.5 + sum_k c_k Y_k(d) of each splat [N] at its direction dirs [N, 3] -> [N, 3] (unclamped)."""
    k1 = sh_rest.shape[1]
    degree = int(round(np.sqrt(k1 + 1))) - 1
    d = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    Y = sh_basis(degree, d)  # [N, K]
    out = 0.5 + Y[:, :1] * sh_dc
    if k1:
        out = out + np.einsum("nk,nkc->nc", Y[:, 1:], sh_rest)
    return out
