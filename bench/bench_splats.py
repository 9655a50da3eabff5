"""Splat import/export speed against Blender's own PLY importer, Render Splats time, and the
other file formats against splat-transform (``formats``, see bench/splat_formats.py).

Every figure is measured here, in one run, on the same file, through the operators a user
clicks (File > Import > Stanford PLY against File > Import > Gaussian Splats):
  import_ratio = t(bpy.ops.wm.ply_import) / t(bpy.ops.import_scene.gaussian_splats)  (> 1: we are faster)
  export_ratio = t(bpy.ops.wm.ply_import) / t(bpy.ops.export_scene.gaussian_splats)
Blender has no splat exporter to compare the export with, hence its import as the yardstick.

    python bench/bench_splats.py [--quick] [--import-only]   (in any project environment)
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np


def _random_file(path: str, n: int, seed: int = 0) -> None:
    from bench.splat_formats import random_splats
    from blender_gs_addon.splats import write_ply

    data = random_splats(n, seed)
    data.normals = np.zeros((n, 3), np.float32)  # as the 3DGS trainer writes them
    write_ply(path, data)


def _fresh():
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _import_export(path: str, out_path: str, repeats: int, export: bool = True) -> dict:
    import bpy

    from blender_gs_addon.blender.native_splats import has_native_splats

    t_blender, t_import, t_export = [], [], []
    for _ in range(repeats):  # alternate the importers so both see the same machine state
        _fresh()
        t, _ = _time(lambda: bpy.ops.wm.ply_import(filepath=path))
        t_blender.append(t)
        _fresh()
        t, rc = _time(lambda: bpy.ops.import_scene.gaussian_splats(filepath=path))
        assert rc == {"FINISHED"}, rc
        t_import.append(t)
        if export:
            t, rc = _time(lambda: bpy.ops.export_scene.gaussian_splats(filepath=out_path))
            assert rc == {"FINISHED"}, rc
            t_export.append(t)
    tb, ti = min(t_blender), min(t_import)
    out = {"blender_ply_import_s": round(tb, 3), "import_s": round(ti, 3),
           "import_ratio_vs_blender_ply_import": round(tb / ti, 3), "native_splats": has_native_splats(),
           "repeats": repeats}
    if export:
        te = min(t_export)
        out.update({"export_s": round(te, 3), "export_ratio_vs_blender_ply_import": round(tb / te, 3),
                    "round_trip_bit_exact": open(path, "rb").read() == open(out_path, "rb").read()})
    return out


ATTRIBUTE_BYTES = {"FLOAT": 4, "INT": 4, "FLOAT_VECTOR": 12, "FLOAT_COLOR": 16, "FLOAT4": 16, "QUATERNION": 16,
                   "FLOAT2": 8, "BOOLEAN": 1, "INT8": 1, "BYTE_COLOR": 4}


def _bytes_per_point(obj) -> int:
    """Bytes of point attributes a splat holds on this object (what its memory grows by per splat)."""
    return sum(ATTRIBUTE_BYTES.get(a.data_type, 0) for a in obj.data.attributes if a.domain == "POINT")


def _memory(path: str) -> dict:
    """Point-attribute bytes a splat costs: our object, Blender's own import of the same file, and
    what we keep besides Blender's attributes for lossless export (native splats only)."""
    import bpy

    _fresh()
    bpy.ops.wm.ply_import(filepath=path)
    theirs = bpy.context.active_object
    bpy.ops.import_scene.gaussian_splats(filepath=path)
    ours = bpy.context.active_object
    out = {"ours_bytes_per_splat": _bytes_per_point(ours), "blender_ply_import_bytes_per_splat":
           _bytes_per_point(theirs), "ours_kind": getattr(ours.data, "type", ours.type)}
    if getattr(ours.data, "type", None) == "GAUSSIAN_SPLAT":
        theirs_names = {a.name for a in theirs.data.attributes}
        out["kept_for_lossless_export_bytes_per_splat"] = sum(
            ATTRIBUTE_BYTES[a.data_type] for a in ours.data.attributes if a.name not in theirs_names)
    return out


def _render_splats(path: str) -> dict:
    import bpy

    from blender_gs_addon.blender.api import read_into_object
    from blender_gs_addon.blender.render_splats import render_object_to_image

    _fresh()
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 640, 480, 100
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    scene.collection.objects.link(cam)
    cam.location = (0.0, -6.0, 0.0)
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.camera = cam
    obj, _, _ = read_into_object(path, "Splats")
    bpy.context.view_layer.update()
    render_object_to_image(obj, cam, scene)  # warm-up: loads the compiled kernels
    t_total, (_, t_raster) = _time(lambda: render_object_to_image(obj, cam, scene))
    from blender_gs_addon.blender import torch_env

    in_process = torch_env.torch_in_process()[0]
    return {"render_splats_s": round(t_total, 3), "rasterize_s": round(t_raster, 3),
            "rasterize_share_of_render_splats": round(t_raster / t_total, 3),
            "where": "Blender's Python" if in_process else f"training interpreter {torch_env.training_interpreter()}",
            "size": "640x480"}


def _import_section(tmp: str, quick: bool, out: dict, export: bool = True, repeats: int | None = None) -> None:
    sizes = [100_000] if quick else [100_000, 1_000_000]
    for n in sizes:
        path = os.path.join(tmp, f"s{n}.ply")
        _random_file(path, n)
        key = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        out[key] = _import_export(path, os.path.join(tmp, "out.ply"), repeats or (2 if quick else 5), export)
        out[key]["file_mb"] = round(os.path.getsize(path) / 1e6, 1)
        out[key]["memory"] = _memory(path)
        os.remove(path)


def _registered() -> None:
    """The add-on's operators, registered from this checkout as a user's Blender has them."""
    import bpy

    import blender_gs_addon

    if not hasattr(bpy.types, "IMPORT_SCENE_OT_gaussian_splats"):
        blender_gs_addon.register()


def run(quick: bool) -> dict:
    import bpy  # noqa: F401  (Blender as a module)

    out: dict = {"blender": bpy.app.version_string}
    _registered()
    with tempfile.TemporaryDirectory(prefix="bench_splats_") as tmp:
        _import_section(tmp, quick, out)
        path = os.path.join(tmp, "render.ply")
        _random_file(path, 100_000 if quick else 1_000_000, seed=1)
        try:
            out["render_splats"] = _render_splats(path)
        except Exception as exc:  # torch/cuda_ext missing: say so instead of failing the whole section
            out["render_splats"] = {"error": f"{type(exc).__name__}: {exc}"}
        out["render_splats"]["splats"] = 100_000 if quick else 1_000_000
    _fresh()
    from bench import splat_formats

    with tempfile.TemporaryDirectory(prefix="bench_formats_") as tmp:
        out["formats"] = splat_formats.run(100_000 if quick else 1_000_000, tmp)
    return out


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from anywhere
    import json
    import sys

    if "--import-only" in sys.argv:  # the import/export rows alone, e.g. once per Blender version
        import bpy

        figures = {"blender": bpy.app.version_string}
        _registered()
        with tempfile.TemporaryDirectory(prefix="bench_splats_") as tmp:
            _import_section(tmp, "--quick" in sys.argv, figures)
        print(json.dumps(figures, indent=2))
    else:
        print(json.dumps(run("--quick" in sys.argv), indent=2))
