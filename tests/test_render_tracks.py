"""Point tracks (tracks.npz) against an independent computation: each query pixel's depth
unprojected through its camera, moved with Blender's own world matrices of its object (a box
that slides, a box that slides and turns) or lifted to the water's surface by a vertical ray
cast onto the evaluated wave grid, and projected into every frame with transforms.json's
cameras; occlusion against a depth test in each frame (the point's tangent plane cut by the
pixel's ray). Also: resume after a cancel, the pass turned off, the preview pictures, ``render``
of a saved .blend with ``--track-points`` and the docs' example loader run on the dataset."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import bpy
import numpy as np
import pytest
from helpers import ROOT, dataset_file, frame_K

from procgen.render import render_dataset
from procgen.render.png import read_png
from procgen.render.reference_scenes import build_tracking_scene

pytestmark = pytest.mark.blender

RES = (128, 96)
FRAMES = 6
POINTS = 1500
RIGID = ("Cube", "Turner", "Sphere", "Ground")


def _render(out, **kwargs):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_tracking_scene(resolution=RES, frames=FRAMES)
    kwargs.setdefault("passes", ("tracks",))
    return render_dataset(out, samples=1, device="cpu", denoise=False, track_points=POINTS, **kwargs)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracks")
    assert _render(out)["complete"]
    tr = json.loads((out / "transforms.json").read_text())
    with np.load(out / tr["tracks_file_path"]) as data:
        tracks = {k: data[k] for k in data.files}
    return out, tr, tracks


def _unproject(depth, K, c2w, rows, cols):
    """World points [M, 3] of pixel centres at their planar depth, through an OpenGL camera-to-world pose."""
    x = (cols + 0.5 - K[0, 2]) / K[0, 0]
    y = (rows + 0.5 - K[1, 2]) / K[1, 1]
    cam = np.stack([x, -y, -np.ones_like(x)], -1) * depth[rows, cols][:, None]
    return c2w[:3, 3] + cam @ c2w[:3, :3].T


def _project(points, K, c2w):
    cam = (points - c2w[:3, 3]) @ c2w[:3, :3]
    z = -cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([K[0, 2] + K[0, 0] * cam[:, 0] / z, K[1, 2] - K[1, 1] * cam[:, 1] / z], -1), z


def _query_surface(out, tr, tracks):
    """(points [N, 3], world normals [N, 3], instance ids [N]) of the query pixels, from the dataset's
    depth, normal and instance files."""
    q = tracks["query_points"]
    t, rows, cols = q[:, 0].astype(int), np.floor(q[:, 1]).astype(int), np.floor(q[:, 2]).astype(int)
    points, normals, ids = np.zeros((len(q), 3)), np.zeros((len(q), 3)), np.zeros(len(q), int)
    for j in np.unique(t):
        e, sel = tr["frames"][j], t == j
        c2w = np.array(e["transform_matrix"])
        points[sel] = _unproject(dataset_file(out, e, "depth_file_path"), frame_K(tr, e), c2w, rows[sel], cols[sel])
        n_cam = dataset_file(out, e, "normals_file_path")[rows[sel], cols[sel]]
        normals[sel] = n_cam @ (c2w[:3, :3] @ np.diag([1.0, -1.0, -1.0])).T  # OpenCV camera axes -> world
        ids[sel] = dataset_file(out, e, "instance_file_path")[rows[sel], cols[sel]]
    return points, normals, ids


def _expected(out, tr, tracks):
    """(points [N, T, 3], normals [N, T, 3], object names [N]) where each track's surface point is in
    every frame: rigid objects moved by Blender's matrices, water points lifted by a ray cast."""
    seg = json.loads((out / "segmentation.json").read_text())
    name_of = {int(i): o["name"] for i, o in seg["objects"].items()}
    points_q, normals_q, ids = _query_surface(out, tr, tracks)
    names = np.array([name_of[i] for i in ids])
    frames = [e["frame"] for e in tr["frames"]]
    q_frame = np.array(frames)[tracks["query_points"][:, 0].astype(int)]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_tracking_scene(resolution=RES, frames=FRAMES)
    scene = bpy.context.scene
    mats = {}
    for f in frames:
        scene.frame_set(f)
        mats[f] = {n: np.array(bpy.data.objects[n].matrix_world, np.float64) for n in RIGID}
    pts, nrm = np.repeat(points_q[:, None], len(frames), 1), np.repeat(normals_q[:, None], len(frames), 1)
    for s, f in enumerate(frames):
        for name in RIGID:
            for qf in np.unique(q_frame[names == name]):
                sel = (names == name) & (q_frame == qf)
                m = mats[f][name] @ np.linalg.inv(mats[qf][name])
                pts[sel, s] = points_q[sel] @ m[:3, :3].T + m[:3, 3]
                nrm[sel, s] = normals_q[sel] @ m[:3, :3].T
        scene.frame_set(f)
        pool, depsgraph = bpy.data.objects["Pool"], bpy.context.evaluated_depsgraph_get()
        loc = np.array(pool.matrix_world)[:3, 3]
        for n in np.flatnonzero(names == "Pool"):  # the waves lift the surface under the point straight up
            hit, at, normal, _ = pool.ray_cast(tuple(points_q[n] - loc + (0, 0, 5.0)), (0, 0, -1.0),
                                               depsgraph=depsgraph)
            assert hit
            pts[n, s], nrm[n, s] = np.array(at) + loc, np.array(normal)
    return pts, nrm, names


