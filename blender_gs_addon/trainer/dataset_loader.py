"""Load a training dataset into memory: cameras, images (once), optional depth, initial points.

Supported layouts (detected from the folder's contents):
  * transforms.json camera file (our dataset, or any other transforms.json): OpenGL-axes
    camera-to-world matrices, intrinsics fl_x/fl_y/cx/cy or camera_angle_x, global or per frame;
  * the synthetic pair transforms_train.json / transforms_test.json (RGBA images);
  * a COLMAP text model (cameras.txt, images.txt, points3D.txt) with images under images/.
All cameras are returned as world-to-camera matrices in OpenCV axes (x right, y down, z forward).
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from procgen.core.axes import w2c_opencv
from procgen.core.rotations import quat_to_matrix
from procgen.render.png import read_png

from . import colmap_text
from .dataset_checks import (
    DatasetError,
    camera_to_world,
    downscale_fits,
    fail,
    image_array,
    load_json_object,
    load_npy,
    number,
    path_of,
    same_aspect,
    text,
    whole,
)
from .point_cloud_reader import read_points_ply

__all__ = ["Camera", "Dataset", "DatasetError", "load_dataset"]


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


_fail = fail

# Random initial points without a point cloud. Fewer start fewer floaters and densification
# fills in: held-out PSNR with 3,000 against 20,000 (500-1000 iterations): walking-camera
# scene 34.6 / 22.2 dB, meadow images only 27.0 / 25.5 dB, synthetic ring 15.2 / 14.3 dB.
RANDOM_POINTS = 3000


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
        img = image_array(load_npy(path), path)
        if img.dtype != np.uint8:
            img = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif ext == ".png":
        img = image_array(_read_png(path), path)
        if img.dtype == np.uint16:
            img = ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    else:
        _fail(path, f"unsupported image format '{ext}' (convert the images to PNG)")
    downscale_fits(path, img.shape[0], img.shape[1], factor)
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


def _read_png(path: str) -> np.ndarray:
    try:
        return read_png(path)
    except Exception as exc:  # a damaged file fails in the decoder in many ways (zlib, struct, shapes)
        reason = str(exc).removeprefix(f"{path}: ")
        _fail(path, f"cannot read as PNG ({reason or type(exc).__name__}); the file may be truncated or damaged")


def _scaled_K(fx, fy, cx, cy, factor: int) -> np.ndarray:
    s = 1.0 / factor
    return np.array([[fx * s, 0, cx * s], [0, fy * s, cy * s], [0, 0, 1]], np.float32)


def _c2w_gl_to_viewmat(c2w_gl: np.ndarray) -> np.ndarray:
    return w2c_opencv(c2w_gl).astype(np.float32)


def camera_extent(cameras: list[Camera]) -> float:
    """Radius of the camera centres around their mean, times 1.1 (the usual 3DGS scene scale)."""
    centers = np.stack([c.center for c in cameras]).astype(np.float64)
    radius = float(np.linalg.norm(centers - centers.mean(0), axis=1).max()) * 1.1
    return radius if radius > 1e-6 else 1.0


def project_points(cam: Camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points [M, 3] -> pixel coordinates u, v [M] (float64, pixel centres at +0.5) and
    camera depth z [M]; u and v are inf or nan where z <= 0."""
    pc = points @ cam.viewmat[:3, :3].T.astype(np.float64) + cam.viewmat[:3, 3]
    z = pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = cam.K[0, 0] * pc[:, 0] / z + cam.K[0, 2]
        v = cam.K[1, 1] * pc[:, 1] / z + cam.K[1, 2]
    return u, v, z


def has_alpha(data: Dataset) -> bool:
    """Objects on a transparent background: the training images carry alpha (not all opaque)."""
    return any(c.alpha is not None for c in data.train)


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
            u, v, z = project_points(c, cand)
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


def _intrinsics(meta: dict, frame: dict, path: str, where: str, img_w: int, img_h: int, img_path: str = ""):
    """Intrinsics (fx, fy, cx, cy) in pixels of the stored image; frame keys override the file's.
    Images of another size than 'w' x 'h' rescale them where the aspect ratio is the same."""
    def get(k, **kw):
        v = frame.get(k, meta.get(k))
        return None if v is None else number(v, path, f"{where}: '{k}'" if k in frame else f"'{k}'", **kw)

    for k in _DISTORTION_KEYS:
        v = get(k)
        if v is not None and abs(v) > 1e-7:
            _fail(path, f"distortion coefficient {k}={v} is not supported; undistort the images first")
    w = img_w if get("w") is None else whole(get("w"), path, "'w'")
    h = img_h if get("h") is None else whole(get("h"), path, "'h'")
    fx, fy = get("fl_x", positive=True), get("fl_y", positive=True)
    for key, size in (("camera_angle_x", w), ("camera_angle_y", h)):
        angle = get(key, positive=True)
        if angle is not None and angle >= math.pi:
            _fail(path, f"'{key}' is a field of view in radians, must be < pi, got {angle}")
        if angle is not None and (fx if key.endswith("x") else fy) is None:
            f = 0.5 * size / math.tan(0.5 * angle)
            fx, fy = (f, fy) if key.endswith("x") else (fx, f)
    if fx is None and fy is None:
        _fail(path, f"{where}: no focal length: give fl_x/fl_y or camera_angle_x")
    fx = fx if fx is not None else fy
    fy = fy if fy is not None else fx
    cx = get("cx") if get("cx") is not None else w / 2.0
    cy = get("cy") if get("cy") is not None else h / 2.0
    if (w, h) != (img_w, img_h):  # image stored at another resolution than the intrinsics
        same_aspect(path, where, (w, h), img_path, (img_w, img_h))
        sx, sy = img_w / w, img_h / h
        fx, cx, fy, cy = fx * sx, cx * sx, fy * sy, cy * sy
    return fx, fy, cx, cy


