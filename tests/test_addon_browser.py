"""The dataset browser: a transforms.json's frames listed, the scene camera moved to a frame (checked
against the file's matrix and against Blender's own projection), the frame's pictures in the Image
Editor, and every camera's frustum as one mesh of edges (checked against the pinhole geometry)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from procgen.render.camera_poses import intrinsics_from_blender
from procgen.render.png import read_png, write_png

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]
PREVIEW_KINDS = ("depth", "flow_fwd", "normals", "instance", "semantic")


def _look_at(eye, target) -> np.ndarray:
    """Camera-to-world [4, 4] in OpenGL camera axes (x right, y up, looking along -z), built here."""
    fwd = np.asarray(target, float) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, np.cross(right, fwd), -fwd, eye
    return m


def _dataset(folder: Path, n: int = 10, own_intrinsics: dict | None = None, shared: dict | None = None) -> dict:
    """A transforms.json of ``n`` cameras on a ring looking at the origin, small PNGs, and the
    preview pictures of frame 00001 (as our renderer names them)."""
    rng = np.random.default_rng(1)
    (folder / "images").mkdir(parents=True)
    (folder / "preview").mkdir()
    frames = []
    for i in range(n):
        name = f"{i + 1:05d}"
        write_png(folder / "images" / f"{name}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
        a = 2 * math.pi * i / n
        eye = np.array([4 * math.cos(a), 4 * math.sin(a), 1.0 + 0.3 * i])
        frames.append({"file_path": f"images/{name}.png", "transform_matrix": _look_at(eye, [0, 0, 0.5]).tolist()})
    if own_intrinsics:
        frames[2].update(own_intrinsics)
    for kind in PREVIEW_KINDS:
        write_png(folder / "preview" / f"00001_{kind}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    doc = {"camera_model": "OPENCV", **(shared if shared is not None else
                                         {"fl_x": 52.0, "fl_y": 47.0, "cx": 18.5, "cy": 16.25, "w": 40, "h": 30}),
           "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(doc))
    return doc


def _load(folder: Path):
    s = bpy.context.scene.gaussian_scenes
    s.dataset_dir = str(folder)
    assert bpy.ops.gs.dataset_load() == {"FINISHED"}
    return s


def _K(doc: dict, frame: dict) -> np.ndarray:
    get = lambda k: frame.get(k, doc.get(k))  # noqa: E731
    return np.array([[get("fl_x"), 0, get("cx")], [0, get("fl_y"), get("cy")], [0, 0, 1]], float)


def test_frames_are_listed_with_the_split(tmp_path):
    _dataset(tmp_path / "d", n=10)
    s = _load(tmp_path / "d")
    assert [f.name for f in s.browser_frames] == [f"images/{i:05d}" for i in range(1, 11)]
    assert [f.held_out for f in s.browser_frames] == [i % 8 == 0 for i in range(10)]  # every 8th, as training
    doc = json.loads((tmp_path / "d" / "transforms.json").read_text())
    doc["test_filenames"] = ["images/00004.png"]
    (tmp_path / "d" / "transforms.json").write_text(json.dumps(doc))
    s = _load(tmp_path / "d")
    assert [f.name for f in s.browser_frames if f.held_out] == ["images/00004"]


@pytest.mark.parametrize("own", [None, {"fl_x": 30.0, "fl_y": 36.0, "cx": 25.0, "cy": 11.0}])
def test_camera_jumps_to_the_frame_pose_and_intrinsics(tmp_path, own):
    doc = _dataset(tmp_path / "d", n=5, own_intrinsics=own)
    s = _load(tmp_path / "d")
    scene = bpy.context.scene
    for index in (2, 4):
        assert bpy.ops.gs.dataset_jump(index=index) == {"FINISHED"}
        frame = doc["frames"][index]
        cam = scene.camera
        c2w = np.array(frame["transform_matrix"])
        np.testing.assert_allclose(np.array(cam.matrix_world), c2w, atol=1e-6)
        K = _K(doc, frame)
        intr = intrinsics_from_blender(cam.data, scene.render)
        assert (intr.w, intr.h) == (40, 30)
        np.testing.assert_allclose([intr.fl_x, intr.fl_y, intr.cx, intr.cy], [K[0, 0], K[1, 1], K[0, 2], K[1, 2]],
                                   rtol=1e-5)
        # Blender's own projection of points in view lands where the file's pinhole puts them
        rng = np.random.default_rng(index)
        cam_pts = np.column_stack([rng.uniform(-0.5, 0.5, (20, 2)) * 3, -rng.uniform(2, 6, 20)])  # GL camera axes
        world = cam_pts @ c2w[:3, :3].T + c2w[:3, 3]
        bpy.context.view_layer.update()
        for p, q in zip(world, cam_pts):
            ndc = world_to_camera_view(scene, cam, Vector(p))
            blender_px = np.array([ndc.x * 40, (1 - ndc.y) * 30])
            z = -q[2]
            pinhole = np.array([K[0, 0] * q[0] / z + K[0, 2], K[1, 1] * -q[1] / z + K[1, 2]])  # OpenCV y is down
            np.testing.assert_allclose(blender_px, pinhole, atol=1e-3)
    # selecting a frame in the list moves the camera too
    s.browser_index = 1
    np.testing.assert_allclose(np.array(scene.camera.matrix_world), doc["frames"][1]["transform_matrix"], atol=1e-6)


def test_field_of_view_only_and_image_size_from_the_png(tmp_path):
    """A camera file of another tool: camera_angle_x, no w/h: the focal length from the angle and the
    image's own width."""
    angle = 0.9
    _dataset(tmp_path / "d", n=3, shared={"camera_angle_x": angle})
    _load(tmp_path / "d")
    assert bpy.ops.gs.dataset_jump(index=0) == {"FINISHED"}
    intr = intrinsics_from_blender(bpy.context.scene.camera.data, bpy.context.scene.render)
    assert (intr.w, intr.h) == (40, 30)
    assert intr.fl_x == pytest.approx(20 / math.tan(angle / 2)) and intr.fl_y == pytest.approx(intr.fl_x)
    assert (intr.cx, intr.cy) == pytest.approx((20, 15))
    assert math.degrees(bpy.context.scene.camera.data.angle_x) == pytest.approx(math.degrees(angle), abs=1e-4)


