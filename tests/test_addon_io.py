"""The add-on in Blender: import/export operators, point-cloud attributes, viewing, CLI, clean unregister."""
from __future__ import annotations

import json

import bpy
import numpy as np
import pytest
from helpers import SHUFFLED, independent_ply, malformed_corpus, random_splats, shuffled_rows

import blender_gs_addon
from blender_gs_addon.blender import api, native_splats
from blender_gs_addon.blender.splat_objects import can_make_pointclouds
from blender_gs_addon.splats import read_ply, write_ply
from blender_gs_addon.splats.transform import bake_transform
from procgen.core.rotations import quat_to_matrix

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]


def datablock_counts() -> dict:
    return {name: len(getattr(bpy.data, name)) for name in ("objects", "meshes", "pointclouds", "materials",
                                                            "node_groups")}


def attribute(obj, name: str) -> np.ndarray:
    attr = obj.data.attributes[name]
    n = len(attr.data)
    width = {"FLOAT": 1, "FLOAT_VECTOR": 3, "FLOAT_COLOR": 4, "INT": 1}[attr.data_type]
    buf = np.empty(n * width, np.int32 if attr.data_type == "INT" else np.float32)
    key = {"FLOAT": "value", "FLOAT_VECTOR": "vector", "FLOAT_COLOR": "color", "INT": "value"}[attr.data_type]
    attr.data.foreach_get(key, buf)
    return buf.reshape(n, width) if width > 1 else buf


def test_import_export_round_trip_is_bit_exact(tmp_path):
    src, out = tmp_path / "in.ply", tmp_path / "out.ply"
    write_ply(src, random_splats(500, 3, seed=5))
    assert bpy.ops.import_scene.gaussian_splats(filepath=str(src)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == ("POINTCLOUD" if can_make_pointclouds() else "MESH")
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(out)) == {"FINISHED"}
    assert out.read_bytes() == src.read_bytes()


def test_independent_file_attributes_hold_every_property(tmp_path):
    rows = shuffled_rows(30)
    src = tmp_path / "other.ply"
    src.write_bytes(independent_ply(SHUFFLED, rows))
    assert bpy.ops.import_scene.gaussian_splats(filepath=str(src)) == {"FINISHED"}
    obj = bpy.context.active_object
    if native_splats.is_native(obj):  # Blender's splat attributes; the file's values are read back through the API
        columns = api.splats_from_object(obj, apply_transform=False).columns()
    for i, (name, _) in enumerate(SHUFFLED):
        want = np.array([r[i] for r in rows], np.float32)
        if name in "xyz":
            got = attribute(obj, "position")[:, "xyz".index(name)]
        else:
            got = columns[name] if native_splats.is_native(obj) else attribute(obj, name)
        np.testing.assert_array_equal(got, want, err_msg=name)
    dc = np.array([[r[[n for n, _ in SHUFFLED].index(f"f_dc_{c}")] for c in range(3)] for r in rows])
    opacity = np.array([r[0] for r in rows])
    if native_splats.is_native(obj):  # what Blender draws: the SH colour and the opacity after the sigmoid
        base = np.empty(4 * len(rows), np.float32)
        obj.data.attributes[native_splats.BASE].data.foreach_get("vector", base)
        np.testing.assert_array_equal(base.reshape(-1, 4)[:, :3], dc.astype(np.float32))
        np.testing.assert_allclose(base.reshape(-1, 4)[:, 3], 1 / (1 + np.exp(-opacity)), atol=1e-6)
    else:  # display attributes decoded from the splat fields
        srgb = np.clip(0.5 + 0.28209479177387814 * dc, 0, 1)
        linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
        np.testing.assert_allclose(attribute(obj, "Col")[:, :3], linear, atol=1e-6)
        np.testing.assert_allclose(attribute(obj, "alpha"), 1 / (1 + np.exp(-opacity)), atol=1e-6)
    out = tmp_path / "again.ply"
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(out)) == {"FINISHED"}
    assert out.read_bytes() == src.read_bytes()  # same order, extra uchar property kept


def test_splat_format_through_operators(tmp_path):
    data = random_splats(100, 0, seed=2)
    data.sh_dc[:] = np.clip(data.sh_dc, -1.7, 1.7)
    src = tmp_path / "a.splat"
    api.write(src, data)
    assert bpy.ops.import_scene.gaussian_splats(filepath=str(src)) == {"FINISHED"}
    out = tmp_path / "b.splat"
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(out)) == {"FINISHED"}
    assert out.read_bytes() == src.read_bytes()  # decoded and re-encoded to the same bytes


