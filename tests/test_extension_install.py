"""The built extension zip installs with Blender's own installer and registers cleanly.

Runs in a separate Blender process (the bpy module) whose user folder is a fresh
temporary directory and whose sys.path does not contain this repository, so every
import must come from the installed extension.
"""
from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]

INSTALL_SCRIPT = r'''
import json, os, sys
zip_path, user_dir, dummy_zip = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ["BLENDER_USER_RESOURCES"] = user_dir
import bpy, addon_utils

def types():
    return set(dir(bpy.types))

def handler_counts():
    return {name: len(getattr(bpy.app.handlers, name)) for name in dir(bpy.app.handlers)
            if isinstance(getattr(bpy.app.handlers, name), list)}

def menu_funcs():
    out = {}
    for name in ("TOPBAR_MT_file_import", "TOPBAR_MT_file_export"):
        menu = getattr(bpy.types, name)
        out[name] = len(getattr(menu.draw, "_draw_funcs", []))
    return out

def scene_props():
    return sorted(p.identifier for p in bpy.types.Scene.bl_rna.properties)

result = {"blender": bpy.app.version_string}
# Another extension whose wheel provides a top-level module named procgen, installed first.
bpy.ops.extensions.package_install_files(filepath=dummy_zip, repo="user_default", enable_on_install=True)
before = (types(), handler_counts(), menu_funcs(), scene_props())
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
module_name = "bl_ext.user_default.gaussian_scenes"
addon = sys.modules.get(module_name)
result["enabled"] = module_name in bpy.context.preferences.addons
added = sorted(types() - before[0])
result["added_types"] = added
result["cli_registered"] = bool(addon is not None and addon._cli_handle is not None)
import procgen
result["top_level_procgen_is_dummy"] = getattr(procgen, "DUMMY_PROCGEN", False)
result["dummy_enabled"] = "bl_ext.user_default.dummy_procgen_user" in bpy.context.preferences.addons
result["dummy_sees_its_procgen"] = sys.modules["bl_ext.user_default.dummy_procgen_user"].check()
import importlib
result["procgen_file"] = importlib.import_module(module_name + ".procgen.render.dataset").__file__
# found, not imported: cuda_ext imports torch, which a Blender's own Python may not have
result["cuda_ext_file"] = importlib.util.find_spec(module_name + ".cuda_ext").origin
result["addon_file"] = addon.__file__ if addon else None
# The CLI command runs through the installed add-on: --help lists every subcommand.
import io, contextlib
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    result["cli_help_rc"] = addon._run_cli(["--help"])
result["cli_help"] = buf.getvalue()
result["import_op"] = hasattr(bpy.types, "IMPORT_SCENE_OT_gaussian_splats")
result["export_op"] = hasattr(bpy.types, "EXPORT_SCENE_OT_gaussian_splats")
result["menus_enabled"] = menu_funcs()

# Import and export through the installed operators: a file written by independent code
# (raw numpy, normals absent, SH degree 1) comes back byte for byte.
import numpy as np
names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(9)] + \
        ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
rows = np.random.default_rng(0).normal(size=(50, len(names))).astype("<f4")
src = os.path.join(user_dir, "independent.ply")
with open(src, "wb") as fh:
    fh.write(("ply\nformat binary_little_endian 1.0\nelement vertex 50\n"
              + "".join(f"property float {n}\n" for n in names) + "end_header\n").encode())
    fh.write(rows.tobytes())
result["import_rc"] = sorted(bpy.ops.import_scene.gaussian_splats(filepath=src))
dst = os.path.join(user_dir, "exported.ply")
result["export_rc"] = sorted(bpy.ops.export_scene.gaussian_splats(filepath=dst))
result["round_trip_bytes_equal"] = open(src, "rb").read() == open(dst, "rb").read()
result["native_splats"] = getattr(bpy.context.active_object.data, "type", None) == "GAUSSIAN_SPLAT"

# Render Splats through the installed operator (in the training interpreter where this Python has no torch)
cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
bpy.context.scene.collection.objects.link(cam)
cam.location, cam.rotation_euler = (0.0, -6.0, 0.0), (1.5707963, 0.0, 0.0)
bpy.context.scene.camera = cam
bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y = 48, 32
result["render_rc"] = sorted(bpy.ops.gs.render_splats())
if "Splats Render" in bpy.data.images:
    px = np.empty(48 * 32 * 4, np.float32)
    bpy.data.images["Splats Render"].pixels.foreach_get(px)
    result["render_alpha_mean"] = float(px.reshape(-1, 4)[:, 3].mean())

addon_utils.disable(module_name, default_set=True)
after = (types(), handler_counts(), menu_funcs(), scene_props())
result["left_types"] = sorted(after[0] - before[0])
result["handlers_equal"] = after[1] == before[1]
result["menus_equal"] = after[2] == before[2]
result["scene_props_left"] = sorted(set(after[3]) - set(before[3]))

addon_utils.enable(module_name, default_set=True)
result["reenabled_types"] = sorted(types() - before[0]) == added
result["reenabled_cli"] = sys.modules[module_name]._cli_handle is not None
print("RESULT " + json.dumps(result))
'''


