"""SceneFrames (blender_gs_addon.torch_dataset) against the files of a real batch, read without it.

The .npy files are read with numpy, the PNGs with Blender's own image loader (an independent
decoder), intrinsics and poses straight from transforms.json; items come through a
DataLoader with two worker processes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT, run_batch

from blender_gs_addon.batch.scenes import read_index
from blender_gs_addon.torch_dataset import FIELDS, SceneDataError, SceneFrames
from procgen.render.layout import PASSES

FRAMES = 3


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batch")
    proc = run_batch(out, "0-1", "--workers", "2", frames=str(FRAMES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _png_by_blender(path: Path) -> np.ndarray:
    """[H, W, C] float64 of the file's stored values (bytes / 255 or words / 65535), rows top-down."""
    import bpy

    img = bpy.data.images.load(str(path))
    try:
        img.colorspace_settings.name = "Non-Color"  # the stored numbers, no colour conversion
        w, h = img.size
        return np.array(img.pixels[:], np.float64).reshape(h, w, img.channels)[::-1]
    finally:
        bpy.data.images.remove(img)


def _expected(scene: Path, entry: dict, tr: dict) -> dict:
    f = {k: scene / entry[k] for k in entry if k.endswith("file_path")}
    c2w = np.array(entry["transform_matrix"])
    flip = c2w.copy()
    flip[:, 1:3] *= -1  # OpenGL -> OpenCV camera axes: y and z columns change sign
    return {
        "rgb": _png_by_blender(f["file_path"])[:, :, :3].transpose(2, 0, 1),
        "depth": np.load(f["depth_file_path"]),
        "flow_fwd": np.load(f["flow_fwd_file_path"]).transpose(2, 0, 1),
        "flow_bwd": np.load(f["flow_bwd_file_path"]).transpose(2, 0, 1),
        "normals": np.load(f["normals_file_path"]).transpose(2, 0, 1),
        "instance": np.rint(_png_by_blender(f["instance_file_path"])[:, :, 0] * 65535),
        "semantic": np.rint(_png_by_blender(f["semantic_file_path"])[:, :, 0] * 65535),
        "K": np.array([[tr["fl_x"], 0, tr["cx"]], [0, tr["fl_y"], tr["cy"]], [0, 0, 1]]),
        "c2w": c2w, "c2w_opencv": flip,
        # the default passes: occlusion masks and boundaries (8-bit PNG), scene flow, albedo, material ids (16-bit
        # PNG), the IMU's row of this frame
        "occlusion_fwd": np.rint(_png_by_blender(f["occlusion_fwd_file_path"])[:, :, 0] * 255),
        "occlusion_bwd": np.rint(_png_by_blender(f["occlusion_bwd_file_path"])[:, :, 0] * 255),
        "boundaries": np.rint(_png_by_blender(f["boundaries_file_path"])[:, :, 0] * 255),
        "scene_flow_fwd": np.load(f["scene_flow_fwd_file_path"]).transpose(2, 0, 1),
        "scene_flow_bwd": np.load(f["scene_flow_bwd_file_path"]).transpose(2, 0, 1),
        "albedo": np.load(f["albedo_file_path"]).transpose(2, 0, 1),
        "material": np.rint(_png_by_blender(f["material_file_path"])[:, :, 0] * 65535),
        **_imu_row(scene, tr, entry),
        **_track_column(scene, tr, entry),
    }


def _imu_row(scene: Path, tr: dict, entry: dict) -> dict:
    rows = [line.split() for line in (scene / tr["imu_file_path"]).read_text().splitlines()
            if not line.startswith("#")]
    row = np.array(rows[tr["frames"].index(entry)], np.float64)
    return {"angular_velocity": row[1:4], "specific_force": row[4:7]}


def _track_column(scene: Path, tr: dict, entry: dict) -> dict:
    """This frame's column of tracks.npz, read with numpy."""
    with np.load(scene / tr["tracks_file_path"]) as tracks:
        j = tr["frames"].index(entry)
        return {"track_points": tracks["target_points"][:, j], "track_occluded": tracks["occluded"][:, j],
                "track_points_3d": tracks["points_3d"][:, j]}


