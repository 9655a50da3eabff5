"""Where each file of a dataset lives, the transforms.json document and the progress manifest (bpy-free)."""
from __future__ import annotations

import json
import os
import re

import numpy as np

from ..core import atomic

MANIFEST = ".render_progress.json"
TEST_EVERY = 8  # every 8th frame (index 0, 8, 16, ...) is held out for test
# folders and files the renderer owns (see is_dataset_file)
OWNED_DIRS = ("images", "depth", "flow", "normals", "segmentation", "occlusion", "scene_flow", "albedo",
              "cameras", "preview")
TRAJECTORY_FILE = "cameras/trajectory_tum.txt"  # the camera_motion pass (top-level keys of transforms.json)
IMU_FILE = "cameras/imu.txt"
TRACKS_FILE = "tracks.npz"  # the tracks pass (top-level key tracks_file_path)
OWNED_FILES = ("transforms.json", "segmentation.json", "points3d.ply", "scene.json", MANIFEST, TRAJECTORY_FILE,
               IMU_FILE, TRACKS_FILE)
# optional ground truth, chosen with --passes (all on by default; docs/dataset-format.md)
PASSES = ("sky_flow", "occlusion", "boundaries", "camera_motion", "scene_flow", "albedo", "material", "tracks")
DEFAULT_PASSES = PASSES


def parse_passes(text: str) -> tuple[str, ...]:
    """``--passes`` value -> the passes in canonical order: "all", "none" or a comma list of PASSES."""
    text = text.strip()
    if text == "all":
        return PASSES
    if text in ("none", ""):
        return ()
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = sorted(set(names) - set(PASSES))
    if bad:
        raise ValueError(f"unknown pass {', '.join(bad)}; choose from {', '.join(PASSES)} (or all, none)")
    return tuple(p for p in PASSES if p in names)
SCENE_FILE = "scene.blend"  # written by generate beside the dataset


def frame_name(frame: int) -> str:
    """File stem of a Blender frame number: 00001."""
    return f"{frame:05d}"


def frame_files(frame: int, exr: bool = False, passes=DEFAULT_PASSES, finished: bool = True) -> dict[str, str]:
    """transforms.json key -> path relative to the dataset folder, for one frame.

    ``finished=False`` leaves out the files written only when the dataset is finalised (the
    occlusion masks, which need the neighbouring frames' depth)."""
    n = frame_name(frame)
    files = {
        "file_path": f"images/{n}.png",
        "depth_file_path": f"depth/{n}.npy",
        "flow_fwd_file_path": f"flow/{n}_fwd.npy",
        "flow_bwd_file_path": f"flow/{n}_bwd.npy",
        "normals_file_path": f"normals/{n}.npy",
        "instance_file_path": f"segmentation/{n}_instance.png",
        "semantic_file_path": f"segmentation/{n}_semantic.png",
    }
    if exr:
        files["exr_file_path"] = f"images/{n}.exr"
    if "boundaries" in passes:
        files["boundaries_file_path"] = f"occlusion/{n}_boundaries.png"
    if "occlusion" in passes and finished:
        files["occlusion_fwd_file_path"] = f"occlusion/{n}_fwd.png"
        files["occlusion_bwd_file_path"] = f"occlusion/{n}_bwd.png"
    if "scene_flow" in passes:
        files["scene_flow_fwd_file_path"] = f"scene_flow/{n}_fwd.npy"
        files["scene_flow_bwd_file_path"] = f"scene_flow/{n}_bwd.npy"
    if "albedo" in passes:
        files["albedo_file_path"] = f"albedo/{n}.npy"
    if "material" in passes:
        files["material_file_path"] = f"segmentation/{n}_material.png"
    return files