def test_frusta_are_one_mesh_of_the_pinhole_pyramids(tmp_path):
    doc = _dataset(tmp_path / "d", n=6, own_intrinsics={"fl_x": 30.0, "fl_y": 36.0, "cx": 25.0, "cy": 11.0})
    s = _load(tmp_path / "d")
    s.frustum_size = 0.7
    assert bpy.ops.gs.dataset_frusta() == {"FINISHED"}
    assert bpy.ops.gs.dataset_frusta() == {"FINISHED"}  # again: the same object, a new mesh
    objs = [o for o in bpy.data.objects if o.name.startswith("Dataset Cameras")]
    assert len(objs) == 1 and objs[0].type == "MESH"
    mesh = objs[0].data
    verts = np.array([v.co for v in mesh.vertices])
    assert len(mesh.polygons) == 0 and len(mesh.edges) == 8 * 6 and len(verts) == 5 * 6
    edges = {tuple(sorted(e.vertices)) for e in mesh.edges}
    for i, frame in enumerate(doc["frames"]):
        c2w, K, d = np.array(frame["transform_matrix"]), _K(doc, frame), 0.7
        # OpenGL camera axes: y up, looking along -z; pixel rows run down
        corners = [np.array([(u - K[0, 2]) / K[0, 0] * d, -(v - K[1, 2]) / K[1, 1] * d, -d])
                   for u, v in ((0, 0), (40, 0), (40, 30), (0, 30))]
        want = np.array([c2w[:3, 3]] + [c2w[:3, :3] @ c + c2w[:3, 3] for c in corners])
        np.testing.assert_allclose(verts[5 * i:5 * i + 5], want, atol=1e-5)
        apex = 5 * i
        assert {(apex, apex + k) for k in range(1, 5)} <= edges
        assert {tuple(sorted((apex + k, apex + k % 4 + 1))) for k in range(1, 5)} <= edges
    # and against Blender's own view frame of the camera moved to the frame
    assert bpy.ops.gs.dataset_jump(index=2) == {"FINISHED"}
    cam, scene = bpy.context.scene.camera, bpy.context.scene
    frame_pts = [cam.matrix_world @ (c * (0.7 / -c.z)) for c in cam.data.view_frame(scene=scene)]
    got = verts[11:15]
    for p in frame_pts:
        assert np.linalg.norm(got - np.array(p), axis=1).min() < 1e-4


