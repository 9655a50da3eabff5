"""Splat editing in Blender: every operator against a numpy computation on the same splats, undone and
redone through Blender's own undo; the console API; refusals; Blender 5.3's own splat objects."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np
import pytest
from helpers import assert_same_splats, random_splats

from blender_gs_addon.blender import api, native_splats
from blender_gs_addon.blender.splat_objects import splats_from_object
from blender_gs_addon.splats import write_ply
from blender_gs_addon.splats.transform import bake_transform

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]
N = 600


@contextmanager
def ui():
    """The window and screen of a user's click (Blender's undo needs them). No area: headless Blender crashes
    drawing the Adjust Last Operation panel that an operator run in an area opens."""
    win = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=win, screen=win.screen):
        yield


def imported(tmp_path, data=None, name="in"):
    """A splat object imported with the File menu's operator, moved, turned and scaled."""
    path = tmp_path / f"{name}.ply"
    write_ply(path, data if data is not None else random_splats(N, 3, seed=21))
    assert bpy.ops.import_scene.gaussian_splats(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    obj.location, obj.rotation_euler, obj.scale = (0.5, -0.25, 0.1), (0.2, -0.4, 0.9), (1.5, 1.5, 1.5)
    bpy.context.view_layer.update()
    return obj


def local(obj):
    return splats_from_object(obj, apply_transform=False)


def world_points(obj, data) -> np.ndarray:  # [N, 3] float64, numpy's own affine map
    m = np.array(obj.matrix_world, np.float64)
    return data.means.astype(np.float64) @ m[:3, :3].T + m[:3, 3]


def run(op_name: str, **props):
    """Run an operator as a click does (an undo step is pushed), with Blender's undo stack started."""
    with ui():
        bpy.ops.ed.undo_push(message="before")
        return getattr(bpy.ops.object, op_name)("EXEC_DEFAULT", True, **props)


def undo_redo_check(name: str, before, after) -> None:
    """Ctrl+Z gives back the splats of before, Shift+Ctrl+Z those of after."""
    with ui():
        assert bpy.ops.ed.undo() == {"FINISHED"}
    assert_same_splats(local(bpy.data.objects[name]), before, atol=0)
    with ui():
        assert bpy.ops.ed.redo() == {"FINISHED"}
    assert_same_splats(local(bpy.data.objects[name]), after, atol=0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def expected(obj, data) -> dict:
    """What each operator must leave, from numpy on the object-space splats."""
    p = world_points(obj, data)
    s = np.sort(np.exp(data.scales_log.astype(np.float64)), axis=1)
    importance = sigmoid(data.opacity_logit) * s[:, 2] * s[:, 1]
    keep_quarter = np.sort(np.argsort(-importance)[:round(len(data) * 0.25)])
    return {
        "gs_splats_filter_value": ({"attribute": "opacity", "comparison": "gt", "value": 0.5},
                                   data.subset(sigmoid(data.opacity_logit) > 0.5)),
        "gs_splats_crop": ({"shape": "BOX", "box_min": (-1, -1, -1), "box_max": (1.5, 2, 1)},
                           data.subset(((p >= (-1, -1, -1)) & (p <= (1.5, 2, 1))).all(1))),
        "gs_splats_reduce_sh": ({"degree": 1}, dataclasses.replace(data, sh_rest=data.sh_rest[:, :3].copy())),
        "gs_splats_decimate": ({"mode": "PERCENT", "percent": 25.0}, data.subset(keep_quarter)),
    }


@pytest.mark.parametrize("op_name", ["gs_splats_filter_value", "gs_splats_crop", "gs_splats_reduce_sh",
                                     "gs_splats_decimate"])
def test_operator_does_what_numpy_says_and_undoes(tmp_path, op_name):
    obj = imported(tmp_path)
    before = local(obj)
    props, want = expected(obj, before)[op_name]
    assert 0 < len(want) <= len(before)
    assert run(op_name, **props) == {"FINISHED"}
    after = local(bpy.data.objects[obj.name])
    assert len(after) == len(want)
    assert_same_splats(after, want, atol=0)
    undo_redo_check(obj.name, before, after)


def test_crop_sphere_inverted_and_to_a_turned_cube(tmp_path):
    obj = imported(tmp_path)
    data = local(obj)
    p = world_points(obj, data)
    assert run("gs_splats_crop", shape="SPHERE", centre=(0.3, 0.2, -0.1), radius=1.7, invert=True) == {"FINISHED"}
    outside = ((p - (0.3, 0.2, -0.1)) ** 2).sum(1) >= 1.7 ** 2
    assert_same_splats(local(obj), data.subset(outside), atol=0)
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0.2, 0.1, 0.0), rotation=(0.3, 0.5, -0.2))
    cube = bpy.context.active_object
    cube.scale = (2.0, 3.0, 1.5)
    bpy.context.view_layer.update()
    bpy.context.view_layer.objects.active = obj
    data, p = data.subset(outside), p[outside]
    inv = np.linalg.inv(np.array(cube.matrix_world, np.float64))
    in_cube = (np.abs(p @ inv[:3, :3].T + inv[:3, 3]) <= 1).all(1)  # the cube spans -1..1 in its own axes
    assert 0 < in_cube.sum() < len(data)
    assert run("gs_splats_crop", shape="OBJECT", bounds=cube.name) == {"FINISHED"}
    assert_same_splats(local(obj), data.subset(in_cube), atol=0)