def _depth_test(out, tr, pts, nrm):
    """occluded [N, T] by an independent rule: out of the image or behind the camera, or the depth
    there nearer by 2 % than the point's tangent plane along that pixel's centre ray."""
    occluded = np.zeros(pts.shape[:2], bool)
    w, h = RES
    for s, e in enumerate(tr["frames"]):
        K, c2w = frame_K(tr, e), np.array(e["transform_matrix"])
        uv, z = _project(pts[:, s], K, c2w)
        inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        col = np.floor(np.where(inside, uv[:, 0], 0)).astype(int)
        row = np.floor(np.where(inside, uv[:, 1], 0)).astype(int)
        ray = np.stack([(col + 0.5 - K[0, 2]) / K[0, 0], -(row + 0.5 - K[1, 2]) / K[1, 1], -np.ones(len(col))], -1)
        ray = ray @ c2w[:3, :3].T  # world, one unit of planar depth
        n = nrm[:, s]
        with np.errstate(divide="ignore", invalid="ignore"):
            own = np.sum(n * (pts[:, s] - c2w[:3, 3]), -1) / np.sum(n * ray, -1)
        there = dataset_file(out, e, "depth_file_path")[row, col]
        occluded[:, s] = ~inside | (there < 0.98 * own)
    return occluded


def test_tracks_follow_their_surfaces_through_moving_turning_and_deforming_objects(dataset):
    out, tr, tracks = dataset
    n, t = len(tracks["query_points"]), len(tr["frames"])
    assert t == FRAMES and n == POINTS
    assert tracks["target_points"].shape == (n, t, 2) and tracks["points_3d"].shape == (n, t, 3)
    assert tracks["occluded"].dtype == bool and tracks["occluded"].shape == (n, t)
    assert np.array_equal(tracks["frames"], [e["frame"] for e in tr["frames"]])
    pts, nrm, names = _expected(out, tr, tracks)
    for name in ("Cube", "Turner", "Sphere", "Ground", "Pool"):
        assert np.sum(names == name) >= 20, (name, np.sum(names == name))
    # the query frames spread over the clip, and every track is visible at its query pixel centre
    q = tracks["query_points"]
    idx = q[:, 0].astype(int)
    assert len(np.unique(idx)) >= 4 and idx.min() == 0 and idx.max() == t - 1
    assert np.all(np.abs(q[:, 1:] % 1 - 0.5) < 1e-6)
    assert not tracks["occluded"][np.arange(n), idx].any()
    errors, by_object = [], {}
    for s, e in enumerate(tr["frames"]):
        uv, _ = _project(pts[:, s], frame_K(tr, e), np.array(e["transform_matrix"]))
        seen = ~tracks["occluded"][:, s]
        err = np.linalg.norm(uv - tracks["target_points"][:, s], axis=-1)[seen]
        errors.append(err)
        for name in np.unique(names[seen]):
            by_object.setdefault(name, []).append(err[names[seen] == name])
    errors = np.concatenate(errors)
    assert errors.size > 0.5 * n * t
    assert np.median(errors) <= 0.01, f"median reprojection error {np.median(errors):.5f} px"
    assert np.quantile(errors, 0.99) <= 0.05, f"99th percentile {np.quantile(errors, 0.99):.5f} px"
    for name, errs in by_object.items():
        assert np.median(np.concatenate(errs)) <= 0.01, name
    # the world points too, and the water truly moves (a still surface would be off by pixels)
    gap = np.linalg.norm(tracks["points_3d"] - pts, axis=-1)
    assert np.median(gap) < 1e-4 and gap.max() < 2e-3, gap.max()  # the depth map's own error (docs/benchmarks.md)
    pool = names == "Pool"
    rise = np.abs(pts[pool, :, 2] - pts[pool, :1, 2]).max()
    assert rise > 0.02, f"the water rises only {rise:.4f} m"
    still = []  # the water's points taken as still would land this far from their tracks
    for s, e in enumerate(tr["frames"]):
        sel = pool & ~tracks["occluded"][:, s] & (idx != s)
        uv, _ = _project(pts[sel, idx[sel]], frame_K(tr, e), np.array(e["transform_matrix"]))
        still.append(np.linalg.norm(uv - tracks["target_points"][sel, s], axis=-1))
    assert np.median(np.concatenate(still)) > 0.1


