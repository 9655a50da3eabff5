"""Splat import/export speed against Blender's own PLY importer, Render Splats time, and the
other file formats against splat-transform (``formats``, see bench/splat_formats.py).

Every figure is measured here, in one run, on the same file:
  import_ratio = t(bpy.ops.wm.ply_import) / t(our import: read + point-cloud object)  (> 1: we are faster)
  export_ratio = t(bpy.ops.wm.ply_import) / t(our export: object -> SplatData -> .ply)
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np


def _random_file(path: str, n: int, seed: int = 0) -> None:
    from blender_gs_addon.splats import SplatData, write_ply

    rng = np.random.default_rng(seed)
    write_ply(path, SplatData(
        means=rng.normal(size=(n, 3)).astype(np.float32),
        scales_log=(rng.normal(size=(n, 3)) - 4).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),
        opacity_logit=rng.normal(size=n).astype(np.float32),
        sh_dc=rng.normal(size=(n, 3)).astype(np.float32),
        sh_rest=(0.1 * rng.normal(size=(n, 15, 3))).astype(np.float32),
        normals=np.zeros((n, 3), np.float32),  # as the 3DGS trainer writes them
    ))


def _fresh():
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _import_export(path: str, out_path: str, repeats: int) -> dict:
    import bpy

    from blender_gs_addon.blender.api import read_into_object, write_from_object

    t_blender, t_import, t_export = [], [], []
    for _ in range(repeats):  # alternate the importers so both see the same machine state
        _fresh()
        t, _ = _time(lambda: bpy.ops.wm.ply_import(filepath=path))
        t_blender.append(t)
        _fresh()
        t, (obj, _, _) = _time(lambda: read_into_object(path, "Splats"))
        t_import.append(t)
        t, _ = _time(lambda: write_from_object(obj, out_path))
        t_export.append(t)
    same = open(path, "rb").read() == open(out_path, "rb").read()
    tb, ti, te = min(t_blender), min(t_import), min(t_export)
    return {"blender_ply_import_s": round(tb, 3), "import_s": round(ti, 3), "export_s": round(te, 3),
            "import_ratio_vs_blender_ply_import": round(tb / ti, 3),
            "export_ratio_vs_blender_ply_import": round(tb / te, 3), "round_trip_bit_exact": same}


def _render_splats(path: str) -> dict:
    import bpy

    from blender_gs_addon.blender.api import read_into_object
    from blender_gs_addon.blender.render import render_object_to_image

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
    import torch

    return {"render_splats_s": round(t_total, 3), "rasterize_s": round(t_raster, 3),
            "rasterize_share_of_render_splats": round(t_raster / t_total, 3),
            "device": "cuda" if torch.cuda.is_available() else "cpu", "size": "640x480"}


def run(quick: bool) -> dict:
    import bpy  # noqa: F401  (Blender as a module)

    sizes = [100_000] if quick else [100_000, 1_000_000]
    out: dict = {"blender": bpy.app.version_string}
    with tempfile.TemporaryDirectory(prefix="bench_splats_") as tmp:
        for n in sizes:
            path = os.path.join(tmp, f"s{n}.ply")
            _random_file(path, n)
            key = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
            out[key] = _import_export(path, os.path.join(tmp, "out.ply"), repeats=2 if quick else 3)
            out[key]["file_mb"] = round(os.path.getsize(path) / 1e6, 1)
            os.remove(path)
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

    print(json.dumps(run("--quick" in sys.argv), indent=2))
