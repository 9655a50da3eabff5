"""COLMAP text model (cameras.txt, images.txt, points3D.txt) with one PINHOLE camera."""
from __future__ import annotations

import os

import numpy as np

from .cameras import Intrinsics, w2c_opencv


def rotation_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) with w >= 0 of a rotation matrix [3, 3]."""
    m = np.asarray(R, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = np.sqrt(t + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def quaternion_to_rotation(q) -> np.ndarray:
    """Rotation matrix [3, 3] of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_colmap_text(folder: str | os.PathLike, intr: Intrinsics, images: list[tuple[str, np.ndarray]],
                      points: np.ndarray, colors: np.ndarray) -> None:
    """Write the model: ``images`` is [(image name, c2w OpenGL [4, 4])]; points [N, 3], colours [N, 3] uint8."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    _write(os.path.join(folder, "cameras.txt"),
           "# Camera list with one line of data per camera:\n"
           "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
           f"# Number of cameras: 1\n"
           f"1 PINHOLE {intr.w} {intr.h} {intr.fl_x!r} {intr.fl_y!r} {intr.cx!r} {intr.cy!r}\n")
    lines = ["# Image list with two lines of data per image:",
             "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
             "#   POINTS2D[] as (X, Y, POINT3D_ID)",
             f"# Number of images: {len(images)}"]
    for i, (name, c2w) in enumerate(images, start=1):
        w2c = w2c_opencv(c2w)
        q = rotation_to_quaternion(w2c[:3, :3])
        t = w2c[:3, 3]
        lines.append(f"{i} {q[0]!r} {q[1]!r} {q[2]!r} {q[3]!r} {t[0]!r} {t[1]!r} {t[2]!r} 1 {name}")
        lines.append("")
    _write(os.path.join(folder, "images.txt"), "\n".join(lines) + "\n")
    pts = ["# 3D point list with one line of data per point:",
           "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
           f"# Number of points: {len(points)}"]
    for i, (p, c) in enumerate(zip(points, colors), start=1):
        pts.append(f"{i} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f} {int(c[0])} {int(c[1])} {int(c[2])} 0")
    _write(os.path.join(folder, "points3D.txt"), "\n".join(pts) + "\n")
