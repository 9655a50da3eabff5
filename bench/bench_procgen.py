"""Benchmark of scene generation: per-asset times, every biome's generation, and the densest
biome end to end.

quick: one of each tree species and a rock, and generating the default preset of every biome
       (seed 0), each timed, the slowest named, against the 30 s budget.
full:  additionally the densest biome (the most placed copies) in a fresh process: generate
       and render its default dataset (256x256, 24 frames, 64 samples + ground truth), with
       per-stage wall time, the process's CPU time and its peak resident memory, against the
       5 minute and 4 GB budgets. The machine is shared: CPU seconds / cores is what the run
       would take on idle cores.
For scale, ``other_generator`` records what another tool took for its assets once on this
machine (not in this run, and much larger assets): printed beside ours, never divided by ours,
since a ratio needs the same work measured in the same run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

# another procedural nature generator (bpy 4.2.0), measured once here (docs/benchmarks.md): not the same work
OTHER_GENERATOR = {"tool": "another nature generator, measured once, not in this run: other assets, other sizes",
                   "boulder": {"seconds": 70.0, "vertices": 1_800_000},
                   "tree": {"seconds": 194.0, "vertices": 4_300_000}}
GENERATE_BUDGET_S = 30.0
BUDGET_S = 300.0
BUDGET_MB = 4096.0

_FULL_SCRIPT = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
import bpy
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.render import render_dataset
out, biome = sys.argv[1], sys.argv[2]
bpy.ops.wm.read_factory_settings(use_empty=True)
t = time.perf_counter()
info = generate_scene(SceneConfig.from_preset("default", seed=0, biome=biome))
gen = time.perf_counter() - t
res = {"biome": biome, "generate_s": round(gen, 2), "counts": info["counts"],
       "peak_rss_after_generate_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}
t = time.perf_counter()
summary = render_dataset(out, scene=bpy.context.scene, device="cpu")
res["render_s"] = round(time.perf_counter() - t, 2)
res["render_stages_s"] = {k: round(v, 2) for k, v in summary["timings_s"].items()}
res["frames"] = summary["frames_done"]
res["total_s"] = round(time.perf_counter() - t0, 2)
usage = resource.getrusage(resource.RUSAGE_SELF)
res["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
res["peak_rss_mb"] = round(usage.ru_maxrss / 1024.0, 1)
print("RESULT " + json.dumps(res))
"""


def _time(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _assets(res: dict) -> None:
    """Each tree species and a boulder, timed from its random stream to numpy geometry."""
    from procgen.core.seeding import stream
    from procgen.plants import trees
    from procgen.terrain import rocks

    t, g = _time(lambda: rocks.rock_geo(stream(0, "bench_rock"), 5))
    res["assets"]["boulder"] = {"seconds": round(t, 4), "vertices": g.n_verts}
    for name, sp in trees.SPECIES.items():
        t, g = _time(lambda n=name, s=sp: trees.colonised_tree(stream(0, f"bench_{n}"), s, 10.0, 500, 0.3))
        res["assets"][name] = {"seconds": round(t, 4), "vertices": g.n_verts}
    for name, make in (("conifer", lambda: trees.conifer(stream(0, "bench_conifer"), 15.0)),
                       ("palm", lambda: trees.palm(stream(0, "bench_palm"), 9.0))):
        t, g = _time(make)
        res["assets"][name] = {"seconds": round(t, 4), "vertices": g.n_verts}
    res["other_generator"] = OTHER_GENERATOR
    print("[bench procgen] asset         ours (this run)              other generator (once, not this run)")
    for name, other in (("boulder", "boulder"), *((n, "tree") for n in res["assets"] if n != "boulder")):
        a, o = res["assets"][name], OTHER_GENERATOR[other]
        print(f"[bench procgen] {name:<13} {a['seconds']:8.3f} s {a['vertices']:>9,} vertices   "
              f"{other}: {o['seconds']:.0f} s {o['vertices']:>9,} vertices")


def _biomes(res: dict) -> None:
    """The default preset of every biome (seed 0): generation time, copies placed, objects."""
    import bpy

    from procgen.assembly.biomes import BIOME_NAMES
    from procgen.assembly.config import SceneConfig
    from procgen.assembly.scene import generate_scene

    skip = {"terrain", "objects", "vertices", "unique_meshes", "water", "cliff"}
    for biome in BIOME_NAMES:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        t, info = _time(lambda b=biome: generate_scene(SceneConfig.from_preset("default", seed=0, biome=b)))
        counts = info["counts"]
        res["biomes"][biome] = {
            "generate_s": round(t, 2), "ratio_vs_30s_budget": round(GENERATE_BUDGET_S / t, 1),
            "copies": int(sum(v for k, v in counts.items() if k not in skip)), "objects": counts["objects"],
            "vertices": counts["vertices"], "stages_s": info["timings"]}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    slowest = max(res["biomes"], key=lambda b: res["biomes"][b]["generate_s"])
    res["slowest_biome"] = {"name": slowest, "generate_s": res["biomes"][slowest]["generate_s"]}
    res["densest_biome"] = max(res["biomes"], key=lambda b: res["biomes"][b]["copies"])


def _full(res: dict) -> None:
    biome = res["densest_biome"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="bench_procgen_") as tmp:
        env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.run([sys.executable, "-c", _FULL_SCRIPT, os.path.join(tmp, "ds"), biome], cwd=repo,
                              env=env, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            res["densest_end_to_end"] = {"error": (proc.stderr or proc.stdout)[-2000:]}
            return
        full = json.loads(line[len("RESULT "):])
    cores = os.cpu_count() or 1
    full["idle_estimate_s"] = round(full["cpu_s"] / cores, 1)
    full["ratio_time_vs_5min_budget"] = round(BUDGET_S / full["total_s"], 2)
    full["ratio_idle_estimate_vs_5min_budget"] = round(BUDGET_S / full["idle_estimate_s"], 2)
    full["ratio_memory_vs_4GB_budget"] = round(BUDGET_MB / full["peak_rss_mb"], 2)
    res["densest_end_to_end"] = full


def run(quick: bool) -> dict:
    import bpy

    res: dict = {"assets": {}, "biomes": {}, "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _assets(res)
    _biomes(res)
    if not quick:
        _full(res)
    return res


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from anywhere
    print(json.dumps(run("--full" not in sys.argv), indent=1))
