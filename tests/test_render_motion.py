"""Ground truth of motion beyond flow, against independent computations: sky flow against the
rotation-only formula, occlusion masks against a depth test in the other frame, occlusion
boundaries against the analytic silhouette of a sphere, the camera's TUM trajectory and IMU
against transforms.json and finite differences of the poses, 3D scene flow against the moving
cube's own world matrices, albedo against the materials' base colours and material ids against
the material of the object the instance segmentation names."""
from __future__ import annotations

import json
import os

import bpy
import numpy as np
import pytest
from helpers import dataset_file, frame_K

from procgen.render import render_dataset
from procgen.render.reference_scenes import build_test_scene

pytestmark = pytest.mark.blender

RES = (96, 64)
FRAMES = 5


def _build():
    """The reference scene with a camera that turns on smooth (Bezier) curves, so it accelerates."""
    build_test_scene(resolution=RES, frames=FRAMES)
    cam = bpy.context.scene.camera
    anim = cam.animation_data.action
    fcurves = getattr(anim, "fcurves", None)
    if fcurves is None:  # 5.0 layered actions
        fcurves = [fc for layer in anim.layers for strip in layer.strips for bag in strip.channelbags
                   for fc in bag.fcurves]
    for fc in fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "BEZIER"
        fc.update()  # auto handles, flat at the two keys: the camera eases in and out
    bpy.context.scene.frame_set(1)
    return cam


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _build()
    out = tmp_path_factory.mktemp("ds")
    summary = render_dataset(out, samples=1, device="cpu", denoise=False)
    assert summary["complete"] and summary["frames_done"] == FRAMES
    with open(out / "transforms.json") as fh:
        return out, json.load(fh)


def _blender_camera(frame):
    """(c2w [4, 4], the camera's matrix_world) evaluated by Blender at any frame."""
    _build()
    bpy.context.scene.frame_set(frame)
    return np.array(bpy.context.scene.camera.matrix_world)


def _rays_gl(K, shape):
    """Unit-free viewing rays [H, W, 3] of the pixel centres in OpenGL camera axes (y up, looking down -z)."""
    h, w = shape
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    return np.stack([(cols - K[0, 2]) / K[0, 0], -(rows - K[1, 2]) / K[1, 1], -np.ones_like(cols)], -1)


def _project_gl(points, K, c2w):
    """Pixels [.., 2] and depth [..] of world points through an OpenGL camera-to-world pose."""
    cam = (points - c2w[:3, 3]) @ c2w[:3, :3]  # world -> camera (R^T (p - t))
    z = -cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([K[0, 2] + K[0, 0] * cam[..., 0] / z, K[1, 2] - K[1, 1] * cam[..., 1] / z], -1)
    return uv, z


def _neighbours(tr, out):
    """(entry, key, pose of the other frame, K of the other frame, frame s) for every frame and direction."""
    frames = tr["frames"]
    by_frame = {e["frame"]: e for e in frames}
    for e in frames:
        for key, s in (("fwd", e["frame"] + 1), ("bwd", e["frame"] - 1)):
            other = by_frame.get(s)
            c2w_s = np.array(other["transform_matrix"]) if other else _blender_camera(s)
            yield e, key, c2w_s, frame_K(tr, other or e), s, other


def test_sky_flow_is_the_rotation_only_reprojection(dataset):
    out, tr = dataset
    checked, moved = 0, []
    for e, key, c2w_s, K_s, _, _ in _neighbours(tr, out):
        depth = dataset_file(out, e, "depth_file_path")
        flow = dataset_file(out, e, f"flow_{key}_file_path")
        sky = ~np.isfinite(depth)
        assert np.all(np.isinf(depth[sky]))  # depth stays inf
        c2w = np.array(e["transform_matrix"])
        dirs = _rays_gl(frame_K(tr, e), depth.shape) @ c2w[:3, :3].T  # world directions
        uv, z = _project_gl(c2w_s[:3, 3] + dirs, K_s, c2w_s)  # a direction seen from b's own position
        assert np.all(z[sky] > 0)
        cols, rows = np.meshgrid(np.arange(RES[0]) + 0.5, np.arange(RES[1]) + 0.5)
        expected = uv - np.stack([cols, rows], -1)
        err = np.linalg.norm(flow[sky] - expected[sky], axis=-1)
        assert err.max() < 1e-3, f"frame {e['frame']} {key}: sky flow off by {err.max():.2e} px"
        checked += int(sky.sum())
        moved.append(np.linalg.norm(flow[sky], axis=-1))
    assert checked > 0.1 * FRAMES * 2 * RES[0] * RES[1]  # the sky is a good part of every frame
    assert np.median(np.concatenate(moved)) > 1.0  # the camera turns: the sky moves by pixels


