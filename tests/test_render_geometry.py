"""Ground truth against independent geometry: Blender ray casts, Blender's own projection,
reprojection of depth with the camera poses, analytic surfaces."""
from __future__ import annotations

import json
import os

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from procgen.core.rotations import quat_to_matrix
from procgen.render import render_dataset
from procgen.render.camera_poses import c2w_opencv, project, unproject_depth
from procgen.render.initial_points import read_ply
from procgen.render.png import read_png
from procgen.render.reference_scenes import build_test_scene

pytestmark = pytest.mark.blender

RES = (49, 33)  # odd and non-square: a swapped axis or half-pixel slip shows
FRAMES = 4


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_test_scene(resolution=RES, frames=FRAMES)
    out = tmp_path_factory.mktemp("ds")
    summary = render_dataset(out, samples=2, device="cpu")
    assert summary["complete"] and summary["frames_done"] == FRAMES
    with open(out / "transforms.json") as fh:
        transforms = json.load(fh)
    with open(out / "segmentation.json") as fh:
        segmentation = json.load(fh)
    return out, transforms, segmentation


def _K(tr, frame_entry=None):
    src = dict(tr, **(frame_entry or {}))
    return np.array([[src["fl_x"], 0, src["cx"]], [0, src["fl_y"], src["cy"]], [0, 0, 1.0]])


def _load(out, entry, key):
    path = os.path.join(out, entry[key])
    return read_png(path) if path.endswith(".png") else np.load(path)


def test_depth_matches_ray_casts(dataset):
    out, tr, _ = dataset
    build_test_scene(resolution=RES, frames=FRAMES)
    scene = bpy.context.scene
    rng = np.random.default_rng(0)
    errors, checked = [], 0
    for entry in tr["frames"]:
        scene.frame_set(entry["frame"])
        depsgraph = bpy.context.evaluated_depsgraph_get()
        depth = _load(out, entry, "depth_file_path")
        assert depth.shape == (RES[1], RES[0]) and depth.dtype == np.float32
        c2w = np.array(entry["transform_matrix"])
        K = _K(tr, entry)
        pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), K, c2w)
        origin = c2w[:3, 3]
        rows = rng.integers(0, RES[1], 60)
        cols = rng.integers(0, RES[0], 60)
        for r, c in zip(rows, cols):
            # the ray through the pixel centre, from K and the pose alone
            d_cam = np.array([(c + 0.5 - K[0, 2]) / K[0, 0], (r + 0.5 - K[1, 2]) / K[1, 1], 1.0])
            d_world = c2w_opencv(c2w)[:3, :3] @ d_cam
            hit, loc, *_ = scene.ray_cast(depsgraph, Vector(origin), Vector(d_world / np.linalg.norm(d_world)))
            if not hit:
                assert np.isinf(depth[r, c]), f"frame {entry['frame']} pixel {(r, c)}: no surface, depth {depth[r, c]}"
                continue
            assert np.isfinite(depth[r, c])
            dist = np.linalg.norm(np.array(loc) - origin)
            err = np.linalg.norm(pts[r, c] - np.array(loc))
            errors.append(err - (0.001 + 0.001 * dist))
            checked += 1
    assert checked > 150
    assert max(errors) <= 0.0, f"worst depth error beyond 1 mm + 0.1 %: {max(errors):.5f} m"


def _visible_reprojection(depth_a, depth_b, K_a, K_b, c2w_a, c2w_b, motion=None):
    """Expected flow a->b [H, W, 2] from depth (optionally moving points by a 4x4 world motion)
    and a mask of pixels whose reprojected point is visible in b."""
    h, w = depth_a.shape
    valid = np.isfinite(depth_a)
    pts = unproject_depth(np.where(valid, depth_a, 1.0), K_a, c2w_a).reshape(-1, 3)
    if motion is not None:
        pts = pts @ motion[:3, :3].T + motion[:3, 3]
    uv_b, z_b = project(pts, K_b, c2w_b)
    uv_b, z_b = uv_b.reshape(h, w, 2), z_b.reshape(h, w)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    expected = uv_b - np.stack([cols, rows], axis=-1)
    ib = np.floor(uv_b).astype(int)
    inside = (ib[..., 0] >= 0) & (ib[..., 0] < w) & (ib[..., 1] >= 0) & (ib[..., 1] < h)
    seen = np.zeros_like(valid)
    r, c = ib[..., 1].clip(0, h - 1), ib[..., 0].clip(0, w - 1)
    seen = np.abs(depth_b[r, c] - z_b) < 0.02 * z_b  # not occluded in b
    return expected, valid & inside & seen


