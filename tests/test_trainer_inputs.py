"""Malformed training input through the real `train` command: each case exits with code 2 and
one line `train: <file>: <what is wrong>` that names the file (and the frame or line), with no
traceback, and fails before training starts (no checkpoint, no point_cloud.ply).

Options with bad numbers are refused at parse time, naming the option.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil

import numpy as np
import pytest
from helpers import debris, mounted_tmpfs

import blender_gs_addon.trainer  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
from blender_gs_addon.cli import build_parser, main
from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset
from procgen.core.rotations import matrix_to_quat
from procgen.render.png import write_png

SIZE = 16


@pytest.fixture(scope="module")
def scene():
    return make_scene(n_gaussians=40, n_views=4, size=SIZE, seed=5)


@pytest.fixture(scope="module")
def base_transforms(scene, tmp_path_factory):
    return write_transforms_dataset(scene, str(tmp_path_factory.mktemp("transforms")), n_points=50)


@pytest.fixture(scope="module")
def base_colmap(scene, tmp_path_factory):
    root = tmp_path_factory.mktemp("colmap")
    (root / "images").mkdir()
    fx, fy, cx, cy = (float(v) for v in (scene.K[0, 0], scene.K[1, 1], scene.K[0, 2], scene.K[1, 2]))
    (root / "cameras.txt").write_text(f"# one camera\n1 PINHOLE {SIZE} {SIZE} {fx} {fy} {cx} {cy}\n")
    lines = ["# images: two lines each"]
    for i, (img, c2w) in enumerate(zip(scene.images, scene.c2w_gl)):
        write_png(str(root / "images" / f"{i:05d}.png"), img)
        w2c = np.linalg.inv(c2w @ np.diag([1.0, -1.0, -1.0, 1.0]))
        q, t = matrix_to_quat(w2c[:3, :3]), w2c[:3, 3]
        lines += [" ".join(str(float(v)) for v in (*q, *t)).join((f"{i + 1} ", f" 1 {i:05d}.png")), ""]
    (root / "images.txt").write_text("\n".join(lines) + "\n")
    (root / "points3D.txt").write_text("".join(f"{i + 1} {p[0]} {p[1]} {p[2]} 200 100 50 0.1\n"
                                               for i, p in enumerate(scene.means)))
    return str(root)


# ----------------------------------------------------------------------------- mutations


def _doc(root):
    return json.loads(open(os.path.join(root, "transforms.json")).read())


def _put(root, doc):
    with open(os.path.join(root, "transforms.json"), "w") as f:
        json.dump(doc, f)


def edit_json(change):
    def apply(root):
        doc = _doc(root)
        change(doc)
        _put(root, doc)
    return apply


def write_file(rel, data: bytes):
    def apply(root):
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
    return apply


def cut_file(rel, keep: int):
    def apply(root):
        path = os.path.join(root, rel)
        data = open(path, "rb").read()
        open(path, "wb").write(data[:keep])
    return apply


def damage_png_data(rel):
    def apply(root):
        path = os.path.join(root, rel)
        data = bytearray(open(path, "rb").read())
        start = data.index(b"IDAT") + 8
        for k in range(start, min(start + 40, len(data) - 16)):
            data[k] ^= 0x5A
        open(path, "wb").write(bytes(data))
    return apply


def npy_image(rel, array):
    """Frame 1 reads an .npy image with the given content (bytes: written as is)."""
    def apply(root):
        path = os.path.join(root, rel)
        if isinstance(array, bytes):
            open(path, "wb").write(array)
        else:
            np.save(path, array)
        doc = _doc(root)
        doc["frames"][1]["file_path"] = rel
        _put(root, doc)
    return apply


def set_frame(i, key, value):
    return edit_json(lambda d: d["frames"][i].__setitem__(key, value))


def set_top(key, value):
    return edit_json(lambda d: d.__setitem__(key, value))


def edit_text(rel, old, new):
    def apply(root):
        path = os.path.join(root, rel)
        text = open(path).read()
        assert old in text
        open(path, "w").write(text.replace(old, new, 1))
    return apply


def replace_line(rel, index, text):
    """Replace the index-th non-comment line (0-based) by text."""
    def apply(root):
        path = os.path.join(root, rel)
        lines = open(path).read().split("\n")
        data = [k for k, ln in enumerate(lines) if not ln.startswith("#")]
        lines[data[index]] = text
        open(path, "w").write("\n".join(lines))
    return apply


def colmap(name, rel, index, text, words):
    """The case colmap-<name>: the index-th data line of ``rel`` replaced by ``text``, the message naming ``rel``."""
    return (f"colmap-{name}", "c", replace_line(rel, index, text), rel, words)


def _no_focal(doc):
    del doc["fl_x"], doc["fl_y"]
    return doc


def _singular(m):
    m[0][:3] = [0.0, 0.0, 0.0]


EYE_ROWS = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 3.0], [0.0, 0.0, 0.0, 1.0]]
GOOD_NPY = np.zeros((SIZE, SIZE, 3), np.uint8)


def _npy_bytes(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


# (id, layout, mutation, file named in the message, words in the message); extra options last
CASES = [
    ("png-truncated", "t", cut_file("images/00001.png", 60), "images/00001.png", "cannot read as PNG"),
    ("png-damaged-data", "t", damage_png_data("images/00002.png"), "images/00002.png", "cannot read as PNG"),
    ("png-not-png", "t", write_file("images/00001.png", b"hello, no image here"), "images/00001.png", "not a PNG"),
    ("png-empty", "t", write_file("images/00003.png", b""), "images/00003.png", "PNG"),
    ("npy-truncated", "t", npy_image("images/x.npy", _npy_bytes(GOOD_NPY)[:90]), "images/x.npy", "cannot read as .npy"),
    ("npy-garbage", "t", npy_image("images/x.npy", b"\x93NUMPY garbage"), "images/x.npy", "cannot read as .npy"),
    ("npy-1d", "t", npy_image("images/x.npy", np.zeros(10, np.uint8)), "images/x.npy", "shape"),
    ("npy-nan", "t", npy_image("images/x.npy", np.full((SIZE, SIZE, 3), np.nan, np.float32)), "images/x.npy", "NaN"),
    ("npy-5-channels", "t", npy_image("images/x.npy", np.zeros((SIZE, SIZE, 5), np.uint8)), "images/x.npy",
     "shape"),
    ("depth-npy-truncated", "t", cut_file("depth/00001.npy", 100), "depth/00001.npy", "cannot read as .npy",
     "--depth-weight", "0.1"),
    ("depth-wrong-shape", "t", write_file("depth/00002.npy", _npy_bytes(np.ones((3, 3), np.float32))),
     "depth/00002.npy", "depth is", "--depth-weight", "0.1"),
    ("json-list", "t", write_file("transforms.json", b"[1, 2, 3]"), "transforms.json", "JSON object"),
    ("json-invalid", "t", write_file("transforms.json", b'{"frames": [}'), "transforms.json", "invalid JSON"),
    ("json-not-utf8", "t", write_file("transforms.json", b'{"frames": [], "x": "\xff\xfe"}'), "transforms.json",
     "not UTF-8"),
    ("json-empty-file", "t", write_file("transforms.json", b""), "transforms.json", "invalid JSON"),
    ("frames-missing", "t", edit_json(lambda d: d.pop("frames")), "transforms.json", "frames"),
    ("frames-an-object", "t", set_top("frames", {"a": 1}), "transforms.json", "frames"),
    ("frame-a-number", "t", edit_json(lambda d: d["frames"].__setitem__(2, 7)), "transforms.json", "frame 2"),
    ("file-path-a-number", "t", set_frame(2, "file_path", 5), "transforms.json", "frame 2: 'file_path'"),
    ("file-path-missing-image", "t", set_frame(1, "file_path", "images/none.png"), "transforms.json", "none.png"),
    ("matrix-singular", "t", edit_json(lambda d: _singular(d["frames"][1]["transform_matrix"])), "transforms.json",
     "frame 1: transform_matrix is singular"),
    ("matrix-zero", "t", set_frame(1, "transform_matrix", [[0.0] * 4] * 3 + [[0, 0, 0, 1]]), "transforms.json",
     "singular"),
    ("matrix-ragged", "t", set_frame(3, "transform_matrix", [[1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
     "transforms.json", "frame 3: transform_matrix"),
    ("matrix-3x3", "t", set_frame(0, "transform_matrix", [[1, 0, 0], [0, 1, 0], [0, 0, 1]]), "transforms.json",
     "4x4"),
    ("matrix-text", "t", set_frame(0, "transform_matrix", [["a"] * 4] * 4), "transforms.json", "matrix of numbers"),
    ("matrix-nan", "t", set_frame(0, "transform_matrix", [[math.nan] * 4] + EYE_ROWS[1:]), "transforms.json",
     "NaN"),
    ("matrix-bottom-row", "t", set_frame(0, "transform_matrix", EYE_ROWS[:3] + [[0, 0, 1, 1]]), "transforms.json",
     "last row"),
    ("fl_x-zero", "t", set_top("fl_x", 0), "transforms.json", "'fl_x' must be > 0"),
    ("fl_x-negative", "t", set_top("fl_x", -20.0), "transforms.json", "'fl_x' must be > 0"),
    ("fl_x-nan", "t", set_top("fl_x", math.nan), "transforms.json", "'fl_x' must be finite"),
    ("fl_x-text", "t", set_top("fl_x", "wide"), "transforms.json", "'fl_x' must be a number"),
    ("fl_y-frame-negative", "t", set_frame(2, "fl_y", -1), "transforms.json", "frame 2: 'fl_y' must be > 0"),
    ("cx-infinite", "t", set_top("cx", math.inf), "transforms.json", "'cx' must be finite"),
    ("w-zero", "t", set_top("w", 0), "transforms.json", "'w' must be a whole number"),
    ("angle-too-wide", "t", edit_json(lambda d: _no_focal(d).update(camera_angle_x=4.0)), "transforms.json",
     "'camera_angle_x' is a field of view in radians, must be < pi"),
    ("no-focal", "t", edit_json(_no_focal), "transforms.json", "frame 0: no focal length"),
    ("distortion-text", "t", set_top("k1", "x"), "transforms.json", "'k1' must be a number"),
    ("ply-path-a-number", "t", set_top("ply_file_path", 3), "transforms.json", "'ply_file_path'"),
    ("ply-damaged", "t", cut_file("points3d.ply", 200), "points3d.ply", "points3d.ply"),
    ("test-names-a-number", "t", set_top("test_filenames", 5), "transforms.json", "'test_filenames'"),
    ("size-other-aspect", "t", edit_json(lambda d: d.update(w=2 * SIZE, h=SIZE + SIZE // 2)), "transforms.json",
     f"says the image is {2 * SIZE}x{SIZE + SIZE // 2} but "),
    ("downscale-too-big", "t", None, "images/00000.png", "too small for --downscale 100", "--downscale", "100"),
    colmap("camera-text", "cameras.txt", 0, "1 PINHOLE 16 16 abc 20 8 8", "line 2: parameter 1 must be a number"),
    colmap("camera-few-params", "cameras.txt", 0, "1 PINHOLE 16 16 20 20 8", "takes 4 parameters, got 3"),
    colmap("camera-short", "cameras.txt", 0, "1 PINHOLE", "line 2"),
    colmap("camera-fx-zero", "cameras.txt", 0, "1 PINHOLE 16 16 0 20 8 8", "focal lengths must be > 0"),
    colmap("camera-nan", "cameras.txt", 0, "1 PINHOLE 16 16 nan 20 8 8", "must be finite"),
    colmap("camera-width", "cameras.txt", 0, "1 PINHOLE 16.5 16 20 20 8 8", "width must be a whole number"),
    colmap("camera-other-aspect", "cameras.txt", 0, f"1 PINHOLE {2 * SIZE} {SIZE} 20 20 8 8",
           f"camera 1: says the image is {2 * SIZE}x{SIZE} but "),
    colmap("camera-model", "cameras.txt", 0, "1 FISHEYE 16 16 20 8 8 0.1", "model FISHEYE is not supported"),
    colmap("zero-quaternion", "images.txt", 2, "2 0 0 0 0 0.1 0.2 3 1 00001.png",
           "quaternion [0.0, 0.0, 0.0, 0.0] is zero"),
    colmap("image-text", "images.txt", 0, "1 1 0 0 zero 0 0 3 1 00000.png", "line 2: pose value 4 must be a number"),
    colmap("image-short", "images.txt", 0, "1 1 0 0 0 0 0 3", "line 2"),
    colmap("image-camera", "images.txt", 0, "1 1 0 0 0 0 0 3 9 00000.png", "camera 9"),
    ("colmap-not-utf8", "c", write_file("images.txt", b"1 1 0 0 0 0 0 3 1 \xff.png\n\n"), "images.txt",
     "not UTF-8"),
    colmap("points-text", "points3D.txt", 3, "4 0.1 y 0.3 1 2 3 0.1", "line 4: value 2 must be a number"),
    ("colmap-image-truncated", "c", cut_file("images/00002.png", 50), "images/00002.png",
     "cannot read as PNG"),
]


def _dataset(case, base_transforms, base_colmap, tmp_path) -> str:
    _, layout, mutate, *_ = case
    root = str(tmp_path / "data")
    shutil.copytree(base_transforms if layout == "t" else base_colmap, root)
    if mutate is not None:
        mutate(root)
    return root


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_dataset_gives_one_line_naming_the_file(case, base_transforms, base_colmap, tmp_path, capfd):
    name, _, _, named, words, *extra = case
    root = _dataset(case, base_transforms, base_colmap, tmp_path)
    out = tmp_path / "out"
    rc = main(["train", root, "--out", str(out), "--iterations", "5", "--device", "cpu", "--sh-degree", "0",
               *extra])
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("train: "), err
    assert os.path.join(root, named) in lines[0] and words in lines[0], lines[0]
    assert "Traceback" not in err
    # refused before training: nothing written
    assert not (out / "checkpoints").exists() and not (out / "point_cloud.ply").exists()


def test_images_of_another_size_rescale_the_cameras_only_at_the_same_aspect(base_transforms, tmp_path, capfd):
    """transforms.json written for images twice as large: the same cameras as the original's; for
    images of another aspect ratio: one line naming the file, both sizes and the image."""
    from blender_gs_addon.trainer.dataset_loader import load_dataset

    root = str(tmp_path / "data")
    shutil.copytree(base_transforms, root)
    doc = _doc(root)
    doc.update({k: 2 * doc[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")})
    _put(root, doc)
    scaled, original = load_dataset(root), load_dataset(base_transforms)
    for a, b in zip(scaled.train + scaled.test, original.train + original.test):
        np.testing.assert_allclose(a.K, b.K, rtol=1e-6)
    doc["h"] = 3 * SIZE  # 32 x 48 said, 16 x 16 stored
    _put(root, doc)
    assert main(["train", root, "--out", str(tmp_path / "out"), "--iterations", "5", "--device", "cpu"]) == 2
    err = capfd.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and os.path.join(root, "transforms.json") in err, err
    assert f"{2 * SIZE}x{3 * SIZE}" in err and f"is {SIZE}x{SIZE}, another aspect ratio" in err, err
    assert os.path.join(root, "images", "00000.png") in err, err


def test_max_gaussians_counts_the_initial_points(base_transforms, tmp_path):
    """--max-gaussians 10 on a dataset of 50 initial points: the scene holds at most 10 Gaussians
    from the start (it trained all 50, and then more); the sky shell is counted apart."""
    out = tmp_path / "out"
    assert main(["train", base_transforms, "--out", str(out), "--iterations", "40", "--device", "cpu",
                 "--sh-degree", "0", "--max-gaussians", "10"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scene_gaussians"] == 10, metrics
    assert metrics["gaussians"] == 10 + metrics["sky_gaussians"]
    from blender_gs_addon.splats import read_splats

    assert len(read_splats(out / "point_cloud.ply")) == metrics["gaussians"]


def test_the_unchanged_datasets_train(base_transforms, base_colmap, tmp_path, capfd):
    """The cases above differ from these by one edit each; the originals load and train."""
    for i, root in enumerate((base_transforms, base_colmap)):
        out = tmp_path / f"out{i}"
        assert main(["train", root, "--out", str(out), "--iterations", "5", "--device", "cpu",
                     "--sh-degree", "0"]) == 0, capfd.readouterr().err
        assert (out / "point_cloud.ply").exists()


BAD_OPTIONS = [("--time-limit", "-1"), ("--time-limit", "nan"), ("--max-gaussians", "-5"),
               ("--depth-weight", "nan"), ("--depth-weight", "-0.5"), ("--depth-weight", "inf"),
               ("--iterations", "0"), ("--iterations", "1.5"), ("--downscale", "0"), ("--downscale", "-2"),
               ("--seed", "-1"), ("--seed", "abc"), ("--seed", str(2**32))]


@pytest.mark.parametrize("option,value", BAD_OPTIONS)
def test_bad_numbers_are_refused_at_parse_time(option, value, tmp_path, capfd):
    rc = main(["train", str(tmp_path / "no-dataset"), "--out", str(tmp_path / "out"), option, value])
    err = capfd.readouterr().err
    assert rc == 2 and f"argument {option}: must be" in err and repr(value) in err, err
    assert not (tmp_path / "out").exists()  # refused before anything was created


def test_every_train_option_has_help():
    parser, _ = build_parser()
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    missing = [a.option_strings or a.dest for a in train._actions if not (a.help or "").strip()]
    assert missing == []


# ----------------------------------------------------------------------------- resuming another run's checkpoint


def _train(root, out, *extra, capfd=None) -> tuple[int, str]:
    rc = main(["train", str(root), "--out", str(out), "--iterations", "5", "--device", "cpu", "--sh-degree", "0",
               "--background", "black", *extra])
    return rc, capfd.readouterr().err if capfd is not None else ""


@pytest.fixture(scope="module")
def other_pixels(tmp_path_factory):
    """Same cameras, file names and sizes as base_transforms, other content."""
    return write_transforms_dataset(make_scene(n_gaussians=40, n_views=4, size=SIZE, seed=6),
                                    str(tmp_path_factory.mktemp("other")), n_points=50)


def _fewer_views(base, tmp_path):
    root = str(tmp_path / "fewer")
    shutil.copytree(base, root)
    doc = _doc(root)
    del doc["frames"][3]
    _put(root, doc)
    return root


RESUME_MISMATCHES = [  # (id, dataset or options of the resume, words in the refusal)
    ("other-pixels", "other", (), "a different dataset: image content differs for 'images/00001'"),
    ("fewer-views", "fewer", (), "views missing now: 'images/00003'"),
    ("iterations", "same", ("--iterations", "6"), "--iterations 6 now, 5 in the checkpoint"),
    ("seed", "same", ("--seed", "7"), "--seed 7 now, 0 in the checkpoint"),
    ("downscale", "same", ("--downscale", "2"), "image size differs"),
    ("depth", "same", ("--depth-weight", "0.5"), "--depth-weight 0.5 now, 1.0 in the checkpoint"),
]


@pytest.mark.parametrize("case", RESUME_MISMATCHES, ids=[c[0] for c in RESUME_MISMATCHES])
def test_resume_refuses_a_checkpoint_of_another_dataset_or_settings(case, base_transforms, other_pixels, tmp_path,
                                                                   capfd):
    from blender_gs_addon.trainer.checkpoint import latest_checkpoint

    _, which, options, words = case
    out = tmp_path / "out"
    assert _train(base_transforms, out, capfd=capfd)[0] == 0
    ply = (out / "point_cloud.ply").read_bytes()
    data = {"same": base_transforms, "other": other_pixels, "fewer": _fewer_views(base_transforms, tmp_path)}[which]
    rc, err = _train(data, out, "--resume", *options, capfd=capfd)
    assert rc == 1 and f"train: {latest_checkpoint(str(out))}: will not resume" in err and words in err, err
    assert (out / "point_cloud.ply").read_bytes() == ply  # nothing replaced


def test_a_checkpoint_without_fingerprint_needs_trust_checkpoint(base_transforms, tmp_path, capfd):
    import torch

    from blender_gs_addon.trainer.checkpoint import latest_checkpoint, load_checkpoint

    out = tmp_path / "out"
    assert _train(base_transforms, out, "--iterations", "100", capfd=capfd)[0] == 0
    path = latest_checkpoint(str(out))
    old = load_checkpoint(path)
    del old["fingerprint"]  # as the versions before fingerprints wrote them
    old["iteration"] = 50
    torch.save(old, path)
    rc, err = _train(base_transforms, out, "--iterations", "100", "--resume", capfd=capfd)
    assert rc == 1 and path in err and "--trust-checkpoint" in err, err
    rc, err = _train(base_transforms, out, "--iterations", "100", "--resume", "--trust-checkpoint", capfd=capfd)
    assert rc == 0, err
    assert load_checkpoint(latest_checkpoint(str(out)))["fingerprint"]  # written anew, with one


def test_a_checkpoint_from_before_a_setting_existed_resumes_with_that_settings_old_behaviour(base_transforms,
                                                                                           tmp_path, capfd):
    """Checkpoints of versions before --densify-signal record no signal: they ran the plain gradient,
    so they resume with it and are refused with the absolute gradient."""
    import torch

    from blender_gs_addon.trainer.checkpoint import latest_checkpoint, load_checkpoint

    out = tmp_path / "out"
    assert _train(base_transforms, out, "--iterations", "100", capfd=capfd)[0] == 0
    path = latest_checkpoint(str(out))
    old = load_checkpoint(path)
    del old["fingerprint"]["settings"]["densify"]["signal"]
    old["iteration"] = 50
    torch.save(old, path)
    rc, err = _train(base_transforms, out, "--iterations", "100", "--resume", "--densify-signal", "absgrad",
                     capfd=capfd)
    assert rc == 1 and "will not resume" in err and "signal" in err, err
    rc, err = _train(base_transforms, out, "--iterations", "100", "--resume", capfd=capfd)
    assert rc == 0, err


# ----------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB file system (root on Linux; elsewhere the tests skip and say why)."""
    with mounted_tmpfs(tmp_path / "disk", "size=2m") as mount:
        yield mount


