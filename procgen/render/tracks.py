"""Point tracks of a dataset in the point-tracking layout (TAP-Vid / Kubric), bpy-free part:
the arrays, where the query points are drawn, the visibility test and the file.

``tracks.npz`` (named by the top-level ``tracks_file_path`` of transforms.json), T = the frames
of transforms.json in their order, N tracks:

- ``query_points`` float32 [N, 3]: (frame index t, y, x) of the pixel centre the track starts from;
- ``target_points`` float32 [N, T, 2]: (x, y) pixels where the track's surface point projects in
  each frame (pixel centres at +0.5, docs/dataset-format.md); meaningful where not occluded;
- ``occluded`` bool [N, T]: hidden by a nearer surface or out of view;
- ``points_3d`` float32 [N, T, 3]: the surface point in world units and axes;
- beside those: ``out_of_view`` bool [N, T], ``frames`` int32 [T] (Blender frame numbers) and
  ``instance_id`` uint16 [N] (the object the point lies on, as in the instance images).

The query points are pixel centres with a surface, drawn uniformly at random (a fixed stream
per frame number) in up to ``QUERY_FRAMES`` frames spread evenly over the clip, N split evenly
between them. How the points follow their surface is ``track_anchors.py``; a point is occluded
where the depth map of the frame at the pixel it lands on is nearer than the point by more than
the occlusion masks' tolerance (``occlusion.nearer_surface``).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..core.atomic import atomic_path
from ..core.seeding import stream
from .camera_poses import project
from .occlusion import nearer_surface

DEFAULT_POINTS = 2000
QUERY_FRAMES = 8
REQUIRED = ("query_points", "target_points", "occluded", "points_3d")


@dataclass
class PointTracks:
    query_points: np.ndarray   # [N, 3] float32 (t, y, x)
    target_points: np.ndarray  # [N, T, 2] float32 (x, y)
    occluded: np.ndarray       # [N, T] bool
    points_3d: np.ndarray      # [N, T, 3] float32 world
    out_of_view: np.ndarray    # [N, T] bool
    frames: np.ndarray         # [T] int32 Blender frame numbers
    instance_id: np.ndarray    # [N] uint16

    @classmethod
    def empty(cls, query_points: np.ndarray, instance_id: np.ndarray, frames: list[int]) -> PointTracks:
        n, t = len(query_points), len(frames)
        return cls(query_points.astype(np.float32), np.zeros((n, t, 2), np.float32), np.ones((n, t), bool),
                   np.zeros((n, t, 3), np.float32), np.ones((n, t), bool), np.asarray(frames, np.int32),
                   instance_id.astype(np.uint16))

    def set_frame(self, j: int, points: np.ndarray, K: np.ndarray, c2w: np.ndarray, depth: np.ndarray) -> None:
        """Fill frame index ``j`` from the tracks' world points [N, 3] and that frame's camera and depth."""
        uv, occluded, out = visibility(points, K, c2w, depth)
        self.target_points[:, j] = uv
        self.points_3d[:, j] = points
        self.occluded[:, j] = occluded
        self.out_of_view[:, j] = out


def query_frame_indices(n_frames: int, most: int = QUERY_FRAMES) -> np.ndarray:
    """Indices of up to ``most`` frames spread evenly over ``n_frames`` (first and last included)."""
    if n_frames < 1:
        return np.zeros(0, int)
    return np.unique(np.linspace(0, n_frames - 1, min(most, n_frames)).round().astype(int))


def points_per_query(n_points: int, n_queries: int) -> list[int]:
    """``n_points`` split as evenly as possible over ``n_queries`` frames (the first ones get one more)."""
    base, extra = divmod(n_points, max(n_queries, 1))
    return [base + (k < extra) for k in range(n_queries)]


def sample_query_pixels(depth: np.ndarray, count: int, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows [M], cols [M]) of up to ``count`` distinct pixels with a surface, uniformly at random from
    the stream of Blender frame ``frame`` (so a resumed or repeated render draws the same)."""
    flat = np.flatnonzero(np.isfinite(depth))
    rng = stream(0, "tracks", frame)
    pick = np.sort(rng.choice(flat, size=min(count, flat.size), replace=False)) if flat.size else flat
    return np.divmod(pick, depth.shape[1])


def visibility(points: np.ndarray, K: np.ndarray, c2w: np.ndarray,
               depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixels [N, 2] (x, y), occluded [N], out of view [N]) of world points [N, 3] in the camera
    ``K``, ``c2w`` (OpenGL axes) whose depth map is ``depth`` [H, W]. Out of view: behind the camera
    or outside the image; occluded: out of view or covered (``occlusion.nearer_surface``)."""
    h, w = depth.shape
    if not len(points):
        return np.zeros((0, 2)), np.zeros(0, bool), np.zeros(0, bool)
    uv, z = project(np.asarray(points, np.float64), K, c2w)
    with np.errstate(invalid="ignore"):
        inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    col = np.floor(np.where(inside, uv[:, 0], 0)).astype(np.int64).clip(0, w - 1)
    row = np.floor(np.where(inside, uv[:, 1], 0)).astype(np.int64).clip(0, h - 1)
    covered = nearer_surface(depth, row, col, z)
    return uv, ~inside | covered, ~inside


def save_tracks(path: str, tracks: PointTracks) -> None:
    """Write ``tracks.npz`` atomically (compressed)."""
    with atomic_path(path, suffix=".npz") as tmp:  # np.savez adds .npz to names without it
        np.savez_compressed(tmp, **{f.name: getattr(tracks, f.name) for f in fields(tracks)})


def load_tracks(path: str) -> dict[str, np.ndarray]:
    """The arrays of a ``tracks.npz``; ValueError naming the file when it is not one."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable tracks file ({exc})") from None
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise ValueError(f"{path}: lacks {', '.join(missing)}")
    n, t = arrays["occluded"].shape if arrays["occluded"].ndim == 2 else (-1, -1)
    shapes = {"query_points": (n, 3), "target_points": (n, t, 2), "occluded": (n, t), "points_3d": (n, t, 3)}
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise ValueError(f"{path}: {key} has shape {arrays[key].shape}; expected {shape}")
    return arrays