def _matrix_at(ob, frame):
    bpy.context.scene.frame_set(frame)
    return np.array(ob.matrix_world)


def test_flow_equals_reprojected_depth(dataset):
    out, tr, seg = dataset
    build_test_scene(resolution=RES, frames=FRAMES)
    cube = bpy.data.objects["Cube"]
    cube_id = int(next(k for k, v in seg["objects"].items() if v["name"] == "Cube"))
    by_frame = {e["frame"]: e for e in tr["frames"]}
    epe = {}  # (direction, static or moving) -> end-point errors [N]
    for t in range(1, FRAMES):
        for direction, (a, b) in (("flow_fwd_file_path", (t, t + 1)), ("flow_bwd_file_path", (t + 1, t))):
            ea, eb = by_frame[a], by_frame[b]
            depth_a, depth_b = _load(out, ea, "depth_file_path"), _load(out, eb, "depth_file_path")
            inst_a = _load(out, ea, "instance_file_path")
            flow = _load(out, ea, direction)
            assert flow.shape == (RES[1], RES[0], 2) and flow.dtype == np.float32
            c2w_a, c2w_b = np.array(ea["transform_matrix"]), np.array(eb["transform_matrix"])
            exp, ok = _visible_reprojection(depth_a, depth_b, _K(tr, ea), _K(tr, eb), c2w_a, c2w_b)
            static = ok & (inst_a != cube_id)
            epe.setdefault((direction, "static"), []).append(np.linalg.norm(flow - exp, axis=-1)[static])
            motion = _matrix_at(cube, b) @ np.linalg.inv(_matrix_at(cube, a))
            exp_m, ok_m = _visible_reprojection(depth_a, depth_b, _K(tr, ea), _K(tr, eb), c2w_a, c2w_b, motion)
            moving = ok_m & (inst_a == cube_id)
            epe.setdefault((direction, "moving"), []).append(np.linalg.norm(flow - exp_m, axis=-1)[moving])
    for (direction, kind), errors in epe.items():
        errors = np.concatenate(errors)
        assert errors.size > (600 if kind == "static" else 100), (direction, kind, errors.size)
        # the camera and the cube move by pixels, so a zero or sign-flipped flow fails here
        assert np.median(errors) <= 0.05, f"{direction} {kind}: median EPE {np.median(errors):.4f} px"
        # every visible pixel, object edges included: ground truth from one centred sample never
        # blends the motion of two surfaces (an anti-aliased vector pass would fail this)
        assert errors.max() <= 0.01, f"{direction} {kind}: worst EPE {errors.max():.4f} px"


def test_flow_is_not_trivial(dataset):
    out, tr, _ = dataset
    flow = _load(out, tr["frames"][0], "flow_fwd_file_path")
    depth = _load(out, tr["frames"][0], "depth_file_path")
    assert np.median(np.linalg.norm(flow, axis=-1)[np.isfinite(depth)]) > 1.0


@pytest.mark.parametrize("fit,res,shift,aspect", [
    ("AUTO", (49, 33), (0.08, -0.05), (1.0, 1.0)),
    ("AUTO", (31, 52), (-0.1, 0.12), (1.0, 1.0)),
    ("VERTICAL", (64, 40), (0.0, 0.2), (1.0, 1.0)),
    ("HORIZONTAL", (40, 64), (0.15, 0.0), (1.0, 1.0)),
    ("AUTO", (48, 32), (0.05, 0.05), (1.0, 1.3)),
    ("VERTICAL", (48, 32), (0.0, -0.1), (1.4, 1.0)),
])
def test_intrinsics_and_pose_match_blender_projection(fit, res, shift, aspect):
    from procgen.render.camera_poses import c2w_opengl, intrinsics_from_blender

    build_test_scene(resolution=res, frames=2, shift=shift)
    scene = bpy.context.scene
    scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = aspect
    cam = scene.camera
    cam.data.sensor_fit = fit
    cam.data.sensor_height = 20.0
    scene.frame_set(2)
    intr = intrinsics_from_blender(cam.data, scene.render)
    c2w = c2w_opengl(cam.matrix_world)
    rng = np.random.default_rng(1)
    pts = rng.uniform([-3, -2, 0], [3, 4, 2], size=(40, 3))
    uv, z = project(pts, intr.K, c2w)
    for p, (u, v), depth in zip(pts, uv, z):
        ndc = world_to_camera_view(scene, cam, Vector(p))
        assert abs(ndc.z - depth) < 1e-5 * depth  # Blender works in float32
        assert abs(u - ndc.x * res[0]) < 1e-3 and abs(v - (1 - ndc.y) * res[1]) < 1e-3