def test_a_checkpoint_that_does_not_fit_says_no_space_and_names_it(scene, small_disk, tmp_path, capfd):
    big = write_transforms_dataset(scene, str(tmp_path / "big"), n_points=30000)  # a checkpoint of ~5 MB
    out = small_disk / "out"
    rc, err = _train(big, out, capfd=capfd)
    lines = [ln for ln in err.splitlines() if ln.strip() and "%|" not in ln]
    assert rc == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"train: {out / 'checkpoints' / 'ckpt_0000005.pt'}: cannot write: "
                               "no space left on device"), lines[0]
    assert "inline_container" not in err and "Traceback" not in err
    assert debris(out) == [] and not (out / "point_cloud.ply").exists()


def test_a_full_disk_before_the_start_says_so(base_transforms, small_disk, capfd):
    with open(small_disk / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    out = small_disk / "out"
    rc, err = _train(base_transforms, out, capfd=capfd)
    assert rc == 1 and f"train: {out}" in err and "no space left on device" in err, err
    assert "Traceback" not in err and debris(small_disk) == []


@pytest.mark.parametrize("field,value", [("time_limit_s", -1.0), ("depth_weight", math.nan), ("max_gaussians", -5),
                                         ("downscale", 0), ("iterations", 0)])
def test_the_api_refuses_the_same_numbers(field, value, base_transforms, tmp_path):
    from blender_gs_addon.trainer.train import TrainConfig, TrainingError, train

    with pytest.raises(TrainingError, match=field.split("_")[0]):
        train(TrainConfig(dataset=base_transforms, out=str(tmp_path / "out"), device="cpu", **{field: value}))
    assert not (tmp_path / "out").exists()  # refused before the output folder was made