def _resolve_image(root: str, file_path: str, json_path: str, where: str) -> str:
    p = path_of(root, text(file_path, json_path, f"{where}: 'file_path'"))
    if os.path.isfile(p):
        return p
    for ext in (".png", ".PNG"):
        if os.path.isfile(p + ext):
            return p + ext
    _fail(json_path, f"{where}: image '{file_path}' not found (looked for {p})")


def _load_depth(root: str, fr: dict, json_path: str, where: str, shape: tuple[int, int], factor: int) -> np.ndarray:
    rel = text(fr["depth_file_path"], json_path, f"{where}: 'depth_file_path'")
    dpath = path_of(root, rel)
    if not os.path.isfile(dpath):
        _fail(json_path, f"{where}: depth file '{rel}' not found")
    depth = load_npy(dpath).astype(np.float32)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.shape != shape:
        _fail(dpath, f"depth is {depth.shape}, image is {shape}")
    if np.isnan(depth).any():
        _fail(dpath, "depth holds NaN (inf marks pixels without a surface)")
    if not np.isfinite(depth).any():
        _fail(dpath, "depth has no surface pixel: every value is inf (the sky mask would cover the whole view); "
                     "drop the frame's depth_file_path or the frame")
    return _downscale_depth(depth, factor)


def _frame_camera(root: str, json_path: str, meta: dict, fr, i: int, factor: int, load_depth: bool) -> Camera:
    where = f"frame {i}"
    if not isinstance(fr, dict):
        _fail(json_path, f"{where} must be an object with 'file_path' and 'transform_matrix'")
    if "file_path" not in fr or "transform_matrix" not in fr:
        _fail(json_path, f"{where} lacks 'file_path' or 'transform_matrix'")
    img_path = _resolve_image(root, fr["file_path"], json_path, where)
    c2w = camera_to_world(fr["transform_matrix"], json_path, f"{where}: transform_matrix")
    rgb, alpha = _load_image(img_path, 1)
    full_h, full_w = rgb.shape[:2]
    fx, fy, cx, cy = _intrinsics(meta, fr, json_path, where, full_w, full_h, img_path)
    downscale_fits(img_path, full_h, full_w, factor)
    if factor > 1:
        rgb, alpha = _downscale(rgb, factor), (None if alpha is None else _downscale(alpha, factor))
    depth = None
    if load_depth and fr.get("depth_file_path"):
        depth = _load_depth(root, fr, json_path, where, (full_h, full_w), factor)
    h, w = rgb.shape[:2]
    return Camera(name=os.path.splitext(os.path.relpath(img_path, root))[0].replace(os.sep, "/"),
                  viewmat=_c2w_gl_to_viewmat(c2w), K=_scaled_K(fx, fy, cx, cy, factor),
                  width=w, height=h, image=rgb, alpha=alpha, depth=depth)


def _frames_to_cameras(json_path: str, meta: dict, factor: int, load_depth: bool) -> list[Camera]:
    root = os.path.dirname(os.path.abspath(json_path))
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        _fail(json_path, "no 'frames' list")
    return [_frame_camera(root, json_path, meta, fr, i, factor, load_depth) for i, fr in enumerate(frames)]


def _norm_name(p: str) -> str:
    p = p.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return os.path.splitext(p)[0]


def _load_transforms(path: str, factor: int, load_depth: bool):
    meta = load_json_object(path)
    cams = _frames_to_cameras(path, meta, factor, load_depth)
    key = "test_filenames" if meta.get("test_filenames") else "val_filenames"
    test_names = meta.get(key)
    if test_names:
        if not isinstance(test_names, list):
            _fail(path, f"'{key}' must be a list of file names")
        test_set = {_norm_name(text(n, path, f"'{key}' entry")) for n in test_names}
        is_test = [_norm_name(fr["file_path"]) in test_set for fr in meta["frames"]]
        if not any(is_test):
            _fail(path, f"none of the '{key}' match a frame's file_path")
    else:
        is_test = _holdout_every(len(cams))
    train = [c for c, t in zip(cams, is_test) if not t]
    test = [c for c, t in zip(cams, is_test) if t]
    ply = meta.get("ply_file_path")
    ply_path = path_of(os.path.dirname(os.path.abspath(path)), text(ply, path, "'ply_file_path'")) if ply else None
    if ply_path is not None and not os.path.isfile(ply_path):
        _fail(path, f"ply_file_path '{ply}' not found")
    return train, test, ply_path


