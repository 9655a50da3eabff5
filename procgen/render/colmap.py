"""COLMAP text model (cameras.txt, images.txt, points3D.txt) with one PINHOLE camera."""
from __future__ import annotations

import os

import numpy as np

from ..core import atomic
from ..core.axes import w2c_opencv
from ..core.rotations import matrix_to_quat
from .camera_poses import Intrinsics


def write_colmap_text(folder: str | os.PathLike, intr: Intrinsics, images: list[tuple[str, np.ndarray]],
                      points: np.ndarray, colors: np.ndarray) -> None:
    """Write the model: ``images`` is [(image name, c2w OpenGL [4, 4])]; points [N, 3], colours [N, 3] uint8."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    atomic.write_text(os.path.join(folder, "cameras.txt"),
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
        q = matrix_to_quat(w2c[:3, :3]).tolist()  # Python floats: their repr is the number under numpy 2 too
        t = w2c[:3, 3].tolist()
        lines.append(f"{i} {q[0]!r} {q[1]!r} {q[2]!r} {q[3]!r} {t[0]!r} {t[1]!r} {t[2]!r} 1 {name}")
        lines.append("")
    atomic.write_text(os.path.join(folder, "images.txt"), "\n".join(lines) + "\n")
    pts = ["# 3D point list with one line of data per point:",
           "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
           f"# Number of points: {len(points)}"]
    for i, (p, c) in enumerate(zip(points, colors), start=1):
        pts.append(f"{i} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f} {int(c[0])} {int(c[1])} {int(c[2])} 0")
    atomic.write_text(os.path.join(folder, "points3D.txt"), "\n".join(pts) + "\n")
