"""Checks of dataset input: every failure is one DatasetError line naming the file and the place.

The loaders (datasets.py, colmap_text.py) read through these helpers, so a truncated image,
a number that is text, a singular camera matrix or a zero quaternion is refused while loading,
before any training, and never surfaces as a library's own exception.
"""
from __future__ import annotations

import json
import math
import os
from typing import NoReturn

import numpy as np


class DatasetError(ValueError):
    """Bad or missing dataset input; the message names the file."""


def fail(path: str, what: str) -> NoReturn:
    raise DatasetError(f"{path}: {what}")


def read_text(path: str) -> str:
    """The file as UTF-8 text."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        fail(path, "file not found")
    except OSError as exc:
        fail(path, f"cannot read ({exc.strerror or exc})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(path, f"not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x})")


def load_json_object(path: str) -> dict:
    """A JSON file whose top level is an object."""
    text = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    if not isinstance(doc, dict):
        fail(path, f"the top level must be a JSON object with a 'frames' list, not a {_kind(doc)}")
    return doc


def load_npy(path: str) -> np.ndarray:
    """A numeric .npy array (no pickled objects)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        fail(path, "file not found")
    except Exception as exc:  # a damaged header or body: numpy raises several kinds
        fail(path, f"cannot read as .npy ({type(exc).__name__}: {exc})")
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        fail(path, f"holds {getattr(arr, 'dtype', type(arr).__name__)} data, not numbers")
    return arr


def number(value, path: str, where: str, positive: bool = False) -> float:
    """A finite number from a JSON value (numbers, or text that is one); ``positive``: > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        fail(path, f"{where} must be a number, not {_kind(value)} {value!r}")
    try:
        x = float(value)
    except ValueError:
        fail(path, f"{where} must be a number, got {value!r}")
    if not math.isfinite(x):
        fail(path, f"{where} must be finite, got {value!r}")
    if positive and x <= 0:
        fail(path, f"{where} must be > 0, got {value!r}")
    return x


def whole(value, path: str, where: str, minimum: int = 1) -> int:
    """A whole number >= minimum (5 and 5.0 pass; 5.5 does not)."""
    x = number(value, path, where)
    if x != int(x) or x < minimum:
        fail(path, f"{where} must be a whole number >= {minimum}, got {value!r}")
    return int(x)


def text(value, path: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        fail(path, f"{where} must be a non-empty text (a path), not {_kind(value)} {value!r}")
    return value


def camera_to_world(value, path: str, where: str) -> np.ndarray:
    """A 4x4 (or 3x4) camera matrix [4, 4] float64: numbers, finite, last row 0 0 0 1, invertible."""
    try:
        a = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        fail(path, f"{where} must be a 4x4 matrix of numbers (rows of equal length)")
    if a.shape == (3, 4):
        a = np.vstack([a, [0, 0, 0, 1]])
    if a.shape != (4, 4):
        fail(path, f"{where} must be a 4x4 matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        fail(path, f"{where} holds NaN or infinite values")
    if not np.allclose(a[3], [0, 0, 0, 1], atol=1e-6):
        fail(path, f"{where}: the last row must be 0 0 0 1, got {a[3].tolist()}")
    check_rotation(a[:3, :3], path, where)
    return a


def check_rotation(m: np.ndarray, path: str, where: str) -> None:
    """The [3, 3] part of a camera must be invertible (a zero or flat matrix has no view direction)."""
    s = np.linalg.svd(m, compute_uv=False)
    if not s[0] > 0 or s[-1] <= 1e-9 * s[0]:
        fail(path, f"{where} is singular (its 3x3 part has no inverse)")


def quaternion(values, path: str, where: str) -> np.ndarray:
    """A rotation quaternion [4] (w, x, y, z): finite, not zero (any other norm is normalised)."""
    q = np.asarray(values, np.float64)
    if not np.isfinite(q).all():
        fail(path, f"{where}: quaternion {q.tolist()} holds NaN or infinite values")
    if np.linalg.norm(q) < 1e-8:
        fail(path, f"{where}: quaternion {q.tolist()} is zero, so it is no rotation")
    return q


def image_array(img: np.ndarray, path: str) -> np.ndarray:
    """An image array [H, W] or [H, W, 1..4] of numbers; float values must be finite."""
    if img.ndim not in (2, 3) or (img.ndim == 3 and not 1 <= img.shape[2] <= 4) or 0 in img.shape[:2]:
        fail(path, f"an image must be H x W or H x W x 1..4, got shape {img.shape}")
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        fail(path, "image holds NaN or infinite values")
    return img


def downscale_fits(path: str, height: int, width: int, factor: int) -> None:
    if height // factor < 1 or width // factor < 1:
        fail(path, f"image is {width}x{height} pixels, too small for --downscale {factor} "
                   f"(at most {min(width, height)} for this image)")


def same_aspect(path: str, where: str, said: tuple[int, int], image_path: str, image: tuple[int, int],
                slack: int = 1) -> None:
    """Intrinsics for a ``said`` (w, h) scale to images of another size only where the aspect ratio is
    the same (up to ``slack`` pixels of rounding on each side); otherwise the cameras would be stretched."""
    (w, h), (iw, ih) = said, image
    if (w, h) == (iw, ih) or abs(iw / w - ih / h) <= slack * (1.0 / w + 1.0 / h):
        return
    fail(path, f"{where}: says the image is {w}x{h} but {image_path} is {iw}x{ih}, another aspect ratio "
               f"({w / h:.3f} against {iw / ih:.3f}); fix 'w'/'h' and the intrinsics, or the images")


def _kind(value) -> str:
    return {list: "a list", dict: "an object", str: "a text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def path_of(root: str, rel: str) -> str:
    return os.path.normpath(rel if os.path.isabs(rel) else os.path.join(root, rel))