def test_occlusion_flags_agree_with_a_depth_test_in_every_frame(dataset):
    out, tr, tracks = dataset
    pts, nrm, _ = _expected(out, tr, tracks)
    expected = _depth_test(out, tr, pts, nrm)
    agree = np.mean(expected == tracks["occluded"])
    assert agree >= 0.995, f"occlusion flags agree with the depth test on {agree:.4%} of points"
    # both kinds occur: covered by the sliding boxes and turned away, and out of the turning camera's view
    covered = tracks["occluded"] & ~tracks["out_of_view"]
    assert covered.sum() > 50 and tracks["out_of_view"].sum() > 50, (covered.sum(), tracks["out_of_view"].sum())


def test_resumed_render_gives_the_same_tracks(dataset, tmp_path):
    _, _, tracks = dataset
    asked = []
    partial = _render(tmp_path, should_cancel=lambda: len(asked.append(1) or asked) > 2)
    assert not partial["complete"] and partial["frames_done"] == 2
    with np.load(tmp_path / "tracks.npz") as early:  # a dataset of the two finished frames
        assert early["occluded"].shape == (POINTS, 2)
    assert _render(tmp_path)["complete"]
    with np.load(tmp_path / "tracks.npz") as again:
        for key, value in tracks.items():
            assert np.array_equal(again[key], value), key


def test_without_the_pass_there_are_no_tracks(tmp_path):
    _render(tmp_path, frames=(1, 2), passes=("boundaries",))
    tr = json.loads((tmp_path / "transforms.json").read_text())
    assert "tracks_file_path" not in tr and not (tmp_path / "tracks.npz").exists()
    assert not [p for p in os.listdir(tmp_path / "preview") if "tracks" in p]


def test_preview_pictures_mark_the_visible_tracks(dataset):
    out, tr, tracks = dataset
    for s, e in enumerate(tr["frames"]):
        picture = read_png(str(out / "preview" / f"{e['frame']:05d}_tracks.png"))
        dimmed = (read_png(str(out / e["file_path"]))[:, :, :3] * 0.6).astype(np.uint8)
        seen = ~tracks["occluded"][:, s]
        x, y = np.floor(tracks["target_points"][seen, s]).astype(int).T
        assert np.mean(np.any(picture[y, x] != dimmed[y, x], axis=-1)) > 0.95
        near = np.zeros(dimmed.shape[:2], bool)  # within 3 px of a track's path over the last frames
        for k in range(max(0, s - 5), s + 1):
            a, b = tracks["target_points"][:, max(k - 1, 0)], tracks["target_points"][:, k]
            inside = ~tracks["out_of_view"][:, k] & ~tracks["out_of_view"][:, max(k - 1, 0)]
            for f in np.linspace(0, 1, 201):
                x, y = np.floor(a[inside] + (b[inside] - a[inside]) * f).astype(int).T
                for dy in range(-3, 4):
                    for dx in range(-3, 4):
                        near[(y + dy).clip(0, RES[1] - 1), (x + dx).clip(0, RES[0] - 1)] = True
        bad = np.argwhere(np.any(picture != dimmed, -1) & ~near)
        assert near.mean() < 0.9 and not len(bad), (s, bad[:5], picture[tuple(bad[0])] if len(bad) else None)


def test_render_of_a_blend_file_takes_the_track_count(tmp_path, capsys):
    import argparse

    from procgen.render import cli

    build_tracking_scene(resolution=(48, 32), frames=3)
    blend = str(tmp_path / "user.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    base = [blend, "--out", str(tmp_path / "ds"), "--samples", "1", "--device", "cpu", "--passes", "tracks"]
    assert cli.run(parser.parse_args([*base, "--track-points", "40"])) == 0
    tr = json.loads((tmp_path / "ds" / "transforms.json").read_text())
    with np.load(tmp_path / "ds" / tr["tracks_file_path"]) as tracks:
        assert tracks["occluded"].shape == (40, 3)
    assert json.loads((tmp_path / "ds" / "scene.json").read_text())["render"]["track_points"] == 40
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--track-points", "0"])
    assert "--track-points" in capsys.readouterr().err


def _docs_loader() -> str:
    text = (ROOT / "docs" / "dataset-format.md").read_text()
    match = re.search(r"<!-- tracks example loader -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/dataset-format.md lost its example loader"
    return match.group(1)


def test_the_docs_example_loader_opens_the_tracks(dataset, tmp_path):
    out, tr, tracks = dataset
    os.symlink(out, tmp_path / "my_dataset")
    run = subprocess.run([sys.executable, "-c", _docs_loader()], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    n, t = tracks["occluded"].shape
    assert f"{n} tracks over {t} frames" in run.stdout
    assert str((~tracks["occluded"]).sum(0).tolist()) in run.stdout
    ppm = (tmp_path / "tracks.ppm").read_bytes()
    assert ppm.startswith(b"P6 %d %d 255\n" % RES)
