"""The demo's Blender stage: import the trained splats next to the generated scene, save it,
and render the splat object from every held-out camera with the add-on's "Render splats".

    python -m blender_gs_addon.demo_blender --scene S.blend --splats P.ply --dataset D
        --out-blend OUT.blend --renders DIR

Runs where ``bpy`` imports (the project environment); the add-on is registered from
this package, exactly as a user's Blender would run it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .common.atomic import atomic_path, write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scene", required=True)
    ap.add_argument("--splats", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--out-blend", required=True)
    ap.add_argument("--renders", required=True)
    args = ap.parse_args(argv)

    import bpy

    from .procgen.render.png import write_png

    from . import register

    for path in (args.scene, args.splats, os.path.join(args.dataset, "transforms.json")):
        if not os.path.exists(path):
            print(f"demo: {path} is missing", file=sys.stderr)
            return 1
    bpy.ops.wm.open_mainfile(filepath=args.scene)
    register()
    result = bpy.ops.import_scene.gaussian_splats(filepath=args.splats)
    if result != {"FINISHED"}:
        print(f"demo: importing {args.splats} failed", file=sys.stderr)
        return 1
    obj = bpy.context.view_layer.objects.active
    # Blender 4.2 keeps splats as mesh vertices (it cannot make point clouds from Python).
    count = len(obj.data.points) if obj.type == "POINTCLOUD" else len(obj.data.vertices)
    print(f"[demo] imported '{obj.name}' ({obj.type.lower()}) with {count} splats", flush=True)

    # Save next to the scene, atomically: a half-written .blend must never replace a good one.
    with atomic_path(args.out_blend, suffix=".blend") as tmp_blend:
        bpy.ops.wm.save_as_mainfile(filepath=tmp_blend, copy=True)

    transforms = json.loads(Path(args.dataset, "transforms.json").read_text())
    test_files = set(transforms.get("test_filenames") or [])
    views = [f for f in transforms["frames"] if f["file_path"] in test_files] or transforms["frames"][:1]
    scene = bpy.context.scene
    renders = Path(args.renders)
    renders.mkdir(parents=True, exist_ok=True)
    done = []
    for view in views:
        frame = int(Path(view["file_path"]).stem)
        scene.frame_set(frame)
        t0 = time.perf_counter()
        result = bpy.ops.gs.render_splats()
        seconds = time.perf_counter() - t0
        if result != {"FINISHED"}:
            print(f"demo: Render splats failed for frame {frame}", file=sys.stderr)
            return 1
        image = bpy.data.images["Splats Render"]
        w, h = image.size
        rgba = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(rgba)
        rgb = rgba.reshape(h, w, 4)[::-1, :, :3]  # Blender rows are bottom-up
        name = f"{frame:05d}.png"
        write_png(renders / name, (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
        done.append({"frame": frame, "ground_truth": view["file_path"], "render": name,
                     "seconds": round(seconds, 3)})
        print(f"[demo] rendered held-out frame {frame} ({w}x{h}) in {seconds:.2f} s", flush=True)
    write_text(renders / "done.json", json.dumps({"views": done, "object": obj.name}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