def test_transform_and_apply_transform_keep_the_sh_colour_turning(tmp_path):
    obj = imported(tmp_path)
    data = local(obj)
    angles = np.radians((30.0, -20.0, 75.0))
    assert run("gs_splats_transform", translation=(1, 2, 3), rotation=tuple(angles), scale=2.0) == {"FINISHED"}
    from mathutils import Euler, Matrix  # Blender's own rotation, independent of ours

    m = np.array(Matrix.Translation((1, 2, 3)) @ Euler(angles, "XYZ").to_matrix().to_4x4() @ Matrix.Scale(2, 4))
    moved = local(obj)
    np.testing.assert_allclose(moved.means, data.means.astype(np.float64) @ m[:3, :3].T + m[:3, 3], atol=1e-5)
    assert_same_splats(moved, bake_transform(data, m), atol=1e-5)
    world = splats_from_object(obj, apply_transform=True)
    assert run("gs_splats_apply_transform") == {"FINISHED"}
    assert np.allclose(np.array(obj.matrix_world), np.eye(4))
    assert_same_splats(local(obj), world, atol=1e-5)


def test_merge_keeps_every_splat_where_it_was(tmp_path):
    a = imported(tmp_path)
    b = imported(tmp_path, random_splats(150, 1, seed=22), name="other")
    b.location, b.rotation_euler = (-2, 0, 1), (0, 0, 1.2)
    bpy.context.view_layer.update()
    world = [splats_from_object(o, apply_transform=True) for o in (a, b)]
    a.select_set(True)
    b.select_set(True)
    bpy.context.view_layer.objects.active = a
    name_b = b.name
    assert run("gs_splats_merge") == {"FINISHED"}
    assert name_b not in bpy.data.objects
    merged = splats_from_object(a, apply_transform=True)
    assert len(merged) == N + 150 and merged.sh_degree == 3
    np.testing.assert_allclose(merged.means, np.concatenate([w.means for w in world]), atol=1e-5)
    np.testing.assert_allclose(merged.sh_rest[N:, :3], world[1].sh_rest, atol=1e-5)
    assert not merged.sh_rest[N:, 3:].any()
    with pytest.raises(RuntimeError, match="select two or more splat objects"):
        run("gs_splats_merge")


def _select_in_edit_mode(obj, mask) -> None:
    bpy.ops.object.mode_set(mode="EDIT")
    if obj.type == "POINTCLOUD":
        sel = obj.data.attributes.get(".selection") or obj.data.attributes.new(".selection", "BOOLEAN", "POINT")
        sel.data.foreach_set("value", mask)
    else:
        import bmesh

        bm = bmesh.from_edit_mesh(obj.data)
        for v, m in zip(bm.verts, mask):
            v.select_set(bool(m))
        bmesh.update_edit_mesh(obj.data)