def test_frame_pictures_open_in_the_image_editor(tmp_path):
    _dataset(tmp_path / "d", n=3)
    s = _load(tmp_path / "d")
    area = next(a for a in bpy.context.window_manager.windows[0].screen.areas if a.type != "VIEW_3D")
    area.type = "IMAGE_EDITOR"
    for kind, path in [("rgb", tmp_path / "d" / "images" / "00001.png")] + [
            (k, tmp_path / "d" / "preview" / f"00001_{k}.png") for k in PREVIEW_KINDS]:
        assert bpy.ops.gs.dataset_show(kind=kind) == {"FINISHED"}
        image = area.spaces.active.image
        assert Path(bpy.path.abspath(image.filepath)) == path
        pixels = np.array(image.pixels[:]).reshape(30, 40, -1)[::-1, :, :3]
        np.testing.assert_array_equal(np.round(pixels * 255).astype(np.uint8), read_png(path)[..., :3])
    s.browser_index = 1  # frame 00002 has no pictures: said so
    with pytest.raises(RuntimeError, match="no depth picture"):
        bpy.ops.gs.dataset_show(kind="depth")


def test_bad_datasets_say_what_is_wrong(tmp_path):
    s = bpy.context.scene.gaussian_scenes
    (tmp_path / "empty").mkdir()
    s.dataset_dir = str(tmp_path / "empty")
    with pytest.raises(RuntimeError, match=r"empty: no camera file"):
        bpy.ops.gs.dataset_load()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "transforms.json").write_text('{"frames": [{"file_path": "x.png"}]}')
    s.dataset_dir = str(tmp_path / "bad")
    with pytest.raises(RuntimeError, match=r"transforms.json: frame 0 must be an object with 'file_path'"):
        bpy.ops.gs.dataset_load()
    assert not bpy.ops.gs.dataset_frusta.poll()  # nothing loaded: the buttons are greyed out


def test_synthetic_pair_marks_the_test_file_held_out(tmp_path):
    _dataset(tmp_path / "d", n=4)
    doc = json.loads((tmp_path / "d" / "transforms.json").read_text())
    (tmp_path / "d" / "transforms.json").unlink()
    train, test = dict(doc, frames=doc["frames"][:3]), dict(doc, frames=doc["frames"][3:])
    (tmp_path / "d" / "transforms_train.json").write_text(json.dumps(train))
    (tmp_path / "d" / "transforms_test.json").write_text(json.dumps(test))
    s = _load(tmp_path / "d")
    assert [f.held_out for f in s.browser_frames] == [False, False, False, True]


def _click(op, **props):
    """Run an operator as a click does: in the window and screen (Blender's undo needs them), after an
    undo step, with an undo step of its own."""
    win = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=win, screen=win.screen):
        bpy.ops.ed.undo_push(message="before")
        return op("EXEC_DEFAULT", True, **props)


def _undo(redo: bool = False) -> None:
    win = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=win, screen=win.screen):
        assert (bpy.ops.ed.redo if redo else bpy.ops.ed.undo)() == {"FINISHED"}


def test_camera_jump_and_frusta_undo(tmp_path):
    doc = _dataset(tmp_path / "d", n=4)
    _load(tmp_path / "d")
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    before = np.array(cam.matrix_world)
    assert _click(bpy.ops.gs.dataset_jump, index=3) == {"FINISHED"}
    jumped = np.array(doc["frames"][3]["transform_matrix"])
    np.testing.assert_allclose(np.array(bpy.data.objects["Cam"].matrix_world), jumped, atol=1e-6)
    _undo()
    np.testing.assert_allclose(np.array(bpy.data.objects["Cam"].matrix_world), before, atol=1e-6)
    _undo(redo=True)
    np.testing.assert_allclose(np.array(bpy.data.objects["Cam"].matrix_world), jumped, atol=1e-6)
    assert _click(bpy.ops.gs.dataset_frusta) == {"FINISHED"}
    assert len(bpy.data.objects["Dataset Cameras"].data.edges) == 8 * 4
    _undo()
    assert "Dataset Cameras" not in bpy.data.objects
    _undo(redo=True)
    assert len(bpy.data.objects["Dataset Cameras"].data.edges) == 8 * 4