def test_normals_are_unit_and_face_the_camera(dataset):
    out, tr, _ = dataset
    for entry in tr["frames"]:
        n = _load(out, entry, "normals_file_path")
        depth = _load(out, entry, "depth_file_path")
        valid = np.isfinite(depth)
        assert np.allclose(np.linalg.norm(n[valid], axis=-1), 1.0, atol=1e-4)
        assert np.all(n[~valid] == 0)
        # the ground (world +z) in OpenCV camera axes, from the pose alone
        c2w_cv = c2w_opencv(np.array(entry["transform_matrix"]))
        up_cam = c2w_cv[:3, :3].T @ np.array([0, 0, 1.0])
        inst = _load(out, entry, "instance_file_path")
        ground = valid & (inst == 3)  # ids are sorted names: Cone, Cube, Ground, Sphere
        assert ground.sum() > 100
        assert np.all(n[ground] @ up_cam > 0.999)
        # every visible surface faces the camera: the normal points against the viewing ray
        K = _K(tr, entry)
        cols, rows = np.meshgrid(np.arange(RES[0]) + 0.5, np.arange(RES[1]) + 0.5)
        rays = np.stack([(cols - K[0, 2]) / K[0, 0], (rows - K[1, 2]) / K[1, 1], np.ones_like(cols)], -1)
        assert np.mean(np.sum(n * rays, -1)[valid] < 0) > 0.99


def test_segmentation_ids_and_boxes(dataset):
    out, tr, seg = dataset
    objects = seg["objects"]
    assert sorted(v["name"] for v in objects.values()) == ["Cone", "Cube", "Ground", "Sphere"]
    assert [objects[k]["name"] for k in ("1", "2", "3", "4")] == ["Cone", "Cube", "Ground", "Sphere"]
    # the cone's class comes from the empties that instance it; the sphere has none
    assert objects["1"]["class"] == "tree" and objects["4"]["class"] == "unlabeled"
    assert objects["2"]["moving"] and not objects["4"]["moving"]
    # the cone renders twice, so its box covers both instances: x from -0.7 to 3.2
    assert np.allclose([objects["1"]["aabb_min"][0], objects["1"]["aabb_max"][0]], [-0.7, 3.2], atol=1e-5)
    seen = set()
    for entry in tr["frames"]:
        inst = _load(out, entry, "instance_file_path")
        sem = _load(out, entry, "semantic_file_path")
        depth = _load(out, entry, "depth_file_path")
        assert inst.dtype == np.uint16 and inst.shape == (RES[1], RES[0])
        assert np.all((inst == 0) == ~np.isfinite(depth))
        K, c2w = _K(tr, entry), np.array(entry["transform_matrix"])
        pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), K, c2w)
        for i in np.unique(inst[inst > 0]):
            obj = objects[str(int(i))]  # KeyError = an id without an object
            seen.add(obj["name"])
            mask = inst == i
            assert np.all(sem[mask] == obj["semantic_id"])
            box = obj.get("frames", {}).get(f"{entry['frame']:05d}", obj)
            lo, hi = np.array(box["aabb_min"]), np.array(box["aabb_max"])
            # the object's pixels are surface points inside its 3D box ...
            assert np.all((pts[mask] >= lo - 1e-3) & (pts[mask] <= hi + 1e-3))
            # ... and lie within the 2D box of its projected corners
            corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
            uv, z = project(corners, K, c2w)
            if np.any(z <= 0):
                continue  # the box reaches behind the camera (the ground): no 2D box
            rows, cols = np.nonzero(mask)
            assert cols.min() + 0.5 >= uv[:, 0].min() - 0.5 and cols.max() + 0.5 <= uv[:, 0].max() + 0.5
            assert rows.min() + 0.5 >= uv[:, 1].min() - 0.5 and rows.max() + 0.5 <= uv[:, 1].max() + 0.5
    assert seen == {"Cone", "Cube", "Ground", "Sphere"}


