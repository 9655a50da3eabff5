"""What each optional ground-truth pass (``--passes``) costs in render time.

One generated scene (seed 0 of the default preset; ``quick``: the same scene at 128x128, 8
frames, 16 samples) is rendered with no optional pass (the base: RGB, depth, flow, normals,
ids), then with each pass alone, then with all of them, each into a fresh folder in the same
process; ``quick`` does that twice (the second time in reverse order) and keeps the try with
the shortest wall time (and the smallest CPU time). For each: wall time, the process's CPU
time, the stages, and ratios to the base:

- ``wall_ratio`` and ``cpu_ratio``: of the whole render's wall and CPU time;
- ``paced_ratio``: (1 + the rest / RGB) of the run over the same of the base, where the rest is
  everything but the RGB render. The RGB images are the same work in every run, so each run's
  own RGB time stands for how busy the machine was during it; on a machine shared with other
  jobs this is the steadiest of the three.

The target: all passes on costs at most 25 % more than the base.
"""
from __future__ import annotations

import os
import resource
import tempfile
import time

TARGET = 1.25


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _render(out: str, scene, passes: tuple, samples: int) -> dict:
    from procgen.render import render_dataset

    wall, cpu = time.perf_counter(), _cpu_s()
    summary = render_dataset(out, scene=scene, samples=samples, device="cpu", passes=passes)
    t = summary["timings_s"]
    return {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu_s() - cpu, "render_rgb_s": t["render_rgb"],
            "render_gt_s": t["render_gt"], "write_gt_s": t["write_gt"], "finalize_s": t["finalize"],
            "frames": summary["frames_done"]}


def _ratios(run: dict, base: dict) -> dict:
    paced = lambda r: 1.0 + (r["wall_s"] - r["render_rgb_s"]) / r["render_rgb_s"]  # noqa: E731
    return {"wall_ratio": run["wall_s"] / base["wall_s"], "cpu_ratio": run["cpu_s"] / base["cpu_s"],
            "paced_ratio": paced(run) / paced(base)}


def run(quick: bool) -> dict:
    import bpy

    from procgen.assembly.config import SceneConfig
    from procgen.assembly.scene import generate_scene
    from procgen.render.layout import PASSES

    over = {"resolution": (128, 128), "frames": 8, "samples": 16} if quick else {}
    config = SceneConfig.from_preset("default", seed=0, **over)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(config)
    scene = bpy.context.scene
    samples = config.render.samples
    order = [("base", ()), *((p, (p,)) for p in PASSES), ("all", PASSES)]
    tries: dict[str, list] = {}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="gs_passes_bench_") as root:
        _render(f"{root}/warm", scene, (), samples)  # Cycles' first render builds what later ones reuse
        for rep in range(2 if quick else 1):
            for name, passes in order if rep % 2 == 0 else order[::-1]:
                print(f"[bench] render_passes: {name} ({rep + 1})", flush=True)
                tries.setdefault(name, []).append(_render(f"{root}/{name}-{rep}", scene, passes, samples))
    load.append(os.getloadavg()[0])
    runs = {name: dict(min(rs, key=lambda r: r["wall_s"]), cpu_s=min(r["cpu_s"] for r in rs))  # the quietest try
            for name, rs in tries.items()}
    base = runs["base"]
    for r in runs.values():
        r.update(_ratios(r, base))
    return {
        "scene": {"seed": 0, "preset": "default", "biome": (info.get("biome") or {}).get("name"),
                  **{k: list(v) if isinstance(v, tuple) else v for k, v in over.items()}},
        "samples": samples, "repeats": len(tries["base"]), "load_average_1min": load, "runs": runs,
        "target_all_ratio": TARGET, "all_within_target": runs["all"]["paced_ratio"] <= TARGET,
    }


if __name__ == "__main__":
    import json
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