def preview_files(frame: int, passes=DEFAULT_PASSES, finished: bool = True) -> dict[str, str]:
    n = frame_name(frame)
    kinds = ["depth", "flow_fwd", "flow_bwd", "normals", "instance", "semantic"]
    if "boundaries" in passes:
        kinds.append("boundaries")
    if "occlusion" in passes and finished:
        kinds += ["occlusion_fwd", "occlusion_bwd"]
    if "scene_flow" in passes:
        kinds += ["scene_flow_fwd", "scene_flow_bwd"]
    if "albedo" in passes:
        kinds.append("albedo")
    if "material" in passes:
        kinds.append("material")
    if "tracks" in passes and finished:  # drawn when the dataset is finalised (tracks.npz covers all frames)
        kinds.append("tracks")
    return {k: f"preview/{n}_{k}.png" for k in kinds}


def split(names: list[str]) -> tuple[list[str], list[str]]:
    """(train, test) lists: every TEST_EVERY-th entry from the first is test; all train if fewer than 2."""
    if len(names) < 2:
        return list(names), []
    test = [n for i, n in enumerate(names) if i % TEST_EVERY == 0]
    train = [n for i, n in enumerate(names) if i % TEST_EVERY != 0]
    return train, test


def write_json(path: str, data, indent: int | None = 2) -> None:
    """Write JSON atomically (temp name, then rename)."""
    atomic.write_text(path, json.dumps(data, indent=indent) + "\n")


def save_npy(path: str, array: np.ndarray) -> None:
    """np.save atomically."""
    with atomic.atomic_path(path, suffix=".npy") as tmp:  # np.save adds .npy to names without it
        np.save(tmp, array)


def load_manifest(out_dir: str) -> dict | None:
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable progress manifest ({exc}); re-run with overwrite") from exc


_FRAME_FILE = re.compile(r"^\d{5}(_[a-z_]+)?\.(png|npy|exr)$")
_COLMAP_FILES = {"cameras/colmap/cameras.txt", "cameras/colmap/images.txt", "cameras/colmap/points3D.txt"}


def is_dataset_file(rel: str) -> bool:
    """Whether a path relative to a dataset folder is one the renderer writes.

    ``overwrite`` replaces exactly these; anything else a user put in the folder stays.
    """
    if rel in OWNED_FILES or rel in _COLMAP_FILES:
        return True
    top, _, name = rel.partition("/")
    return top in OWNED_DIRS and "/" not in name and bool(_FRAME_FILE.match(name))


def is_scene_output_file(rel: str) -> bool:
    """What ``generate`` writes: scene.blend and its dataset."""
    return rel == SCENE_FILE or is_dataset_file(rel)


def transforms_document(intrinsics: dict, frames: list[dict], exr: bool, passes=DEFAULT_PASSES) -> dict:
    """transforms.json content: shared intrinsics and one entry per frame.

    ``frames``: [{"frame": int, "c2w": [4, 4], "intrinsics": {...}}] in render order. Where a
    frame's intrinsics differ from the shared ones (animated lens), that frame carries its own.
    """
    doc = {"camera_model": "OPENCV", **intrinsics, "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0}
    entries = []
    for fr in frames:
        entry = dict(frame_files(fr["frame"], exr, passes))
        entry["transform_matrix"] = [list(map(float, row)) for row in fr["c2w"]]
        entry["frame"] = fr["frame"]
        own = fr["intrinsics"]
        if any(abs(own[k] - intrinsics[k]) > 1e-9 for k in ("fl_x", "fl_y", "cx", "cy")):
            entry.update({k: own[k] for k in ("fl_x", "fl_y", "cx", "cy")})
        entries.append(entry)
    names = [e["file_path"] for e in entries]
    train, test = split(names)
    doc.update({
        "frames": entries,
        "ply_file_path": "points3d.ply",
        **({"trajectory_file_path": TRAJECTORY_FILE, "imu_file_path": IMU_FILE} if "camera_motion" in passes else {}),
        **({"tracks_file_path": TRACKS_FILE} if "tracks" in passes else {}),
        "train_filenames": train,
        "val_filenames": list(test),
        "test_filenames": test,
    })
    return doc
