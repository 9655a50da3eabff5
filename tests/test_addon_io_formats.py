"""Every format of the splat table reached from Blender: File menus, drag and drop, the CLI and
the console API; a .glb end to end through the operators."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from helpers import assert_same_splats, splats

from blender_gs_addon.blender import api, ops_io
from blender_gs_addon.splats import io as splat_io
from blender_gs_addon.splats import read_ply, write_ply
from blender_gs_addon.splats.gltf import read_gltf, write_gltf

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]


def test_every_format_of_the_table_is_offered():
    for op in (bpy.ops.import_scene.gaussian_splats, bpy.ops.export_scene.gaussian_splats):
        glob = op.get_rna_type().properties["filter_glob"].default
        assert set(glob.split(";")) == {f"*{s}" for s in splat_io.FORMATS}
    assert all(s in ops_io.MENU_TEXT for s in splat_io.FORMATS)
    handler = getattr(bpy.types, "IMPORT_SCENE_FH_gaussian_splats", None)
    if hasattr(bpy.types, "FileHandler"):  # drag and drop where this Blender has file handlers
        assert handler is not None
        dropped = set(handler.bl_file_extensions.split(";"))
        assert all(("x" + s).rsplit(".", 1)[1] in {d.lstrip(".") for d in dropped} for s in splat_io.FORMATS)
    else:
        assert handler is None


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_gltf_import_and_export_through_the_operators(tmp_path, suffix):
    data = splats(n=300, degree=3, seed=4)
    src, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    write_gltf(src, data)
    assert bpy.ops.import_scene.gaussian_splats(filepath=str(src)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.name == "in" and len(obj.data.attributes["position"].data) == len(data)
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(out)) == {"FINISHED"}
    assert_same_splats(read_gltf(out), data)
    # the same object as 3DGS .ply: the splats the .glb held, in Blender's axes
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(tmp_path / "as.ply")) == {"FINISHED"}
    assert_same_splats(read_ply(tmp_path / "as.ply"), data)


def test_glb_export_bakes_the_object_transform(tmp_path):
    data = splats(n=50, degree=1, seed=6)
    write_ply(tmp_path / "in.ply", data)
    bpy.ops.import_scene.gaussian_splats(filepath=str(tmp_path / "in.ply"))
    obj = bpy.context.active_object
    obj.location = (1.0, 2.0, -3.0)
    bpy.context.view_layer.update()
    assert bpy.ops.export_scene.gaussian_splats(filepath=str(tmp_path / "moved.glb")) == {"FINISHED"}
    np.testing.assert_allclose(read_gltf(tmp_path / "moved.glb").means, data.means + np.float32([1, 2, -3]),
                               atol=1e-6)


def test_bad_glb_reports_an_error_and_creates_nothing(tmp_path):
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00\xff\x00\x00\x00")
    before = len(bpy.data.objects)
    with pytest.raises(RuntimeError, match="bad.glb: truncated"):
        bpy.ops.import_scene.gaussian_splats(filepath=str(bad))
    assert len(bpy.data.objects) == before


def test_cli_and_api_with_glb(tmp_path):
    from blender_gs_addon.cli import main

    data = splats(n=80, degree=2, seed=8)
    api.write(tmp_path / "in.glb", data)
    assert set(api.FORMATS) >= {".ply", ".splat", ".glb", ".gltf"}
    assert_same_splats(api.read(tmp_path / "in.glb"), data)
    blend = tmp_path / "scene.blend"
    assert main(["import", str(tmp_path / "in.glb"), "--out", str(blend), "--name", "Splats"]) == 0
    assert main(["export", str(blend), "--object", "Splats", "--out", str(tmp_path / "out.gltf")]) == 0
    assert_same_splats(read_gltf(tmp_path / "out.gltf"), data)
    assert main(["export", str(blend), "--object", "Splats", "--out", str(tmp_path / "out.obj")]) == 2