@pytest.mark.parametrize("name", ["truncated.ply", "nan.ply", "garbage.ply", "count_too_large.ply", "odd_size.splat"])
def test_bad_files_report_an_error_and_create_nothing(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(malformed_corpus()[name])
    before = datablock_counts()
    with pytest.raises(RuntimeError) as info:  # operators report errors as RuntimeError in scripts
        bpy.ops.import_scene.gaussian_splats(filepath=str(path))
    assert str(path) in str(info.value)
    assert datablock_counts() == before


def test_points_deleted_in_edit_mode_are_not_exported(tmp_path):
    data = random_splats(200, 1, seed=3)
    src, out = tmp_path / "in.ply", tmp_path / "out.ply"
    write_ply(src, data)
    bpy.ops.import_scene.gaussian_splats(filepath=str(src))
    obj = bpy.context.active_object
    doomed = data.means[:, 0] > 0.3
    bpy.ops.object.mode_set(mode="EDIT")
    if obj.type == "POINTCLOUD":
        sel = obj.data.attributes.get(".selection") or obj.data.attributes.new(".selection", "BOOLEAN", "POINT")
        sel.data.foreach_set("value", doomed)
        assert bpy.ops.pointcloud.delete() == {"FINISHED"}
    else:
        import bmesh

        bm = bmesh.from_edit_mesh(obj.data)
        bmesh.ops.delete(bm, geom=[v for v, d in zip(bm.verts, doomed) if d], context="VERTS")
        bmesh.update_edit_mesh(obj.data)
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(out)) == {"FINISHED"}
    back = read_ply(out)
    expected = data.subset(~doomed)
    assert len(back) == int((~doomed).sum()) < len(data)
    for field in ("means", "scales_log", "quats", "opacity_logit", "sh_dc", "sh_rest"):
        np.testing.assert_array_equal(getattr(back, field), getattr(expected, field))


def test_export_bakes_the_object_transform(tmp_path):
    data = random_splats(50, 3, seed=8)
    obj = api.object_from_splats(data, "S")
    obj.location = (1.0, 2.0, -0.5)
    obj.rotation_euler = (0.3, -0.7, 1.1)
    obj.scale = (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    out = tmp_path / "t.ply"
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(out)) == {"FINISHED"}
    back = read_ply(out)
    want = bake_transform(data, np.array(obj.matrix_world))
    np.testing.assert_allclose(back.means, data.means @ (np.array(obj.matrix_world)[:3, :3]).T + obj.location,
                               atol=1e-5)
    np.testing.assert_allclose(back.sh_rest, want.sh_rest, atol=1e-6)
    np.testing.assert_allclose(back.scales_log, data.scales_log + np.log(2.0), atol=1e-6)


def test_shear_is_refused_with_a_message(tmp_path):
    obj = api.object_from_splats(random_splats(10, 0), "S")
    parent = bpy.data.objects.new("P", None)
    bpy.context.scene.collection.objects.link(parent)
    obj.parent = parent
    obj.rotation_euler = (0.0, 0.0, 0.7)
    parent.scale = (1.0, 3.0, 1.0)  # non-uniform parent scale of a rotated child: shear
    bpy.context.view_layer.update()
    bpy.context.view_layer.objects.active = obj
    with pytest.raises(RuntimeError, match="shear"):
        bpy.ops.export_scene.gaussian_splats(filepath=str(tmp_path / "s.ply"))
    assert not (tmp_path / "s.ply").exists()


def test_ellipsoids_are_instanced_for_opaque_splats_only():
    data = random_splats(300, 1, seed=4)
    obj = api.object_from_splats(data, "S")
    bpy.context.view_layer.objects.active = obj
    if native_splats.is_native(obj):  # Blender draws these as splats itself: nothing to instance
        assert not bpy.ops.object.gs_ellipsoids.poll()
        return
    for threshold in (0.3, 0.7):
        assert bpy.ops.object.gs_ellipsoids(enable=True, threshold=threshold) == {"FINISHED"}
        depsgraph = bpy.context.evaluated_depsgraph_get()
        matrices = [np.array(inst.matrix_world) for inst in depsgraph.object_instances
                    if inst.is_instance and inst.parent and inst.parent.original == obj]
        assert len(matrices) == int((data.alphas() >= threshold).sum())
    # each instance sits at its splat, scaled by 2 standard deviations along the splat's own axes
    for mw in matrices[:20]:
        i = int(np.argmin(np.linalg.norm(data.means - mw[:3, 3], axis=1)))
        np.testing.assert_allclose(mw[:3, 3], data.means[i], atol=1e-5)
        R = quat_to_matrix(data.quats[i:i + 1])[0]
        np.testing.assert_allclose(mw[:3, :3], R * (2 * data.scales()[i]), atol=1e-4)
    assert bpy.ops.object.gs_ellipsoids(enable=False) == {"FINISHED"}
    assert not obj.modifiers.get("GS Ellipsoids")


def test_cli_import_then_export(tmp_path):
    from blender_gs_addon.cli import main

    src, blend, out = tmp_path / "in.ply", tmp_path / "scene.blend", tmp_path / "out.ply"
    write_ply(src, random_splats(64, 2, seed=1))
    assert main(["import", str(src), "--out", str(blend), "--name", "Splats"]) == 0
    assert blend.exists()
    assert main(["export", str(blend), "--object", "Splats", "--out", str(out)]) == 0
    assert out.read_bytes() == src.read_bytes()
    assert main(["export", str(blend), "--object", "Missing", "--out", str(tmp_path / "new.ply")]) == 2
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\n")
    assert main(["import", str(bad), "--out", str(tmp_path / "x.blend")]) == 1
    assert not (tmp_path / "x.blend").exists()