def _matrix_at(name, frame):
    bpy.context.scene.frame_set(frame)
    return np.array(bpy.data.objects[name].matrix_world)


def test_occlusion_masks_agree_with_a_depth_test_in_the_other_frame(dataset):
    out, tr = dataset
    _build()
    seg = json.load(open(os.path.join(out, "segmentation.json")))
    cube_id = int(next(k for k, v in seg["objects"].items() if v["name"] == "Cube"))
    agree, total, counts = 0, 0, np.zeros(3, int)
    for e, key, c2w_s, K_s, s, other in _neighbours(tr, out):
        mask = dataset_file(out, e, f"occlusion_{key}_file_path")
        assert mask.dtype == np.uint8 and mask.shape == (RES[1], RES[0])
        if other is None:  # the neighbour was not rendered: no depth to test against
            assert set(np.unique(mask)) <= {2, 255} and np.mean(mask == 255) > 0.5
            continue
        t = e["frame"]
        depth, inst = dataset_file(out, e, "depth_file_path"), dataset_file(out, e, "instance_file_path")
        depth_s = dataset_file(out, other, "depth_file_path")
        c2w = np.array(e["transform_matrix"])
        rays = _rays_gl(frame_K(tr, e), depth.shape)
        surface = np.isfinite(depth)
        # surface points from depth (planar: the ray scaled to z = -depth), the cube moved by its matrices
        pts = c2w[:3, 3] + (rays * np.where(surface, depth, 1.0)[..., None]) @ c2w[:3, :3].T
        motion = _matrix_at("Cube", s) @ np.linalg.inv(_matrix_at("Cube", t))
        cube = inst == cube_id
        pts[cube] = pts[cube] @ motion[:3, :3].T + motion[:3, 3]
        sky_dirs = rays @ c2w[:3, :3].T
        pts[~surface] = c2w_s[:3, 3] + sky_dirs[~surface]
        uv, z = _project_gl(pts, K_s, c2w_s)
        col, row = np.floor(uv[..., 0]).astype(int), np.floor(uv[..., 1]).astype(int)
        inside = (z > 0) & (col >= 0) & (col < RES[0]) & (row >= 0) & (row < RES[1])
        row, col = row.clip(0, RES[1] - 1), col.clip(0, RES[0] - 1)
        there = depth_s[row, col]
        # the depth the point's own surface would have at that pixel centre: its tangent plane
        # (Blender's normal, moved with the cube) cut by the pixel's ray in s
        normals = dataset_file(out, e, "normals_file_path") @ (c2w[:3, :3] @ np.diag([1.0, -1.0, -1.0])).T
        normals[cube] = normals[cube] @ motion[:3, :3].T
        ray_s = _rays_gl(K_s, depth.shape)[row, col] @ c2w_s[:3, :3].T  # world, one unit of depth
        with np.errstate(divide="ignore", invalid="ignore"):
            own = np.sum(normals * (pts - c2w_s[:3, 3]), -1) / np.sum(normals * ray_s, -1)
        hidden = np.where(surface, there < 0.98 * own, np.isfinite(there))
        expected = np.where(inside, np.where(hidden, 1, 0), 2)
        agree += int(np.sum(expected == mask))
        total += mask.size
        counts += np.bincount(expected.ravel(), minlength=3)
    assert agree / total >= 0.995, f"occlusion masks agree with the depth test on {agree / total:.4%} of pixels"
    # every kind occurs: the cube hides ground as it slides, the turning camera loses an edge
    assert counts[1] > 20 and counts[2] > 50, counts