def test_delete_selected_from_edit_mode(tmp_path):
    obj = imported(tmp_path)
    data = local(obj)
    doomed = data.means[:, 2] > 0.4
    _select_in_edit_mode(obj, doomed)
    assert run("gs_splats_delete_selected") == {"FINISHED"}
    assert obj.mode == "EDIT"
    bpy.ops.object.mode_set(mode="OBJECT")
    assert_same_splats(local(obj), data.subset(~doomed), atol=0)
    _select_in_edit_mode(obj, np.zeros(len(local(obj)), bool))
    with pytest.raises(RuntimeError, match="are selected"):
        run("gs_splats_delete_selected")


def test_refusals_name_the_problem_and_change_nothing(tmp_path):
    obj = imported(tmp_path)
    data = local(obj)
    with pytest.raises(RuntimeError, match="would remove every splat"):
        run("gs_splats_crop", shape="SPHERE", centre=(100, 100, 100), radius=1.0)
    with pytest.raises(RuntimeError, match="no attribute 'sharpness'"):
        run("gs_splats_filter_value", attribute="sharpness")
    with pytest.raises(RuntimeError, match="choose the object"):
        run("gs_splats_crop", shape="OBJECT")
    assert_same_splats(local(obj), data, atol=0)
    bpy.ops.object.select_all(action="DESELECT")
    bpy.context.view_layer.objects.active = None
    assert not bpy.ops.object.gs_splats_crop.poll()


def test_console_api_edits_in_place(tmp_path):
    obj = imported(tmp_path)
    data = local(obj)
    p = world_points(obj, data)
    inside = ((p - (0, 0, 0.5)) ** 2).sum(1) < 2.0 ** 2
    assert api.crop_sphere(obj, (0, 0, 0.5), 2.0) == (N, int(inside.sum()))
    data = data.subset(inside)
    largest = np.exp(data.scales_log.astype(np.float64)).max(1)
    assert api.filter_value(obj, "scale_max", "lt", 0.05) == (len(data), int((largest < 0.05).sum()))
    assert_same_splats(local(obj), data.subset(largest < 0.05), atol=0)
    assert api.reduce_sh(obj, 0)[1] == int((largest < 0.05).sum()) and local(obj).sh_degree == 0


@pytest.mark.skipif(not native_splats.has_native_splats(),
                    reason="this Blender has no Gaussian-splat point clouds (PointCloud.type)")
def test_blenders_own_splat_object_is_edited_and_stays_a_splat_object(tmp_path):
    data = random_splats(N, 2, normals=False, seed=23)
    path = tmp_path / "own.ply"
    write_ply(path, data)
    assert bpy.ops.wm.ply_import(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert native_splats.is_native(obj)
    before = local(obj)
    assert run("gs_splats_filter_value", attribute="opacity", comparison="lte", value=0.5) == {"FINISHED"}
    after = local(bpy.data.objects[obj.name])
    assert native_splats.is_native(bpy.data.objects[obj.name])
    assert_same_splats(after, before.subset(sigmoid(data.opacity_logit) <= 0.5), atol=1e-6)
    undo_redo_check(obj.name, before, after)


_DRAW_CHILD = r"""
import json, os, sys, traceback
import bpy
import blender_gs_addon
from blender_gs_addon.blender import ops_edit
blender_gs_addon.register()
drawn = []

def draw(menu, context):
    # Blender crashes after a popup is built in background mode, so report and leave from in here
    try:
        ops_edit.VIEW3D_PT_gs_edit_splats.draw(menu, context)
        drawn.append("ok")
    except Exception:
        drawn.append(traceback.format_exc())
    with open(sys.argv[1], "w") as fh:
        json.dump(drawn, fh)
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)

win = bpy.context.window_manager.windows[0]
area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
region = next(r for r in area.regions if r.type == "UI")
with bpy.context.temp_override(window=win, area=area, region=region):  # the sidebar, where the panel lives
    bpy.context.window_manager.popup_menu(draw, title="edit")
"""


def test_the_edit_panel_draws_into_a_real_blender_layout(tmp_path):
    """The panel's draw function in a real UILayout (a popup's: the only one the background Blender makes);
    Blender reports no unknown operator."""
    root = Path(__file__).resolve().parents[1]
    result = tmp_path / "drawn.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
               BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run([sys.executable, "-c", _DRAW_CHILD, str(result)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=root)
    assert result.exists(), proc.stdout + proc.stderr
    assert json.loads(result.read_text()) == ["ok"]
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if "not found" in line or "unknown" in line or "Traceback" in line or "Error" in line]
    assert problems == []