def _load_synthetic(root: str, factor: int, load_depth: bool):
    train_json = os.path.join(root, "transforms_train.json")
    test_json = os.path.join(root, "transforms_test.json")
    train = _frames_to_cameras(train_json, load_json_object(train_json), factor, load_depth)
    if os.path.isfile(test_json):
        test = _frames_to_cameras(test_json, load_json_object(test_json), factor, load_depth)
    else:
        split = _holdout_every(len(train))
        train, test = [c for c, t in zip(train, split) if not t], [c for c, t in zip(train, split) if t]
    ply_path = os.path.join(root, "points3d.ply")
    return train, test, (ply_path if os.path.isfile(ply_path) else None)


# ----------------------------------------------------------------------------- COLMAP text


def find_colmap_dir(root: str) -> str | None:
    for sub in ("", "sparse/0", "sparse", "cameras/colmap", "colmap"):
        d = os.path.join(root, sub)
        if os.path.isfile(os.path.join(d, "cameras.txt")) and os.path.isfile(os.path.join(d, "images.txt")):
            return d
    return None


def _colmap_image_dir(root: str, model_dir: str, images_txt: str) -> str:
    for cand in (os.path.join(model_dir, "images"), os.path.join(root, "images"),
                 os.path.join(model_dir, "..", "images"), os.path.join(model_dir, "..", "..", "images")):
        if os.path.isdir(cand):
            return os.path.normpath(cand)
    _fail(images_txt, "no images/ folder next to the model or its parents")


def _load_colmap(root: str, model_dir: str, factor: int):
    intr = colmap_text.read_cameras(os.path.join(model_dir, "cameras.txt"))
    images_txt = os.path.join(model_dir, "images.txt")
    entries = sorted(colmap_text.read_images(images_txt, intr), key=lambda e: e.name)  # cameras checked first
    image_dir = _colmap_image_dir(root, model_dir, images_txt)
    cams = []
    for e in entries:
        w, h, fx, fy, cx, cy = intr[e.camera_id]
        rgb, alpha = _load_image(os.path.join(image_dir, e.name), factor)
        V = np.eye(4)
        V[:3, :3] = quat_to_matrix(e.quat)
        V[:3, 3] = e.trans
        ih, iw = rgb.shape[:2]
        same_aspect(os.path.join(model_dir, "cameras.txt"), f"camera {e.camera_id}", (w, h),
                    os.path.join(image_dir, e.name), (iw * factor, ih * factor), slack=factor)
        sx, sy = iw * factor / w, ih * factor / h  # images saved at another size than the model
        K = _scaled_K(fx * sx, fy * sy, cx * sx, cy * sy, factor)
        cams.append(Camera(name=os.path.splitext(e.name)[0], viewmat=V.astype(np.float32), K=K,
                           width=iw, height=ih, image=rgb, alpha=alpha))
    split = _holdout_every(len(cams))
    train = [c for c, t in zip(cams, split) if not t]
    test = [c for c, t in zip(cams, split) if t]
    pts_path = os.path.join(model_dir, "points3D.txt")
    pts = colmap_text.read_points(pts_path) if os.path.isfile(pts_path) else None
    return train, test, pts


# ----------------------------------------------------------------------------- entry point


def _read_points(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        return read_points_ply(path)
    except ValueError as exc:  # the PLY reader's errors name the file already
        raise DatasetError(str(exc)) from None


def load_dataset(path: str, downscale: int = 1, load_depth: bool = False, seed: int = 0,
                 random_point_count: int = RANDOM_POINTS, max_points: int = 0) -> Dataset:
    """Load a dataset folder (or a transforms*.json / COLMAP model folder) into memory.
    ``max_points`` > 0 keeps at most that many initial points (a random subset, by ``seed``):
    ``--max-gaussians`` counts the initial points too."""
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
        pts_colors = _read_points(ply_path)
    if pts_colors is None or len(pts_colors[0]) == 0:
        count = min(random_point_count, max_points) if max_points else random_point_count
        pts = random_points_in_frustums(train, count, rng)  # points only held-out views see are floaters
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
    if max_points and len(pts) > max_points:
        keep = np.sort(rng.choice(len(pts), max_points, replace=False))
        notes.append(f"kept {max_points} of the {len(pts)} initial points (--max-gaussians)")
        pts, cols = pts[keep], cols[keep]
    return Dataset(train=train, test=test, points=pts.astype(np.float32), colors=cols.astype(np.float32),
                   random_points=random_points, extent=camera_extent(train + test), source=root,
                   layout=layout, notes=notes)


if __name__ == "__main__":  # quick look: python -m blender_gs_addon.trainer.dataset_loader DATASET
    ds = load_dataset(sys.argv[1])
    print(ds.layout, len(ds.train), "train", len(ds.test), "test", len(ds.points), "points", "extent", ds.extent)