def test_point_cloud_lies_on_surfaces_with_their_colours(dataset):
    out, tr, _ = dataset
    v = read_ply(os.path.join(out, tr["ply_file_path"]))
    pts = np.stack([v["x"], v["y"], v["z"]], -1).astype(np.float64)
    rgb = np.stack([v["red"], v["green"], v["blue"]], -1).astype(int)
    nrm = np.stack([v["nx"], v["ny"], v["nz"]], -1)
    assert len(pts) > 500
    d_ground = np.abs(pts[:, 2])
    d_sphere = np.abs(np.linalg.norm(pts - [-1.8, 1.0, 1.0], axis=1) - 1.0)
    on_ground, on_sphere = d_ground < 0.02, d_sphere < 0.05
    assert on_ground.sum() > 100 and on_sphere.sum() > 30
    # ground is green, sphere is blue (their base colours), normals point out of the surface
    assert np.mean(rgb[on_ground & ~on_sphere, 1] > rgb[on_ground & ~on_sphere, 2]) > 0.9
    assert np.mean(rgb[on_sphere & ~on_ground, 2] > rgb[on_sphere & ~on_ground, 0]) > 0.9
    assert np.mean(nrm[on_ground & (pts[:, 2] < 1e-3) & ~on_sphere, 2] > 0.99) > 0.95


def test_transforms_json_follows_the_camera_file_conventions(dataset):
    out, tr, _ = dataset
    for key in ("camera_model", "fl_x", "fl_y", "cx", "cy", "w", "h", "k1", "k2", "p1", "p2", "frames",
                "ply_file_path", "train_filenames", "val_filenames", "test_filenames"):
        assert key in tr
    assert tr["camera_model"] == "OPENCV" and (tr["w"], tr["h"]) == RES
    assert [e["frame"] for e in tr["frames"]] == list(range(1, FRAMES + 1))
    names = [e["file_path"] for e in tr["frames"]]
    assert tr["test_filenames"] == names[::8] and sorted(tr["train_filenames"] + tr["test_filenames"]) == names
    build_test_scene(resolution=RES, frames=FRAMES)
    cam = bpy.context.scene.camera
    for e in tr["frames"]:
        for key in ("file_path", "depth_file_path", "flow_fwd_file_path", "flow_bwd_file_path",
                    "normals_file_path", "instance_file_path", "semantic_file_path"):
            assert os.path.isfile(os.path.join(out, e[key]))
        img = read_png(os.path.join(out, e["file_path"]))
        assert img.shape == (RES[1], RES[0], 3) and img.dtype == np.uint8
        m = np.array(e["transform_matrix"])
        assert np.allclose(m[:3, :3].T @ m[:3, :3], np.eye(3), atol=1e-6)
        assert np.allclose(m, np.array(_matrix_at(cam, e["frame"])), atol=1e-6)  # OpenGL axes = matrix_world
    for f in ("points3d.ply", "scene.json", "segmentation.json", "cameras/colmap/cameras.txt",
              "cameras/colmap/images.txt", "cameras/colmap/points3D.txt"):
        assert os.path.isfile(os.path.join(out, f))
    for kind in ("depth", "flow_fwd", "normals", "instance", "semantic"):
        assert read_png(os.path.join(out, "preview", f"00001_{kind}.png")).shape == (RES[1], RES[0], 3)


def test_colmap_model_projects_like_blender(dataset):
    out, tr, _ = dataset
    build_test_scene(resolution=RES, frames=FRAMES)
    scene = bpy.context.scene
    cam_line = open(os.path.join(out, "cameras/colmap/cameras.txt")).read().splitlines()[-1].split()
    assert cam_line[1] == "PINHOLE" and (int(cam_line[2]), int(cam_line[3])) == RES
    fx, fy, cx, cy = map(float, cam_line[4:8])
    with open(os.path.join(out, "cameras/colmap/images.txt")) as fh:
        lines = [ln for ln in fh.read().splitlines() if ln and ln[0] != "#"]
    assert len(lines) == FRAMES
    p = np.array([0.3, 0.7, 0.4])
    for line, entry in zip(lines, tr["frames"]):
        vals = line.split()
        R = quat_to_matrix(np.array(vals[1:5], float))
        t = np.array(vals[5:8], float)
        x = R @ p + t
        scene.frame_set(entry["frame"])
        ndc = world_to_camera_view(scene, scene.camera, Vector(p))
        assert abs(fx * x[0] / x[2] + cx - ndc.x * RES[0]) < 1e-4
        assert abs(fy * x[1] / x[2] + cy - (1 - ndc.y) * RES[1]) < 1e-4


def test_point_cloud_colours_are_the_png_bytes(dataset):
    """Blender decodes the RGB PNGs for the point cloud; it must hand back the stored bytes
    (no colour-space conversion), the same as the independent pure-Python PNG reader."""
    from procgen.render.finalize import load_png_rgb

    out, tr, _ = dataset
    path = os.path.join(out, tr["frames"][1]["file_path"])
    assert np.array_equal(load_png_rgb(path), read_png(path))