def test_occlusion_boundaries_follow_the_sphere_silhouette(dataset):
    out, tr = dataset
    centre, radius = np.array([-1.8, 1.0, 1.0]), 1.0
    recalled, edge_pixels, flat_hits, flat_pixels = 0, 0, 0, 0
    for e in tr["frames"]:
        bits = dataset_file(out, e, "boundaries_file_path")
        depth, inst = dataset_file(out, e, "depth_file_path"), dataset_file(out, e, "instance_file_path")
        c2w = np.array(e["transform_matrix"])
        rays = _rays_gl(frame_K(tr, e), depth.shape) @ c2w[:3, :3].T
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
        oc = centre - c2w[:3, 3]
        miss = np.linalg.norm(oc - (rays @ oc)[..., None] * rays, axis=-1)  # ray distance to the centre
        on = miss < radius - 0.02
        off = miss > radius + 0.02
        # the sphere's own outermost pixels, next to a pixel whose ray misses it and sees something
        # at least 20 % farther (the ground or sky behind it, not the contact with the ground)
        for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            nb_off = np.roll(off, (dr, dc), axis=(0, 1))
            nb_depth = np.roll(np.where(np.isfinite(depth), depth, np.inf), (dr, dc), axis=(0, 1))
            sel = on & nb_off & (nb_depth > 1.2 * depth)
            sel[[0, -1], :] = sel[:, [0, -1]] = False  # np.roll wraps around
            edge_pixels += int(sel.sum())
            recalled += int(np.sum(sel & ((bits & 1) > 0)))
        # inside a flat, near stretch of ground (all neighbours ground, rays far from the horizon) no edge
        ground = inst == 3
        inner = ground.copy()
        for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0), (2, 0), (-2, 0), (0, 2), (0, -2)):
            inner &= np.roll(ground, (dr, dc), axis=(0, 1))
        inner[:2, :] = inner[-2:, :] = inner[:, :2] = inner[:, -2:] = False
        inner &= depth < 12.0
        flat_pixels += int(inner.sum())
        flat_hits += int(np.sum(inner & (bits > 0)))
        # instance edges: exactly the surface pixels next to a surface of another object
        differ = np.zeros_like(ground)
        for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            nb = np.roll(inst, (dr, dc), axis=(0, 1))
            d = (nb != inst) & (nb > 0) & (inst > 0)
            if dr == 1:
                d[0, :] = False
            elif dr == -1:
                d[-1, :] = False
            elif dc == 1:
                d[:, 0] = False
            else:
                d[:, -1] = False
            differ |= d
        assert np.array_equal((bits & 2) > 0, differ)
    assert edge_pixels > 40
    assert recalled / edge_pixels >= 0.95, f"{recalled}/{edge_pixels} silhouette pixels marked"
    assert flat_pixels > 1000 and flat_hits / flat_pixels < 0.005, f"{flat_hits}/{flat_pixels} ground pixels marked"


def _quat_to_matrix(x, y, z, w):
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def test_trajectory_and_imu_match_finite_differences_of_the_poses(dataset):
    out, tr = dataset
    flip = np.diag([1.0, -1.0, -1.0])  # OpenGL -> OpenCV camera axes
    scene = bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    traj = np.loadtxt(os.path.join(out, tr["trajectory_file_path"]), comments="#", ndmin=2)
    imu = np.loadtxt(os.path.join(out, tr["imu_file_path"]), comments="#", ndmin=2)
    assert traj.shape == (FRAMES, 8) and imu.shape == (FRAMES, 7)
    frames = [e["frame"] for e in tr["frames"]]
    assert np.allclose(traj[:, 0], np.array(frames) / fps) and np.allclose(imu[:, 0], traj[:, 0])
    poses = {e["frame"]: np.array(e["transform_matrix"]) for e in tr["frames"]}
    poses[frames[0] - 1] = _blender_camera(frames[0] - 1)
    poses[frames[-1] + 1] = _blender_camera(frames[-1] + 1)
    for row, f in zip(traj, frames):
        assert np.allclose(row[1:4], poses[f][:3, 3], atol=1e-6)
        assert np.allclose(_quat_to_matrix(*row[4:8]), poses[f][:3, :3] @ flip, atol=1e-6)
    dt = 1.0 / fps
    gravity = np.array(scene.gravity)
    spins, accels = [], []
    for row, f in zip(imu, frames):
        prev, here, nxt = (poses[g][:3, :3] @ flip for g in (f - 1, f, f + 1))
        # small-angle rates from the skew part of the relative rotations, averaged over both steps
        rate = np.zeros(3)
        for a, b in ((prev, here), (here, nxt)):
            rel = a.T @ b
            rate += np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]]) / 2 / (2 * dt)
        acc_world = (poses[f + 1][:3, 3] - 2 * poses[f][:3, 3] + poses[f - 1][:3, 3]) / dt ** 2
        force = here.T @ (acc_world - gravity)
        assert np.allclose(row[1:4], rate, rtol=2e-3, atol=1e-4), (f, row[1:4], rate)
        assert np.allclose(row[4:7], force, rtol=1e-4, atol=1e-3), (f, row[4:7], force)
        spins.append(np.linalg.norm(rate))
        accels.append(np.linalg.norm(acc_world))
    # the camera turns and accelerates (Bezier easing), so a zero or gravity-only IMU fails
    assert min(spins) > 0.05 and max(accels) > 1.0