def test_layout_is_remembered_on_the_object(tmp_path):
    src = tmp_path / "o.ply"
    src.write_bytes(independent_ply(SHUFFLED, shuffled_rows(5)))
    bpy.ops.import_scene.gaussian_splats(filepath=str(src))
    info = json.loads(bpy.context.active_object.data["gs_layout"])
    assert [n for n, _ in info["layout"]] == [n for n, _ in SHUFFLED]


def types_handlers_menus():
    handlers = {n: len(getattr(bpy.app.handlers, n)) for n in dir(bpy.app.handlers)
                if isinstance(getattr(bpy.app.handlers, n), list)}
    menus = {n: len(getattr(getattr(bpy.types, n).draw, "_draw_funcs", []))
             for n in ("TOPBAR_MT_file_import", "TOPBAR_MT_file_export")}
    return set(dir(bpy.types)), handlers, menus, sorted(p.identifier for p in bpy.types.Scene.bl_rna.properties)


def test_unregister_leaves_nothing_behind():
    blender_gs_addon.unregister()
    before = types_handlers_menus()
    blender_gs_addon.register()
    added = before[0] ^ set(dir(bpy.types))
    assert {"IMPORT_SCENE_OT_gaussian_splats", "EXPORT_SCENE_OT_gaussian_splats", "GS_OT_render_splats",
            "VIEW3D_PT_gs_splats", "VIEW3D_PT_gs_generate", "VIEW3D_PT_gs_train"} <= added
    assert hasattr(bpy.types.Scene, "gaussian_scenes")
    blender_gs_addon.unregister()
    assert types_handlers_menus() == before
    blender_gs_addon.register()  # for the fixture's teardown


def test_direct_ply_export_equals_the_splatdata_path(tmp_path):
    from blender_gs_addon.blender.splat_objects import write_from_object

    src = tmp_path / "other.ply"
    src.write_bytes(independent_ply(SHUFFLED, shuffled_rows(40)))
    shuffled_float = [(n, "float") if t != "float" else (n, t) for n, t in SHUFFLED]
    src2 = tmp_path / "float.ply"
    src2.write_bytes(independent_ply(shuffled_float, shuffled_rows(40)))
    for path in (src, src2):
        obj, _, _ = api.read_into_object(str(path))
        fast, slow = tmp_path / "fast.ply", tmp_path / "slow.ply"
        write_from_object(obj, str(fast))
        write_ply(slow, api.splats_from_object(obj))
        assert fast.read_bytes() == slow.read_bytes() == path.read_bytes()


def test_attributes_added_in_blender_are_exported_as_extras(tmp_path):
    src = tmp_path / "in.ply"
    write_ply(src, random_splats(30, 0))
    obj, _, _ = api.read_into_object(str(src))
    values = np.arange(30, dtype=np.float32)
    obj.data.attributes.new("confidence", "FLOAT", "POINT").data.foreach_set("value", values)
    out = tmp_path / "out.ply"
    api.write_from_object(obj, str(out))
    back = read_ply(out)
    np.testing.assert_array_equal(back.extra["confidence"], values)
    np.testing.assert_array_equal(back.means, read_ply(src).means)


def test_a_trained_sky_imports_as_its_own_hidden_object_and_exports_back(tmp_path):
    from blender_gs_addon.cli import main
    from blender_gs_addon.splats.sky_rows import split_sky, with_sky

    src, blend = tmp_path / "trained.ply", tmp_path / "scene.blend"
    scene, sky = random_splats(300, 3, normals=False, seed=2), random_splats(40, 0, normals=False, seed=3)
    write_ply(src, with_sky(scene, sky))
    assert main(["import", str(src), "--out", str(blend), "--name", "Splats"]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj, sky_obj = bpy.data.objects["Splats"], bpy.data.objects["Splats sky"]
    assert len(obj.data.attributes["position"].data) == 300 and len(sky_obj.data.attributes["position"].data) == 40
    assert sky_obj.hide_render and sky_obj.hide_get() and not obj.hide_get()
    assert "sky" not in obj.data.attributes  # the marks become the split, not an attribute
    full, bare = tmp_path / "full.ply", tmp_path / "bare.ply"
    assert main(["export", str(blend), "--object", "Splats", "--out", str(full)]) == 0
    assert main(["export", str(blend), "--object", "Splats", "--out", str(bare), "--no-sky"]) == 0
    back_scene, back_sky = split_sky(read_ply(full))
    np.testing.assert_array_equal(back_scene.means, scene.means)
    np.testing.assert_array_equal(back_sky.sh_dc, sky.sh_dc)
    assert len(back_sky) == 40 and int(read_ply(full).extra["sky"].sum()) == 40
    bare_data = read_ply(bare)
    assert len(bare_data) == 300 and "sky" not in bare_data.extra
    np.testing.assert_array_equal(bare_data.opacity_logit, scene.opacity_logit)