DUMMY_MANIFEST = """schema_version = "1.0.0"
id = "dummy_procgen_user"
version = "1.0.0"
name = "Dummy procgen user"
tagline = "Uses a wheel that provides a top-level procgen module"
maintainer = "Tests"
type = "add-on"
blender_version_min = "4.2.0"
license = ["SPDX:GPL-3.0-or-later"]
wheels = ["./wheels/procgen-1.0.0-py3-none-any.whl"]
"""

DUMMY_INIT = """def check():
    import procgen
    return procgen.DUMMY_PROCGEN

def register():
    assert check()

def unregister():
    pass
"""


def write_dummy_extension(folder: Path) -> Path:
    """An extension whose wheel installs a module named ``procgen`` into the shared site-packages."""
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("procgen/__init__.py", "DUMMY_PROCGEN = True\n")
        whl.writestr("procgen-1.0.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: procgen\nVersion: 1.0.0\n")
        whl.writestr("procgen-1.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr("procgen-1.0.0.dist-info/RECORD", "")
    path = folder / "dummy_procgen_user.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("blender_manifest.toml", DUMMY_MANIFEST)
        zf.writestr("__init__.py", DUMMY_INIT)
        zf.writestr("wheels/procgen-1.0.0-py3-none-any.whl", wheel.getvalue())
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("gs_build", ROOT / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    zip_path = build.package()
    work = tmp_path_factory.mktemp("install")
    script = work / "install_check.py"
    script.write_text(INSTALL_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dummy = write_dummy_extension(work)
    proc = subprocess.run([sys.executable, str(script), str(zip_path), str(work / "user"), str(dummy)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):]), work


def test_installs_and_enables_from_the_zip(installed):
    res, work = installed
    assert res["enabled"]
    # Every import comes from the installed extension, not from this checkout.
    for key in ("procgen_file", "cuda_ext_file", "addon_file"):
        assert res[key] and res[key].startswith(str(work / "user")), (key, res[key])


def test_no_module_collision_with_another_extensions_procgen(installed):
    res, _ = installed
    # The other extension keeps its own top-level procgen; ours lives inside the add-on package.
    assert res["dummy_enabled"] and res["dummy_sees_its_procgen"] and res["top_level_procgen_is_dummy"]
    assert "/gaussian_scenes/procgen/" in res["procgen_file"].replace("\\", "/")


def test_registers_operators_panels_and_cli(installed):
    res, _ = installed
    assert res["import_op"] and res["export_op"]
    panels = [t for t in res["added_types"] if "_PT_" in t]
    assert len(panels) >= 4, panels  # Generate, Render Dataset, Train, Splats
    assert any(t.startswith("GS_OT_") or "_OT_" in t for t in res["added_types"])
    assert res["cli_registered"] and res["cli_help_rc"] == 0
    for sub in ("generate", "render", "train", "import", "export", "demo"):
        assert sub in res["cli_help"]


def test_installed_operators_round_trip_a_splat_file(installed):
    res, _ = installed
    assert res["import_rc"] == ["FINISHED"] and res["export_rc"] == ["FINISHED"]
    assert res["round_trip_bytes_equal"]
    from blender_gs_addon.blender.native_splats import has_native_splats

    assert res["native_splats"] == has_native_splats()  # Blender's own splat objects where it has them


def test_installed_render_splats_draws_the_splats(installed):
    res, _ = installed
    assert res["render_rc"] == ["FINISHED"]
    assert res["render_alpha_mean"] > 0.01


def test_disable_leaves_nothing_behind_and_reenables(installed):
    res, _ = installed
    assert res["left_types"] == []
    assert res["handlers_equal"] and res["menus_equal"]
    assert res["scene_props_left"] == []
    assert res["reenabled_types"] and res["reenabled_cli"]