def test_scene_flow_is_the_cube_s_own_matrix_difference_and_zero_on_static_surfaces(dataset):
    out, tr = dataset
    seg = json.load(open(out / "segmentation.json"))
    ids = {o["name"]: int(i) for i, o in seg["objects"].items()}
    # the cube's world matrices, evaluated by Blender at every frame and one beyond each end
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _build()
    scene = bpy.context.scene
    mats = {}
    for f in range(0, FRAMES + 2):
        scene.frame_set(f)
        mats[f] = np.array(bpy.data.objects["Cube"].matrix_world, np.float64)
    moved_px = 0
    for e in tr["frames"]:
        f = e["frame"]
        depth, inst = dataset_file(out, e, "depth_file_path"), dataset_file(out, e, "instance_file_path")
        surface = np.isfinite(depth)
        cube, static = inst == ids["Cube"], surface & (inst != ids["Cube"])
        assert cube.sum() > 50 and (inst == ids["Ground"]).sum() > 500
        for key, s in (("scene_flow_fwd_file_path", f + 1), ("scene_flow_bwd_file_path", f - 1)):
            flow = dataset_file(out, e, key)
            assert flow.dtype == np.float32 and flow.shape == depth.shape + (3,)
            assert np.array_equal(np.isnan(flow).any(-1), ~surface) and np.isnan(flow[~surface]).all()
            assert np.all(flow[static] == 0)  # the ground and the sphere stay where they are
            # the cube only slides (no turn), so each of its points moves by its matrix's translation change
            assert np.allclose(mats[s][:3, :3], mats[f][:3, :3], atol=1e-9)
            want = mats[s][:3, 3] - mats[f][:3, 3]
            if 1 <= s <= FRAMES:  # 0.4 m a frame along +x inside the keys (constant outside them)
                assert np.allclose(want, (0.4 * (s - f), 0, 0), atol=1e-6)
            assert np.allclose(flow[cube], want, rtol=0, atol=1e-5), (f, key, want)
            moved_px += int(cube.sum())
    assert moved_px > 0
    # the preview pictures exist for both directions
    for e in tr["frames"]:
        n = f"{e['frame']:05d}"
        assert os.path.isfile(out / "preview" / f"{n}_scene_flow_fwd.png")
        assert os.path.isfile(out / "preview" / f"{n}_scene_flow_bwd.png")


BASE_COLOURS = {"Soil": (0.2, 0.5, 0.1), "Blue": (0.1, 0.2, 0.8), "Red": (0.8, 0.1, 0.1), "Bark": (0.5, 0.35, 0.2)}
ALBEDO_TOL = 1e-5  # float32 rounding of the pass
# Cycles' diffuse colour of a Principled BSDF is its base colour times the light its dielectric
# specular layer (IOR 1.5, roughness 0.5) lets through: one grey factor, 1 - 0.0374 head-on, less at grazing angles
SPECULAR_SHARE = (0.75, 0.9627)


