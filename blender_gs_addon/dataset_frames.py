"""The frames of a dataset's camera file, for the dataset browser (bpy-free).

A dataset folder of ours, or any transforms.json (or the transforms_train/test.json pair): each
frame's image, camera-to-world matrix (OpenGL camera axes, Blender's camera `matrix_world`),
pinhole intrinsics read as the trainer reads them (fl_x/fl_y or camera_angle_x, shared or per
frame; docs/dataset-format.md), its place in the train/test split, and the pictures of its ground
truth that our renderer writes to `preview/` beside it. `frusta` gives every camera's viewing
pyramid as one set of line segments.
"""
from __future__ import annotations

import glob
import os
import struct
from dataclasses import dataclass, field

import numpy as np

from procgen.core.axes import c2w_opencv

from .trainer.dataset_checks import DatasetError, camera_to_world, fail, load_json_object, whole
from .trainer.dataset_loader import _holdout_every, _intrinsics, _norm_name, _resolve_image

CAMERA_FILES = ("transforms.json", "transforms_train.json")
PREVIEW_DIR = "preview"


@dataclass
class Frame:
    name: str  # the image's path in the dataset, without suffix ("images/00001")
    image: str  # absolute path of the RGB image
    c2w: np.ndarray  # [4, 4] camera-to-world, OpenGL camera axes
    fl_x: float
    fl_y: float
    cx: float
    cy: float
    width: int
    height: int
    held_out: bool = False
    previews: dict[str, str] = field(default_factory=dict)  # kind ("depth", "flow_fwd", ...) -> PNG path

    @property
    def K(self) -> np.ndarray:  # [3, 3]
        return np.array([[self.fl_x, 0.0, self.cx], [0.0, self.fl_y, self.cy], [0.0, 0.0, 1.0]])


def camera_file(path: str) -> str:
    """The camera file of a dataset folder, or ``path`` itself when it is a .json file."""
    path = os.path.abspath(path)
    if os.path.isfile(path) and path.endswith(".json"):
        return path
    for name in CAMERA_FILES:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    if not os.path.isdir(path):
        fail(path, "no such dataset folder")
    fail(path, f"no camera file: the folder holds none of {', '.join(CAMERA_FILES)}")


def _png_size(path: str) -> tuple[int, int]:
    """(width, height) from a PNG's header, without decoding it."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path, "not a PNG file: give the image size as 'w' and 'h' in the camera file")
    return struct.unpack(">II", head[16:24])


def _image_size(meta: dict, frame: dict, json_path: str, image: str) -> tuple[int, int]:
    w, h = frame.get("w", meta.get("w")), frame.get("h", meta.get("h"))
    if w is None or h is None:
        return _png_size(image)
    return whole(w, json_path, "'w'"), whole(h, json_path, "'h'")


def previews_of(root: str, image: str) -> dict[str, str]:
    """kind -> path of the ground-truth pictures of one frame (preview/<stem>_<kind>.png)."""
    stem = os.path.splitext(os.path.basename(image))[0]
    found = sorted(glob.glob(os.path.join(glob.escape(os.path.join(root, PREVIEW_DIR)), f"{glob.escape(stem)}_*.png")))
    return {os.path.basename(p)[len(stem) + 1:-4]: p for p in found}


def _frames_of(json_path: str, meta: dict, held_out_all: bool | None = None) -> list[Frame]:
    root = os.path.dirname(json_path)
    entries = meta.get("frames")
    if not isinstance(entries, list) or not entries:
        fail(json_path, "no 'frames' list")
    test_key = "test_filenames" if meta.get("test_filenames") else "val_filenames"
    test_names = {_norm_name(str(n)) for n in meta.get(test_key) or []}
    split = _holdout_every(len(entries))
    frames = []
    for i, fr in enumerate(entries):
        where = f"frame {i}"
        if not isinstance(fr, dict) or "file_path" not in fr or "transform_matrix" not in fr:
            fail(json_path, f"{where} must be an object with 'file_path' and 'transform_matrix'")
        image = _resolve_image(root, fr["file_path"], json_path, where)
        w, h = _image_size(meta, fr, json_path, image)
        fx, fy, cx, cy = _intrinsics(meta, fr, json_path, where, w, h, image)
        held = held_out_all if held_out_all is not None else (
            _norm_name(fr["file_path"]) in test_names if test_names else split[i])
        frames.append(Frame(_norm_name(os.path.relpath(image, root).replace(os.sep, "/")), image,
                            camera_to_world(fr["transform_matrix"], json_path, f"{where}: transform_matrix"),
                            fx, fy, cx, cy, w, h, held, previews_of(root, image)))
    return frames


def read_frames(path: str) -> list[Frame]:
    """Every frame of the dataset at ``path`` (a folder or a camera file), in file order.
    Bad input raises DatasetError naming the file."""
    json_path = camera_file(path)
    if os.path.basename(json_path) != "transforms_train.json":
        return _frames_of(json_path, load_json_object(json_path))
    test_json = os.path.join(os.path.dirname(json_path), "transforms_test.json")
    if not os.path.isfile(test_json):
        return _frames_of(json_path, load_json_object(json_path))
    return (_frames_of(json_path, load_json_object(json_path), held_out_all=False)
            + _frames_of(test_json, load_json_object(test_json), held_out_all=True))


def default_frustum_depth(frames: list[Frame]) -> float:
    """A tenth of the cameras' spread (the diagonal of their centres' bounding box), else 1."""
    centres = np.array([f.c2w[:3, 3] for f in frames])
    spread = float(np.linalg.norm(centres.max(axis=0) - centres.min(axis=0))) if len(frames) else 0.0
    return 0.1 * spread if spread > 0 else 1.0


def frustum(frame: Frame, depth: float) -> np.ndarray:
    """[5, 3] world points: the camera centre, then the image corners (top-left, top-right,
    bottom-right, bottom-left) on the plane ``depth`` in front of it (planar z-depth)."""
    u = np.array([0.0, frame.width, frame.width, 0.0])
    v = np.array([0.0, 0.0, frame.height, frame.height])
    cam = np.stack([(u - frame.cx) / frame.fl_x * depth, (v - frame.cy) / frame.fl_y * depth,
                    np.full(4, depth)], axis=1)  # OpenCV camera axes
    c2w = c2w_opencv(frame.c2w)
    return np.vstack([c2w[:3, 3], cam @ c2w[:3, :3].T + c2w[:3, 3]])


FRUSTUM_EDGES = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]])  # [8, 2]


def frusta(frames: list[Frame], depth: float) -> tuple[np.ndarray, np.ndarray]:
    """All frames' frusta as one line set -> (vertices [5N, 3], edges [8N, 2])."""
    if not frames:
        return np.zeros((0, 3)), np.zeros((0, 2), int)
    verts = np.concatenate([frustum(f, depth) for f in frames])
    edges = np.concatenate([FRUSTUM_EDGES + 5 * i for i in range(len(frames))])
    return verts, edges


__all__ = ["DatasetError", "Frame", "camera_file", "default_frustum_depth", "frusta", "frustum",
           "read_frames"]
