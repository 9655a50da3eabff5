"""Load a training dataset into memory: cameras, images (once), optional depth, initial points.

Supported layouts (detected from the folder's contents):
  * transforms.json camera file (our dataset, or any other transforms.json): OpenGL-axes
    camera-to-world matrices, intrinsics fl_x/fl_y/cx/cy or camera_angle_x, global or per frame;
  * the synthetic pair transforms_train.json / transforms_test.json (RGBA images);
  * a COLMAP text model (cameras.txt, images.txt, points3D.txt) with images under images/.
All cameras are returned as world-to-camera matrices in OpenCV axes (x right, y down, z forward).
"""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from ..common.axes import w2c_opencv
from ..common.rotations import quat_to_matrix
from ..procgen.render.png import read_png
from .pointcloud import read_points_ply


class DatasetError(ValueError):
    """Bad or missing dataset input; the message names the file."""


@dataclass
class Camera:
    name: str
    viewmat: np.ndarray  # [4, 4] float32 world-to-camera, OpenCV axes
    K: np.ndarray  # [3, 3] float32 pinhole intrinsics, pixel centres at +0.5
    width: int
    height: int
    image: np.ndarray  # [H, W, 3] uint8 sRGB
    alpha: np.ndarray | None = None  # [H, W, 1] uint8, for RGBA images
    depth: np.ndarray | None = None  # [H, W] float32 metric z-depth, inf = no surface

    @property
    def center(self) -> np.ndarray:  # [3] camera position in world space
        R, t = self.viewmat[:3, :3].astype(np.float64), self.viewmat[:3, 3].astype(np.float64)
        return (-R.T @ t).astype(np.float32)


@dataclass
class Dataset:
    train: list[Camera]
    test: list[Camera]
    points: np.ndarray  # [P, 3] float32 initial positions
    colors: np.ndarray  # [P, 3] float32 in [0, 1]
    random_points: bool  # True when no point cloud came with the data
    extent: float  # scene radius from the camera centres (scales position learning rate)
    source: str
    layout: str
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- helpers


def _fail(path: str, what: str):
    raise DatasetError(f"{path}: {what}")


def _load_json(path: str) -> dict:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        _fail(path, "file not found")
    except json.JSONDecodeError as exc:
        _fail(path, f"invalid JSON ({exc})")


def _downscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter an image [H, W, C] by an integer factor (crops the remainder)."""
    if factor == 1:
        return img
    h, w = img.shape[0] // factor, img.shape[1] // factor
    crop = img[: h * factor, : w * factor].astype(np.float32)
    out = crop.reshape(h, factor, w, factor, -1).mean(axis=(1, 3))
    return (out + 0.5).astype(img.dtype) if img.dtype == np.uint8 else out.astype(img.dtype)


def _downscale_depth(depth: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the finite depths in each block; inf where a block has none."""
    if factor == 1:
        return depth
    h, w = depth.shape[0] // factor, depth.shape[1] // factor
    d = depth[: h * factor, : w * factor].reshape(h, factor, w, factor)
    finite = np.isfinite(d)
    total = np.where(finite, d, 0.0).sum(axis=(1, 3))
    count = finite.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.inf)
    return out.astype(np.float32)


def _load_image(path: str, factor: int) -> tuple[np.ndarray, np.ndarray | None]:
    """-> (rgb [H, W, 3] uint8, alpha [H, W, 1] uint8 or None)."""
    if not os.path.isfile(path):
        _fail(path, "image file not found")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        img = np.load(path)
        if img.dtype != np.uint8:
            img = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif ext == ".png":
        try:
            img = read_png(path)
        except ValueError as exc:
            raise DatasetError(str(exc)) from None
        if img.dtype == np.uint16:
            img = ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    else:
        _fail(path, f"unsupported image format '{ext}' (convert the images to PNG)")
    if img.ndim == 2:
        img = img[:, :, None]
    c = img.shape[2]
    if c in (1, 2):  # grey or grey+alpha
        img = np.concatenate([np.repeat(img[:, :, :1], 3, axis=2), img[:, :, 1:]], axis=2)
    img = _downscale(np.ascontiguousarray(img), factor)
    rgb = np.ascontiguousarray(img[:, :, :3])
    alpha = np.ascontiguousarray(img[:, :, 3:4]) if img.shape[2] == 4 else None
    if alpha is not None and alpha.min() == 255:
        alpha = None  # fully opaque: nothing to composite
    return rgb, alpha