def test_albedo_is_the_base_colour_and_material_ids_name_each_object_s_material(dataset):
    out, tr = dataset
    seg = json.load(open(out / "segmentation.json"))
    # the materials' ids: 1..N over the used materials in sorted order
    assert seg["materials"] == {str(i + 1): n for i, n in enumerate(sorted(BASE_COLOURS))}
    mat_id = {n: int(i) for i, n in seg["materials"].items()}
    # each object's material from Blender's own data (the reference scene has one material an object)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _build()
    object_material = {int(i): bpy.data.objects[o["name"]].material_slots[0].material.name
                       for i, o in seg["objects"].items()}
    counts = dict.fromkeys(BASE_COLOURS, 0)
    for e in tr["frames"]:
        depth, inst = dataset_file(out, e, "depth_file_path"), dataset_file(out, e, "instance_file_path")
        albedo, material = dataset_file(out, e, "albedo_file_path"), dataset_file(out, e, "material_file_path")
        assert albedo.dtype == np.float32 and albedo.shape == depth.shape + (3,)
        assert material.dtype == np.uint16 and material.shape == depth.shape
        surface = np.isfinite(depth)
        assert (~surface).any() and np.all(albedo[~surface] == 0) and np.all(material[~surface] == 0)
        # every surface pixel's material id names the material of the object the instance ids say is there
        want = np.zeros_like(material)
        for i, name in object_material.items():
            want[inst == i] = mat_id[name]
        assert np.array_equal(material[surface], want[surface]), e["frame"]
        for name, rgb in BASE_COLOURS.items():
            px = material == mat_id[name]
            counts[name] += int(px.sum())
            share = albedo[px] / np.array(rgb, np.float32)  # [K, 3]: the same in all three channels
            assert np.abs(share - share[:, :1]).max(initial=0) <= ALBEDO_TOL / min(rgb), (e["frame"], name)
            assert SPECULAR_SHARE[0] <= share.min() and share.max() <= SPECULAR_SHARE[1], (e["frame"], name)
        n = f"{e['frame']:05d}"
        assert os.path.isfile(out / "preview" / f"{n}_albedo.png")
        assert os.path.isfile(out / "preview" / f"{n}_material.png")
    # the red cube, blue sphere, ground and both cone instances are all seen
    assert min(counts.values()) > 50, counts


def test_albedo_without_a_specular_layer_is_exactly_the_base_colour(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _build()
    for name in BASE_COLOURS:  # the Principled BSDF's dielectric layer off: diffuse only
        bsdf = next(n for n in bpy.data.materials[name].node_tree.nodes if n.type == "BSDF_PRINCIPLED")
        bsdf.inputs["Specular IOR Level"].default_value = 0.0
    out = tmp_path / "diffuse"
    render_dataset(out, samples=1, device="cpu", denoise=False, frames=(1, 1), passes=("albedo", "material"))
    seg = json.load(open(out / "segmentation.json"))
    e = json.load(open(out / "transforms.json"))["frames"][0]
    albedo, material = dataset_file(out, e, "albedo_file_path"), dataset_file(out, e, "material_file_path")
    for i, name in seg["materials"].items():
        px = material == int(i)
        assert px.sum() > 20, name
        err = np.abs(albedo[px] - np.array(BASE_COLOURS[name], np.float32)).max()
        assert err <= ALBEDO_TOL, (name, err)


def test_passes_are_selectable_and_cost_nothing_when_off(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _build()
    out = tmp_path / "plain"
    render_dataset(out, samples=1, device="cpu", denoise=False, frames=(1, 2), passes=("boundaries",))
    tr = json.load(open(out / "transforms.json"))
    assert "trajectory_file_path" not in tr and not os.path.exists(out / "cameras" / "imu.txt")
    assert not os.listdir(out / "scene_flow") and not os.listdir(out / "albedo")
    assert not [n for n in os.listdir(out / "segmentation") if "material" in n]
    assert "materials" not in json.load(open(out / "segmentation.json"))
    for e in tr["frames"]:
        assert "occlusion_fwd_file_path" not in e and "scene_flow_fwd_file_path" not in e
        assert "albedo_file_path" not in e and "material_file_path" not in e
        assert os.path.isfile(out / e["boundaries_file_path"])
        # without sky_flow the sky keeps Blender's flow of 0
        sky = ~np.isfinite(dataset_file(out, e, "depth_file_path"))
        assert sky.any() and np.all(dataset_file(out, e, "flow_fwd_file_path")[sky] == 0)
    assert sorted(os.listdir(out / "occlusion")) == ["00001_boundaries.png", "00002_boundaries.png"]

