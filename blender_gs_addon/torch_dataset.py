"""A PyTorch ``Dataset`` over generated scenes: one scene folder or a whole ``batch`` folder.

    from blender_gs_addon.torch_dataset import SceneFrames
    frames = SceneFrames("batch_out", split="train")
    loader = torch.utils.data.DataLoader(frames, batch_size=8, num_workers=2)

Each item is one frame, as a dict of tensors (multi-channel images channels first):

- ``rgb`` float32 [3, H, W] in [0, 1]; ``depth`` float32 [H, W], metres of planar z-depth, inf
  where no surface; ``flow_fwd``/``flow_bwd`` float32 [2, H, W], pixels (x right, y down) to frame
  t+1 / t-1; ``normals`` float32 [3, H, W], unit, OpenCV camera axes; ``instance``/``semantic``
  int64 [H, W], 0 = background;
- where the dataset was rendered with those passes (docs/dataset-format.md): ``occlusion_fwd``/
  ``occlusion_bwd`` int64 [H, W] (0 visible in frame t+1 / t-1, 1 occluded, 2 out of view, 255
  unknown), ``boundaries`` int64 [H, W] (bit 1 depth edge, bit 2 instance edge),
  ``scene_flow_fwd``/``scene_flow_bwd`` float32 [3, H, W] (world motion of each pixel's surface
  point to frame t+1 / t-1, world units and axes, NaN where no surface), ``albedo`` float32
  [3, H, W] (linear diffuse colour, 0 where no surface), ``material`` int64 [H, W] (material id,
  names in segmentation.json ``materials``, 0 where no surface), from the IMU file
  ``angular_velocity`` and ``specific_force`` float32 [3] in OpenCV camera axes, and from
  tracks.npz (field ``tracks``) this frame's column of the point tracks: ``track_points`` float32
  [N, 2] (x, y pixels), ``track_occluded`` bool [N] and ``track_points_3d`` float32 [N, 3] (world);
  ``SceneFrames.tracks(i)`` gives scene i's whole clip (``query_points`` [N, 3] (t, y, x),
  ``target_points`` [N, T, 2], ``occluded`` [N, T], ``points_3d`` [N, T, 3], ...);
- ``K`` float32 [3, 3] (pixel centres at +0.5), ``c2w`` float32 [4, 4] camera-to-world as in
  transforms.json (OpenGL camera axes) and ``c2w_opencv`` the same pose with OpenCV axes;
- ``seed``, ``frame`` (the Blender frame number), ``scene`` (the folder) and ``split``.

``pairs=True`` gives consecutive frames (t, t+1) of one scene as ``{"t0": item, "t1": item}``
(the pair counts as in a split when its first frame is). Only the metadata is read up front;
the files of a frame are read when it is asked for, so worker processes share nothing but the
index. Filters: ``split`` ("train", "val", "test"), ``biome`` (a name or a set of names),
``fields`` (which images to read; by default FIELDS and whichever of OPTIONAL_FIELDS a frame has).
Needs no Blender.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from procgen.core.axes import c2w_opencv
from procgen.render.png import read_png
from procgen.render.tracks import load_tracks

from .batch.scenes import read_index, scene_biome, scene_complete

FIELDS = ("rgb", "depth", "flow_fwd", "flow_bwd", "normals", "instance", "semantic")
OPTIONAL_FIELDS = ("occlusion_fwd", "occlusion_bwd", "boundaries", "scene_flow_fwd",
                   "scene_flow_bwd", "albedo", "material", "tracks")  # the render's --passes
_FILE_KEYS = {"rgb": "file_path", "depth": "depth_file_path", "flow_fwd": "flow_fwd_file_path",
              "flow_bwd": "flow_bwd_file_path", "normals": "normals_file_path",
              "instance": "instance_file_path", "semantic": "semantic_file_path",
              "occlusion_fwd": "occlusion_fwd_file_path", "occlusion_bwd": "occlusion_bwd_file_path",
              "boundaries": "boundaries_file_path", "scene_flow_fwd": "scene_flow_fwd_file_path",
              "scene_flow_bwd": "scene_flow_bwd_file_path", "albedo": "albedo_file_path",
              "material": "material_file_path"}
SPLITS = ("train", "val", "test")


class SceneDataError(ValueError):
    """A scene folder that cannot be read; the message names the file."""


def _load_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise SceneDataError(f"{path}: {exc}") from None


def scene_folders(root: str) -> list[str]:
    """The scene folders under ``root``: itself, those its index.json lists, or its finished seed_* folders."""
    root = os.path.abspath(root)
    if os.path.isfile(os.path.join(root, "transforms.json")):
        return [root]
    if os.path.isfile(os.path.join(root, "index.json")):
        return [os.path.join(root, e["path"]) for e in read_index(root)]
    found = sorted(os.path.join(root, n) for n in os.listdir(root) if n.startswith("seed_"))
    found = [f for f in found if scene_complete(f)]
    if not found:
        raise SceneDataError(f"{root}: no transforms.json, index.json or finished seed_* folders")
    return found


def _scene_record(folder: str) -> dict:
    """What the index needs of one scene: intrinsics, per-frame files and poses, splits."""
    tr = _load_json(os.path.join(folder, "transforms.json"))
    meta = _load_json(os.path.join(folder, "scene.json")) if os.path.isfile(os.path.join(folder, "scene.json")) \
        else {}
    split_of: dict[str, set] = {}  # a frame may be in several lists (val repeats test here)
    for name in SPLITS:
        for path in tr.get(f"{name}_filenames") or []:
            split_of.setdefault(path, set()).add(name)
    imu = {}
    if tr.get("imu_file_path"):  # rows in the order of frames
        path = os.path.join(folder, tr["imu_file_path"])
        try:
            rows = np.loadtxt(path, comments="#", ndmin=2)
        except (OSError, ValueError) as exc:
            raise SceneDataError(f"{path}: {exc}") from None
        if rows.shape != (len(tr.get("frames") or []), 7):
            raise SceneDataError(f"{path}: {rows.shape[0]} rows of {rows.shape[1]} values; expected one row of 7 "
                                 "per frame of transforms.json")
        imu = dict(enumerate(rows.astype(np.float32)))
    frames = []
    for entry in tr.get("frames") or []:
        get = lambda k, e=entry: float(e.get(k, tr.get(k)))  # noqa: E731 (a frame may carry its own lens)
        K = np.array([[get("fl_x"), 0, get("cx")], [0, get("fl_y"), get("cy")], [0, 0, 1]], np.float32)
        files = {f: entry.get(k) for f, k in _FILE_KEYS.items()}
        files["tracks"] = tr.get("tracks_file_path")  # one file for the clip; this frame's column of it
        frames.append({"frame": int(entry.get("frame", len(frames))), "K": K,
                       "c2w": np.asarray(entry["transform_matrix"], np.float32), "files": files,
                       "imu": imu.get(len(frames)),
                       "splits": split_of.get(entry.get("file_path"), {"train"})})
    return {"folder": folder, "seed": meta.get("seed"), "biome": scene_biome(meta), "frames": frames}


def _wanted(value, allowed: Iterable[str], what: str) -> set | None:
    if value is None:
        return None
    names = {value} if isinstance(value, str) else set(value)
    bad = names - set(allowed) if allowed else set()
    if bad:
        raise ValueError(f"unknown {what} {sorted(bad)}; choose from {sorted(allowed)}")
    return names


class SceneFrames(Dataset):
    """Frames (or consecutive frame pairs) of one scene folder or a batch folder; see the module docstring."""

    def __init__(self, root: str, split: str | Iterable[str] | None = None,
                 biome: str | Iterable[str] | None = None, pairs: bool = False,
                 fields: Iterable[str] | None = None):
        self.fields = None if fields is None else tuple(fields)
        _wanted(self.fields, FIELDS + OPTIONAL_FIELDS, "field")
        splits = _wanted(split, SPLITS, "split")
        biomes = _wanted(biome, (), "biome")
        self.scenes = [s for s in map(_scene_record, scene_folders(root))
                       if biomes is None or s["biome"] in biomes]
        self.pairs = pairs
        self.items: list[tuple[int, int]] = []  # (scene, frame index of the frame or of a pair's first)
        for si, scene in enumerate(self.scenes):
            frames = scene["frames"]
            for fi, fr in enumerate(frames):
                if splits is not None and not fr["splits"] & splits:
                    continue
                if pairs and (fi + 1 >= len(frames) or frames[fi + 1]["frame"] != fr["frame"] + 1):
                    continue
                self.items.append((si, fi))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        si, fi = self.items[index]
        if self.pairs:
            return {"t0": self._frame(si, fi), "t1": self._frame(si, fi + 1)}
        return self._frame(si, fi)

    def _frame(self, si: int, fi: int) -> dict:
        scene = self.scenes[si]
        fr = scene["frames"][fi]
        item = {"seed": -1 if scene["seed"] is None else int(scene["seed"]), "frame": fr["frame"],
                "scene": scene["folder"], "split": min(fr["splits"], key=("train", "test", "val").index),
                "K": torch.from_numpy(fr["K"]), "c2w": torch.from_numpy(fr["c2w"]),
                "c2w_opencv": torch.from_numpy(c2w_opencv(fr["c2w"]).astype(np.float32))}
        if fr["imu"] is not None:
            item["angular_velocity"] = torch.from_numpy(fr["imu"][1:4].copy())
            item["specific_force"] = torch.from_numpy(fr["imu"][4:7].copy())
        fields = self.fields
        if fields is None:
            fields = FIELDS + tuple(f for f in OPTIONAL_FIELDS if fr["files"].get(f))
        for name in fields:
            rel = fr["files"].get(name)
            if not rel:
                raise SceneDataError(f"{scene['folder']}/transforms.json: frame {fr['frame']} has no {name} file")
            if name == "tracks":
                item.update(_track_column(_read_tracks(os.path.join(scene["folder"], rel)), fi))
            else:
                item[name] = _decode(name, os.path.join(scene["folder"], rel))
        return item

    def tracks(self, scene: int) -> dict[str, torch.Tensor]:
        """The point tracks of scene ``scene`` (an index into ``self.scenes``): every array of its
        tracks.npz as a tensor (docs/dataset-format.md#point-tracks)."""
        folder = self.scenes[scene]["folder"]
        rel = self.scenes[scene]["frames"][0]["files"].get("tracks") if self.scenes[scene]["frames"] else None
        if not rel:
            raise SceneDataError(f"{folder}/transforms.json: no tracks_file_path (rendered without the tracks pass)")
        return {k: torch.from_numpy(np.array(v)) for k, v in _read_tracks(os.path.join(folder, rel)).items()}


@functools.lru_cache(maxsize=2)  # the frames of one scene come in a row: read its tracks once
def _read_tracks(path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise SceneDataError(f"{path}: file not found")
    try:
        return load_tracks(path)
    except ValueError as exc:
        raise SceneDataError(str(exc)) from None


def _track_column(tracks: dict[str, np.ndarray], index: int) -> dict[str, torch.Tensor]:
    """Frame ``index``'s column of the tracks: positions [N, 2], occlusion [N], world points [N, 3]."""
    if index >= tracks["occluded"].shape[1]:
        raise SceneDataError(f"tracks hold {tracks['occluded'].shape[1]} frames; frame index {index} is beyond them")
    return {"track_points": torch.from_numpy(np.ascontiguousarray(tracks["target_points"][:, index])),
            "track_occluded": torch.from_numpy(np.ascontiguousarray(tracks["occluded"][:, index])),
            "track_points_3d": torch.from_numpy(np.ascontiguousarray(tracks["points_3d"][:, index]))}


def _decode(name: str, path: str) -> torch.Tensor:
    """One ground-truth file as a tensor (shapes in the module docstring)."""
    if not os.path.isfile(path):
        raise SceneDataError(f"{path}: file not found")
    if path.endswith(".npy"):
        arr = np.load(path).astype(np.float32, copy=False)
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1) if arr.ndim == 3 else arr))
    try:
        pix = read_png(path)
    except ValueError as exc:
        raise SceneDataError(str(exc)) from None
    if name == "rgb":
        scale = 255.0 if pix.dtype == np.uint8 else 65535.0
        rgb = pix[:, :, :3] if pix.ndim == 3 else np.repeat(pix[:, :, None], 3, axis=2)
        return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / scale)
    return torch.from_numpy(pix.astype(np.int64))