def test_imports_without_blender():
    code = "import sys; from blender_gs_addon.torch_dataset import SceneFrames; print('bpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_frame_through_a_dataloader_with_workers_matches_the_files(batch_dir):
    loader = torch.utils.data.DataLoader(SceneFrames(str(batch_dir)), batch_size=None, num_workers=2)
    items = {(int(it["seed"]), int(it["frame"])): it for it in loader}
    index = read_index(str(batch_dir))
    assert len(items) == len(index) * FRAMES == 6
    assert all(e["passes"] == list(PASSES) for e in index)  # index.json says what each scene holds
    for scene_entry in index:
        scene = batch_dir / scene_entry["path"]
        tr = json.loads((scene / "transforms.json").read_text())
        seg = json.loads((scene / "segmentation.json").read_text())
        for entry in tr["frames"]:
            item = items[(scene_entry["seed"], entry["frame"])]
            want = _expected(scene, entry, tr)
            for key, value in want.items():
                got = item[key].numpy()
                assert got.shape == value.shape, key
                if key in ("K", "c2w", "c2w_opencv", "angular_velocity", "specific_force"):
                    value = value.astype(np.float32)  # the loader's dtype; the file holds float64
                tol = 1e-6 if key == "rgb" else 0  # Blender's loader gives float32 bytes / 255
                if value.dtype == bool:
                    assert got.dtype == bool and np.array_equal(got, value), key
                    continue
                assert np.allclose(got, value, rtol=0, atol=tol, equal_nan=True), key
            assert item["rgb"].dtype == torch.float32 and item["instance"].dtype == torch.int64
            # the masks agree with the other files: ids only where there is a surface, classes as recorded
            surface = np.isfinite(item["depth"].numpy())
            assert np.array_equal(item["instance"].numpy() > 0, surface)
            inst, sem = item["instance"].numpy(), item["semantic"].numpy()
            for oid in np.unique(inst[inst > 0]):
                assert np.all(sem[inst == oid] == seg["objects"][str(oid)]["semantic_id"])
            assert item["split"] == ("test" if entry["file_path"] in tr["test_filenames"] else "train")


def test_split_pair_biome_and_field_filters(batch_dir, tmp_path):
    index = read_index(str(batch_dir))
    trs = [json.loads((batch_dir / e["transforms"]).read_text()) for e in index]
    for split in ("train", "test", "val"):
        frames = SceneFrames(str(batch_dir), split=split, fields=())
        assert len(frames) == sum(len(t[f"{split}_filenames"]) for t in trs) > 0
        primary = "test" if split == "val" else split  # the format's val frames are its test frames
        assert {frames[i]["split"] for i in range(len(frames))} == {primary}

    pairs = SceneFrames(str(batch_dir), pairs=True, fields=("flow_fwd", "flow_bwd"))
    assert len(pairs) == len(index) * (FRAMES - 1)
    for i in range(len(pairs)):
        p = pairs[i]
        assert p["t1"]["frame"] == p["t0"]["frame"] + 1 and p["t1"]["seed"] == p["t0"]["seed"]
        flow = np.load(Path(p["t0"]["scene"]) / f"flow/{p['t0']['frame']:05d}_fwd.npy")
        assert np.array_equal(p["t0"]["flow_fwd"].numpy(), flow.transpose(2, 0, 1))
        assert set(p["t0"]) >= {"flow_fwd", "flow_bwd"} and "rgb" not in p["t0"]

    biomes = [e["biome"] for e in index]
    for biome in set(biomes) - {None}:
        assert len(SceneFrames(str(batch_dir), biome=biome, fields=())) == biomes.count(biome) * FRAMES
    assert len(SceneFrames(str(batch_dir), biome="no-such-biome", fields=())) == 0

    one = batch_dir / index[0]["path"]
    assert len(SceneFrames(str(one))) == FRAMES  # a scene folder on its own
    # lazy: only the asked-for files are read, so a scene without its depth still serves RGB
    copy = tmp_path / "scene"
    shutil.copytree(one, copy)
    shutil.rmtree(copy / "depth")
    assert SceneFrames(str(copy), fields=("rgb",))[0]["rgb"].shape == (3, 64, 64)
    with pytest.raises(SceneDataError, match=r"depth/00001\.npy: file not found"):
        SceneFrames(str(copy))[0]
    assert set(FIELDS) <= set(SceneFrames(str(one))[0])


def test_whole_clip_of_tracks_and_the_index_entry(batch_dir, tmp_path):
    frames = SceneFrames(str(batch_dir), fields=("tracks",))
    for si, entry in enumerate(read_index(str(batch_dir))):
        assert entry["tracks"] == f"{entry['path']}/tracks.npz" and entry["track_points"] == 2000
        clip = frames.tracks(si)
        with np.load(batch_dir / entry["tracks"]) as want:
            assert set(clip) == set(want.files)
            for key in want.files:
                assert np.array_equal(clip[key].numpy(), want[key]), key
        assert clip["target_points"].shape[1] == FRAMES and clip["occluded"].dtype == torch.bool
    copy = tmp_path / "scene"  # a damaged tracks file is named in one line
    shutil.copytree(batch_dir / read_index(str(batch_dir))[0]["path"], copy)
    (copy / "tracks.npz").write_bytes(b"not a zip")
    with pytest.raises(SceneDataError, match=r"tracks\.npz: not a readable tracks file"):
        SceneFrames(str(copy), fields=("tracks",))[0]


def test_bad_arguments_are_refused_by_name(batch_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        SceneFrames(str(batch_dir), split="training")
    with pytest.raises(ValueError, match="unknown field"):
        SceneFrames(str(batch_dir), fields=("colour",))
    with pytest.raises(SceneDataError, match=str(tmp_path)):
        SceneFrames(str(tmp_path))
