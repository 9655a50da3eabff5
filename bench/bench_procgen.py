"""Benchmark of scene generation: per-asset times and vertex counts, and the default preset.

quick: one rock, one tree, one bush, and generating the default scene (seconds).
full:  additionally the whole default preset in a fresh process: generate, render the RGB
       and ground-truth dataset (256x256, 24 frames, 64 samples), with per-stage wall time
       and the peak resident memory of that process.
Reference figures for scale (measured once on this machine, not in this run): a boulder
took 70 s and a tree 194 s in a widely used procedural generator.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

REFERENCE_BOULDER_S = 70.0
REFERENCE_TREE_S = 194.0
BUDGET_S = 300.0
BUDGET_MB = 4096.0

_FULL_SCRIPT = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import bpy
from blender_gs_addon.procgen.config import SceneConfig
from blender_gs_addon.procgen.scene import generate_scene
out = sys.argv[1]
bpy.ops.wm.read_factory_settings(use_empty=True)
t = time.perf_counter()
info = generate_scene(SceneConfig.preset("default", seed=0))
gen = time.perf_counter() - t
rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
res = {"generate_s": round(gen, 2), "generate_stages_s": info["timings"], "counts": info["counts"],
       "peak_rss_after_generate_mb": round(rss_gen, 1)}
try:
    from blender_gs_addon.procgen.render import render_dataset
except ImportError:
    render_dataset = None
if render_dataset is not None:
    t = time.perf_counter()
    summary = render_dataset(out, scene=bpy.context.scene, overwrite=True)
    res["render_s"] = round(time.perf_counter() - t, 2)
    res["render_stages_s"] = summary.get("timings_s")
    res["device"] = summary.get("device")
res["total_s"] = round(time.perf_counter() - t0, 2)
res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
print("RESULT " + json.dumps(res))
"""


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run(quick: bool) -> dict:
    import bpy

    from blender_gs_addon.procgen import plants, rocks
    from blender_gs_addon.procgen.config import SceneConfig
    from blender_gs_addon.procgen.scene import generate_scene
    from blender_gs_addon.procgen.seeding import stream

    cfg = SceneConfig.preset("default")
    res: dict = {"assets": {}}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # Each asset timed from its random stream to a finished Blender mesh datablock.
    t, me = _time(lambda: rocks.make_rock_mesh("bench_rock", stream(0, "bench_rock"), cfg.rocks.subdivisions))
    res["assets"]["rock"] = {"seconds": round(t, 4), "vertices": len(me.vertices),
                             "ratio_vs_reference_boulder": round(REFERENCE_BOULDER_S / t, 1)}
    p = cfg.plants
    t, me = _time(lambda: plants.make_tree_mesh("bench_tree", stream(0, "bench_tree"), "broadleaf", 8.0,
                                                p.tree_attractors, p.tree_step, p.leaves_per_tip))
    leaf_faces = sum(1 for poly in me.polygons if poly.material_index == 1)
    res["assets"]["tree"] = {"seconds": round(t, 4), "vertices": len(me.vertices), "leaf_cards": leaf_faces,
                             "ratio_vs_reference_tree": round(REFERENCE_TREE_S / t, 1),
                             "ratio_vs_2s_target": round(2.0 / t, 1)}
    t, me = _time(lambda: plants.make_tree_mesh("bench_conifer", stream(0, "bench_conifer"), "conifer", 11.0,
                                                p.tree_attractors, p.tree_step * 11 / 8, p.leaves_per_tip))
    res["assets"]["conifer"] = {"seconds": round(t, 4), "vertices": len(me.vertices)}
    t, me = _time(lambda: plants.make_tree_mesh("bench_bush", stream(0, "bench_bush"), "bush", 1.2,
                                                max(60, p.tree_attractors // 2), 0.12, p.leaves_per_tip + 1))
    res["assets"]["bush"] = {"seconds": round(t, 4), "vertices": len(me.vertices)}

    bpy.ops.wm.read_factory_settings(use_empty=True)
    t, info = _time(lambda: generate_scene(SceneConfig.preset("tiny", seed=0)))
    res["generate_tiny_s"] = round(t, 3)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    t, info = _time(lambda: generate_scene(SceneConfig.preset("default", seed=0)))
    res["generate_default_s"] = round(t, 3)
    res["generate_default_stages_s"] = info["timings"]
    res["generate_default_counts"] = info["counts"]
    res["generate_ratio_default_vs_tiny"] = round(res["generate_default_s"] / max(res["generate_tiny_s"], 1e-9), 2)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if quick:
        return res

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="bench_procgen_") as tmp:
        env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.run([sys.executable, "-c", _FULL_SCRIPT, os.path.join(tmp, "ds")], cwd=repo, env=env,
                              capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            res["default_preset"] = {"error": (proc.stderr or proc.stdout)[-2000:]}
            return res
        full = json.loads(line[len("RESULT "):])
    full["ratio_time_vs_5min_budget"] = round(BUDGET_S / full["total_s"], 2)
    full["ratio_memory_vs_4GB_budget"] = round(BUDGET_MB / full["peak_rss_mb"], 2)
    res["default_preset"] = full
    return res


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from anywhere
    print(json.dumps(run("--full" not in sys.argv), indent=1))
