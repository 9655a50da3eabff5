"""Figures of the renderer on the built-in test scene: time per stage and ground-truth accuracy.

``run(quick)`` returns a JSON-able dict; the procgen benchmark section can merge it. Accuracy
is measured against Blender's own ray casts (depth) and against depth reprojected with the
camera poses (flow), on the static part of the scene.
"""
from __future__ import annotations

import resource
import tempfile
import time

import numpy as np


def _depth_errors(out, tr, scene) -> np.ndarray:
    import bpy
    from mathutils import Vector

    from procgen.render.camera_poses import c2w_opencv, unproject_depth

    errs = []
    K = np.array([[tr["fl_x"], 0, tr["cx"]], [0, tr["fl_y"], tr["cy"]], [0, 0, 1.0]])
    for e in tr["frames"][:2]:
        scene.frame_set(e["frame"])
        dg = bpy.context.evaluated_depsgraph_get()
        depth = np.load(f"{out}/{e['depth_file_path']}")
        c2w = np.array(e["transform_matrix"])
        pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), K, c2w)
        rot = c2w_opencv(c2w)[:3, :3]
        for r in range(0, depth.shape[0], max(1, depth.shape[0] // 16)):
            for c in range(0, depth.shape[1], max(1, depth.shape[1] // 16)):
                d = rot @ np.array([(c + 0.5 - K[0, 2]) / K[0, 0], (r + 0.5 - K[1, 2]) / K[1, 1], 1.0])
                hit, loc, *_ = scene.ray_cast(dg, Vector(c2w[:3, 3]), Vector(d / np.linalg.norm(d)))
                if hit and np.isfinite(depth[r, c]):
                    errs.append(np.linalg.norm(pts[r, c] - np.array(loc)))
    return np.array(errs)


def _static_flow_epe(out, tr, cube_id) -> np.ndarray:
    from procgen.render.camera_poses import project, unproject_depth

    K = np.array([[tr["fl_x"], 0, tr["cx"]], [0, tr["fl_y"], tr["cy"]], [0, 0, 1.0]])
    errs = []
    for ea, eb in zip(tr["frames"][:-1], tr["frames"][1:]):
        da, db = np.load(f"{out}/{ea['depth_file_path']}"), np.load(f"{out}/{eb['depth_file_path']}")
        flow = np.load(f"{out}/{ea['flow_fwd_file_path']}")
        from procgen.render.png import read_png

        inst = read_png(f"{out}/{ea['instance_file_path']}")
        h, w = da.shape
        ok = np.isfinite(da) & (inst != cube_id)
        pts = unproject_depth(np.where(ok, da, 1.0), K, np.array(ea["transform_matrix"])).reshape(-1, 3)
        uv, z = project(pts, K, np.array(eb["transform_matrix"]))
        uv, z = uv.reshape(h, w, 2), z.reshape(h, w)
        cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        iu, iv = np.floor(uv[..., 0]).astype(int), np.floor(uv[..., 1]).astype(int)
        ok &= (iu >= 0) & (iu < w) & (iv >= 0) & (iv < h)
        ok &= np.abs(db[iv.clip(0, h - 1), iu.clip(0, w - 1)] - z) < 0.02 * z
        exp = uv - np.stack([cols, rows], -1)
        errs.append(np.linalg.norm(flow - exp, axis=-1)[ok])
    return np.concatenate(errs)


def run(quick: bool) -> dict:
    import json

    import bpy

    from procgen.render.dataset import render_dataset
    from procgen.render.reference_scenes import build_test_scene

    res, frames, samples = ((96, 64), 3, 16) if quick else ((256, 256), 8, 64)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_test_scene(resolution=res, frames=frames)
    scene = bpy.context.scene
    with tempfile.TemporaryDirectory(prefix="gs_render_bench_") as out:
        t0 = time.perf_counter()
        summary = render_dataset(out, samples=samples, device="auto")
        wall = time.perf_counter() - t0
        with open(f"{out}/transforms.json") as fh:
            tr = json.load(fh)
        with open(f"{out}/segmentation.json") as fh:
            seg = json.load(fh)
        cube_id = int(next(k for k, v in seg["objects"].items() if v["name"] == "Cube"))
        depth_err = _depth_errors(out, tr, scene)
        epe = _static_flow_epe(out, tr, cube_id)
    t = summary["timings_s"]
    return {
        "scene": "procgen.render.reference_scenes (plane, sphere, moving cube, 2 instanced cones)",
        "resolution": list(res), "frames": frames, "samples": samples, "device": summary["device"],
        "wall_s": wall,
        "per_frame_s": {k: t[k] / frames for k in ("render_rgb", "render_gt", "write_gt")},
        "finalize_s": t["finalize"],
        "ratio_gt_vs_rgb_render": t["render_gt"] / t["render_rgb"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "points": summary["points"],
        "depth_vs_raycast_m": {"n": int(depth_err.size), "median": float(np.median(depth_err)),
                               "max": float(depth_err.max())},
        "flow_vs_reprojection_px": {"n": int(epe.size), "median": float(np.median(epe)), "max": float(epe.max())},
    }


if __name__ == "__main__":
    import json
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
