"""Read a COLMAP text model (cameras.txt, images.txt, points3D.txt), checking every number.

Errors are DatasetError lines that name the file and the line number (as an editor shows it).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .dataset_checks import fail, number, quaternion, read_text, whole

# model -> number of parameters; the pinhole part (fx, fy, cx, cy) of each
_MODELS = {"PINHOLE": 4, "SIMPLE_PINHOLE": 3, "OPENCV": 8}


@dataclass
class ColmapImage:
    name: str
    quat: np.ndarray  # [4] (w, x, y, z), world-to-camera rotation, any non-zero norm
    trans: np.ndarray  # [3] world-to-camera translation
    camera_id: int
    line: int  # line number in images.txt


def data_lines(path: str) -> list[tuple[int, str]]:
    """(line number, text) of every line that is not a comment."""
    return [(n, ln) for n, ln in enumerate(read_text(path).splitlines(), 1) if not ln.startswith("#")]


def _split(path: str, line: int, ln: str, needs: int, layout: str) -> list[str]:
    """The tokens of a data line; fails naming the layout when there are fewer than ``needs``."""
    tok = ln.split()
    if len(tok) < needs:
        fail(path, f"line {line}: {layout}, got '{ln}'")
    return tok


def _records(path: str, needs: int, layout: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, tokens) of every data line that is not empty (see _split)."""
    for line, ln in data_lines(path):
        if ln.split():
            yield line, _split(path, line, ln, needs, layout)


def _floats(tokens: list[str], path: str, line: int, what: str) -> list[float]:
    return [number(t, path, f"line {line}: {what} {i + 1}") for i, t in enumerate(tokens)]


def read_cameras(path: str) -> dict[int, tuple[int, int, float, float, float, float]]:
    """camera id -> (width, height, fx, fy, cx, cy) of pinhole cameras without distortion."""
    cams = {}
    for line, tok in _records(path, 4, "a camera needs CAMERA_ID MODEL WIDTH HEIGHT PARAMS..."):
        cid = whole(tok[0], path, f"line {line}: camera id", minimum=0)
        model = tok[1]
        w = whole(tok[2], path, f"line {line}: width")
        h = whole(tok[3], path, f"line {line}: height")
        if model not in _MODELS:
            fail(path, f"line {line}: camera {cid}: model {model} is not supported "
                       "(PINHOLE, SIMPLE_PINHOLE, OPENCV without distortion)")
        params = _floats(tok[4:], path, line, "parameter")
        if len(params) != _MODELS[model]:
            fail(path, f"line {line}: camera {cid}: model {model} takes {_MODELS[model]} parameters, "
                       f"got {len(params)}")
        if model == "SIMPLE_PINHOLE":
            fx = fy = params[0]
            cx, cy = params[1:3]
        else:
            fx, fy, cx, cy = params[:4]
        if model == "OPENCV" and any(abs(p) > 1e-7 for p in params[4:8]):
            fail(path, f"line {line}: camera {cid}: OPENCV distortion {params[4:8]} is not supported; "
                       "undistort first")
        if fx <= 0 or fy <= 0:
            fail(path, f"line {line}: camera {cid}: focal lengths must be > 0, got {fx}, {fy}")
        cams[cid] = (w, h, fx, fy, cx, cy)
    return cams


def read_images(path: str, cameras: dict) -> list[ColmapImage]:
    """The images of images.txt, each on a line followed by its (possibly empty) 2D points line."""
    lines = data_lines(path)
    out = []
    i = 0
    while i < len(lines):
        line, ln = lines[i]
        if not ln.split():
            i += 1
            continue
        tok = _split(path, line, ln, 10, "an image needs IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME")
        values = _floats(tok[1:8], path, line, "pose value")
        cid = whole(tok[8], path, f"line {line}: camera id", minimum=0)
        name = " ".join(tok[9:])
        if cid not in cameras:
            fail(path, f"line {line}: image '{name}' uses camera {cid}, which cameras.txt does not define")
        q = quaternion(values[:4], path, f"line {line} (image '{name}')")
        out.append(ColmapImage(name, q, np.asarray(values[4:7]), cid, line))
        i += 2  # skip the 2D points line
    if not out:
        fail(path, "no images listed")
    return out


def read_points(path: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(points [P, 3] float32, colours [P, 3] float32 in [0, 1]) or None when the file lists none."""
    rows = []
    for line, tok in _records(path, 7, "a point needs POINT3D_ID X Y Z R G B ..."):
        rows.append(_floats(tok[1:7], path, line, "value"))
    if not rows:
        return None
    arr = np.array(rows, np.float32)
    return arr[:, :3], np.clip(arr[:, 3:6] / 255.0, 0, 1).astype(np.float32)