def _scaled_K(fx, fy, cx, cy, factor: int) -> np.ndarray:
    s = 1.0 / factor
    return np.array([[fx * s, 0, cx * s], [0, fy * s, cy * s], [0, 0, 1]], np.float32)


def _check_matrix(m, path: str, what: str) -> np.ndarray:
    a = np.asarray(m, dtype=np.float64)
    if a.shape == (3, 4):
        a = np.vstack([a, [0, 0, 0, 1]])
    if a.shape != (4, 4) or not np.isfinite(a).all():
        _fail(path, f"{what} must be a finite 4x4 matrix")
    return a


def _c2w_gl_to_viewmat(c2w_gl: np.ndarray) -> np.ndarray:
    return w2c_opencv(c2w_gl).astype(np.float32)


def camera_extent(cameras: list[Camera]) -> float:
    """Radius of the camera centres around their mean, times 1.1 (the usual 3DGS scene scale)."""
    centers = np.stack([c.center for c in cameras]).astype(np.float64)
    radius = float(np.linalg.norm(centers - centers.mean(0), axis=1).max()) * 1.1
    return radius if radius > 1e-6 else 1.0


def random_points_in_frustums(cameras: list[Camera], count: int, rng: np.random.Generator,
                              far: float | None = None) -> np.ndarray:
    """Uniform points inside the bounds of the camera frustums, each seen by at least one camera.

    Frustums are cut at depth `far` (default: twice the camera spread, at least 1).
    Returns [count, 3] float32.
    """
    centers = np.stack([c.center for c in cameras]).astype(np.float64)
    spread = float(np.linalg.norm(centers - centers.mean(0), axis=1).max())
    far = far if far is not None else max(2.0 * spread, 1.0)
    corners = [centers]
    for c in cameras:
        Kinv = np.linalg.inv(c.K.astype(np.float64))
        pix = np.array([[0, 0, 1], [c.width, 0, 1], [0, c.height, 1], [c.width, c.height, 1]], np.float64)
        rays = (Kinv @ pix.T).T * far  # camera space at depth far
        R, t = c.viewmat[:3, :3].astype(np.float64), c.viewmat[:3, 3].astype(np.float64)
        corners.append((rays - t) @ R)  # camera -> world: R^T (x - t)
    allc = np.concatenate(corners)
    lo, hi = allc.min(0), allc.max(0)
    out = []
    have = 0
    for _ in range(64):
        cand = rng.uniform(lo, hi, size=(max(count * 2, 1024), 3))
        seen = np.zeros(len(cand), bool)
        for c in cameras:
            pc = cand @ c.viewmat[:3, :3].T.astype(np.float64) + c.viewmat[:3, 3]
            z = pc[:, 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                u = c.K[0, 0] * pc[:, 0] / z + c.K[0, 2]
                v = c.K[1, 1] * pc[:, 1] / z + c.K[1, 2]
            seen |= (z > 0.2) & (z < far) & (u >= 0) & (u < c.width) & (v >= 0) & (v < c.height)
        out.append(cand[seen])
        have += int(seen.sum())
        if have >= count:
            break
    pts = np.concatenate(out)[:count]
    if len(pts) < count:  # very thin frustums: fill from the bounds
        pts = np.concatenate([pts, rng.uniform(lo, hi, size=(count - len(pts), 3))])
    return pts.astype(np.float32)


def _holdout_every(n: int, every: int = 8) -> list[bool]:
    """True for test frames: every 8th frame (0, 8, 16, ...), the usual hold-out split."""
    return [i % every == 0 for i in range(n)] if n > 1 else [False] * n


# ----------------------------------------------------------------------------- transforms.json

_DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")


def _intrinsics(meta: dict, frame: dict, path: str, img_w: int, img_h: int):
    """Intrinsics for one frame: frame keys override the file's global keys."""
    get = lambda k: frame.get(k, meta.get(k))  # noqa: E731
    for k in _DISTORTION_KEYS:
        v = get(k)
        if v is not None and abs(float(v)) > 1e-7:
            _fail(path, f"distortion coefficient {k}={v} is not supported; undistort the images first")
    w = int(get("w") or img_w)
    h = int(get("h") or img_h)
    fx, fy = get("fl_x"), get("fl_y")
    if fx is None and get("camera_angle_x") is not None:
        fx = 0.5 * w / math.tan(0.5 * float(get("camera_angle_x")))
    if fy is None and get("camera_angle_y") is not None:
        fy = 0.5 * h / math.tan(0.5 * float(get("camera_angle_y")))
    if fx is None and fy is None:
        _fail(path, "no focal length: give fl_x/fl_y or camera_angle_x")
    fx = float(fx if fx is not None else fy)
    fy = float(fy if fy is not None else fx)
    cx = float(get("cx") if get("cx") is not None else w / 2.0)
    cy = float(get("cy") if get("cy") is not None else h / 2.0)
    if (w, h) != (img_w, img_h):  # image stored at another resolution than the intrinsics
        sx, sy = img_w / w, img_h / h
        fx, cx, fy, cy = fx * sx, cx * sx, fy * sy, cy * sy
    return fx, fy, cx, cy


def _resolve_image(root: str, file_path: str, json_path: str) -> str:
    p = file_path if os.path.isabs(file_path) else os.path.join(root, file_path)
    p = os.path.normpath(p)
    if os.path.isfile(p):
        return p
    for ext in (".png", ".PNG"):
        if os.path.isfile(p + ext):
            return p + ext
    _fail(json_path, f"image '{file_path}' not found (looked for {p})")


def _frames_to_cameras(json_path: str, meta: dict, factor: int, load_depth: bool) -> list[Camera]:
    root = os.path.dirname(os.path.abspath(json_path))
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        _fail(json_path, "no 'frames' list")
    cams = []
    for i, fr in enumerate(frames):
        if "file_path" not in fr or "transform_matrix" not in fr:
            _fail(json_path, f"frame {i} lacks 'file_path' or 'transform_matrix'")
        img_path = _resolve_image(root, fr["file_path"], json_path)
        rgb_full_h = rgb_full_w = None
        rgb, alpha = _load_image(img_path, 1)
        rgb_full_h, rgb_full_w = rgb.shape[:2]
        if factor > 1:
            rgb, alpha = _downscale(rgb, factor), (None if alpha is None else _downscale(alpha, factor))
        fx, fy, cx, cy = _intrinsics(meta, fr, json_path, rgb_full_w, rgb_full_h)
        c2w = _check_matrix(fr["transform_matrix"], json_path, f"frame {i} transform_matrix")
        depth = None
        if load_depth and fr.get("depth_file_path"):
            dpath = os.path.normpath(os.path.join(root, fr["depth_file_path"]))
            if not os.path.isfile(dpath):
                _fail(json_path, f"depth file '{fr['depth_file_path']}' not found")
            depth = np.load(dpath).astype(np.float32)
            if depth.ndim == 3:
                depth = depth[..., 0]
            if depth.shape != (rgb_full_h, rgb_full_w):
                _fail(dpath, f"depth is {depth.shape}, image is {(rgb_full_h, rgb_full_w)}")
            depth = _downscale_depth(depth, factor)
        h, w = rgb.shape[:2]
        cams.append(Camera(
            name=os.path.splitext(os.path.relpath(img_path, root))[0].replace(os.sep, "/"),
            viewmat=_c2w_gl_to_viewmat(c2w), K=_scaled_K(fx, fy, cx, cy, factor),
            width=w, height=h, image=rgb, alpha=alpha, depth=depth))
    return cams


def _norm_name(p: str) -> str:
    p = p.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return os.path.splitext(p)[0]


def _load_transforms(path: str, factor: int, load_depth: bool):
    meta = _load_json(path)
    cams = _frames_to_cameras(path, meta, factor, load_depth)
    test_names = meta.get("test_filenames") or meta.get("val_filenames")
    if test_names:
        test_set = {_norm_name(n) for n in test_names}
        is_test = [_norm_name(fr["file_path"]) in test_set for fr in meta["frames"]]
        if not any(is_test):
            _fail(path, "none of the 'test_filenames' match a frame's file_path")
    else:
        is_test = _holdout_every(len(cams))
    train = [c for c, t in zip(cams, is_test) if not t]
    test = [c for c, t in zip(cams, is_test) if t]
    ply = meta.get("ply_file_path")
    ply_path = os.path.join(os.path.dirname(os.path.abspath(path)), ply) if ply else None
    if ply_path is not None and not os.path.isfile(ply_path):
        _fail(path, f"ply_file_path '{ply}' not found")
    return train, test, ply_path


def _load_synthetic(root: str, factor: int, load_depth: bool):
    train_json = os.path.join(root, "transforms_train.json")
    test_json = os.path.join(root, "transforms_test.json")
    train = _frames_to_cameras(train_json, _load_json(train_json), factor, load_depth)
    if os.path.isfile(test_json):
        test = _frames_to_cameras(test_json, _load_json(test_json), factor, load_depth)
    else:
        split = _holdout_every(len(train))
        train, test = [c for c, t in zip(train, split) if not t], [c for c, t in zip(train, split) if t]
    ply_path = os.path.join(root, "points3d.ply")
    return train, test, (ply_path if os.path.isfile(ply_path) else None)


# ----------------------------------------------------------------------------- COLMAP text


def _data_lines(path: str) -> list[str]:
    if not os.path.isfile(path):
        _fail(path, "file not found")
    with open(path, "r", encoding="utf-8") as f:
        return [ln.rstrip("\n") for ln in f if not ln.startswith("#")]


def _colmap_cameras(path: str) -> dict[int, tuple[int, int, float, float, float, float]]:
    cams = {}
    for n, ln in enumerate(_data_lines(path)):
        tok = ln.split()
        if not tok:
            continue
        try:
            cid, model, w, h = int(tok[0]), tok[1], int(tok[2]), int(tok[3])
            params = [float(x) for x in tok[4:]]
        except (ValueError, IndexError):
            _fail(path, f"cannot parse camera line '{ln}'")
        if model == "PINHOLE":
            fx, fy, cx, cy = params[:4]
        elif model == "SIMPLE_PINHOLE":
            fx = fy = params[0]
            cx, cy = params[1:3]
        elif model == "OPENCV":
            fx, fy, cx, cy = params[:4]
            if any(abs(p) > 1e-7 for p in params[4:8]):
                _fail(path, f"camera {cid}: OPENCV distortion {params[4:8]} is not supported; undistort first")
        else:
            _fail(path, f"camera {cid}: model {model} is not supported (PINHOLE, SIMPLE_PINHOLE, OPENCV without distortion)")
        cams[cid] = (w, h, fx, fy, cx, cy)
    return cams


def find_colmap_dir(root: str) -> str | None:
    for sub in ("", "sparse/0", "sparse", "cameras/colmap", "colmap"):
        d = os.path.join(root, sub)
        if os.path.isfile(os.path.join(d, "cameras.txt")) and os.path.isfile(os.path.join(d, "images.txt")):
            return d
    return None


def _load_colmap(root: str, model_dir: str, factor: int):
    intr = _colmap_cameras(os.path.join(model_dir, "cameras.txt"))
    images_txt = os.path.join(model_dir, "images.txt")
    lines = _data_lines(images_txt)
    image_dir = None
    for cand in (os.path.join(model_dir, "images"), os.path.join(root, "images"),
                 os.path.join(model_dir, "..", "images"), os.path.join(model_dir, "..", "..", "images")):
        if os.path.isdir(cand):
            image_dir = os.path.normpath(cand)
            break
    if image_dir is None:
        _fail(images_txt, "no images/ folder next to the model or its parents")
    entries = []
    i = 0
    while i < len(lines):
        tok = lines[i].split()
        if not tok:
            i += 1
            continue
        if len(tok) < 10:
            _fail(images_txt, f"cannot parse image line '{lines[i]}'")
        qw, qx, qy, qz, tx, ty, tz = (float(x) for x in tok[1:8])
        cid, name = int(tok[8]), " ".join(tok[9:])
        if cid not in intr:
            _fail(images_txt, f"image '{name}' uses unknown camera {cid}")
        entries.append((name, qw, qx, qy, qz, tx, ty, tz, cid))
        i += 2  # skip the 2D points line (may be empty)
    entries.sort(key=lambda e: e[0])
    cams = []
    for name, qw, qx, qy, qz, tx, ty, tz, cid in entries:
        w, h, fx, fy, cx, cy = intr[cid]
        rgb, alpha = _load_image(os.path.join(image_dir, name), factor)
        V = np.eye(4)
        V[:3, :3] = quat_to_matrix([qw, qx, qy, qz])
        V[:3, 3] = [tx, ty, tz]
        ih, iw = rgb.shape[:2]
        sx, sy = iw * factor / w, ih * factor / h  # images saved at another size than the model
        K = _scaled_K(fx * sx, fy * sy, cx * sx, cy * sy, factor)
        cams.append(Camera(name=os.path.splitext(name)[0], viewmat=V.astype(np.float32), K=K,
                           width=iw, height=ih, image=rgb, alpha=alpha))
    if not cams:
        _fail(images_txt, "no images listed")
    split = _holdout_every(len(cams))
    train = [c for c, t in zip(cams, split) if not t]
    test = [c for c, t in zip(cams, split) if t]
    pts_path = os.path.join(model_dir, "points3D.txt")
    pts = None
    if os.path.isfile(pts_path):
        rows = []
        for ln in _data_lines(pts_path):
            tok = ln.split()
            if len(tok) >= 7:
                rows.append([float(x) for x in tok[1:7]])
        if rows:
            arr = np.array(rows, np.float32)
            pts = (arr[:, :3], np.clip(arr[:, 3:6] / 255.0, 0, 1).astype(np.float32))
    return train, test, pts


# ----------------------------------------------------------------------------- entry point


def load_dataset(path: str, downscale: int = 1, load_depth: bool = False, seed: int = 0,
                 random_point_count: int = 20000) -> Dataset:
    """Load a dataset folder (or a transforms*.json / COLMAP model folder) into memory."""
    if downscale < 1 or int(downscale) != downscale:
        raise DatasetError(f"downscale factor must be a whole number >= 1, got {downscale}")
    downscale = int(downscale)
    path = os.path.abspath(path)
    if not os.path.exists(path):
        _fail(path, "dataset not found")
    pts_colors = None
    ply_path = None
    if os.path.isfile(path) and path.endswith(".json"):
        root = os.path.dirname(path)
        layout = "transforms"
        train, test, ply_path = _load_transforms(path, downscale, load_depth)
    elif os.path.isfile(os.path.join(path, "transforms.json")):
        root, layout = path, "transforms"
        train, test, ply_path = _load_transforms(os.path.join(path, "transforms.json"), downscale, load_depth)
        if ply_path is None and os.path.isfile(os.path.join(root, "points3d.ply")):
            ply_path = os.path.join(root, "points3d.ply")
    elif os.path.isfile(os.path.join(path, "transforms_train.json")):
        root, layout = path, "synthetic"
        train, test, ply_path = _load_synthetic(path, downscale, load_depth)
    elif find_colmap_dir(path) is not None:
        root, layout = path, "colmap"
        train, test, pts_colors = _load_colmap(path, find_colmap_dir(path), downscale)
    else:
        _fail(path, "no transforms.json, transforms_train.json or COLMAP cameras.txt/images.txt found")
    if not train:
        _fail(path, "no training views (every frame is in the test split)")
    notes = []
    rng = np.random.default_rng(seed)
    random_points = False
    if ply_path is not None:
        pts, cols = read_points_ply(ply_path)
        pts_colors = (pts, cols)
    if pts_colors is None or len(pts_colors[0]) == 0:
        pts = random_points_in_frustums(train + test, random_point_count, rng)
        pts_colors = (pts, rng.uniform(0, 1, size=pts.shape).astype(np.float32))
        random_points = True
        notes.append(f"no point cloud: started from {len(pts)} random points inside the camera frustums")
    pts, cols = pts_colors
    if cols is None:
        cols = np.full_like(pts, 0.5)
    finite = np.isfinite(pts).all(1)
    if not finite.all():
        notes.append(f"dropped {int((~finite).sum())} non-finite points")
        pts, cols = pts[finite], cols[finite]
    return Dataset(train=train, test=test, points=pts.astype(np.float32), colors=cols.astype(np.float32),
                   random_points=random_points, extent=camera_extent(train + test), source=root,
                   layout=layout, notes=notes)


if __name__ == "__main__":  # quick look: python -m blender_gs_addon.trainer.datasets DATASET
    ds = load_dataset(sys.argv[1])
    print(ds.layout, len(ds.train), "train", len(ds.test), "test", len(ds.points), "points", "extent", ds.extent)
