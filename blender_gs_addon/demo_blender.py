"""The demo's Blender stage: import the trained splats next to the generated scene, save it,
and render the splat object from every held-out camera with the add-on's "Render splats";
where Blender has Gaussian-splat point clouds, with Blender's own Cycles as well (the splat
object alone over black, 64 samples, no denoiser, Standard view), for the report to compare.

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

from procgen.core.atomic import atomic_path, write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scene", required=True)
    ap.add_argument("--splats", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--out-blend", required=True)
    ap.add_argument("--renders", required=True)
    args = ap.parse_args(argv)

    import bpy

    from . import register
    from .blender.native_splats import is_native

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
    from .blender.splat_objects import sky_object_of

    sky = sky_object_of(obj)
    if sky is not None:  # the report shows the whole picture: the trained sky too
        sky.hide_set(False)
        sky.hide_render = False

    # Save next to the scene, atomically: a half-written .blend must never replace a good one.
    with atomic_path(args.out_blend, suffix=".blend") as tmp_blend:
        bpy.ops.wm.save_as_mainfile(filepath=tmp_blend, copy=True)

    transforms = json.loads(Path(args.dataset, "transforms.json").read_text())
    test_files = set(transforms.get("test_filenames") or [])
    views = [f for f in transforms["frames"] if f["file_path"] in test_files] or transforms["frames"][:1]
    renders = Path(args.renders)
    renders.mkdir(parents=True, exist_ok=True)
    done = []
    for view in views:
        entry = _render_view(bpy.context.scene, view, renders)
        if entry is None:
            return 1
        done.append(entry)
    if is_native(obj):
        _cycles_setup(bpy.context.scene, obj)
        for entry in done:
            _cycles_view(bpy.context.scene, entry, renders)
    write_text(renders / "done.json", json.dumps({"views": done, "object": obj.name}, indent=2))
    return 0


def _render_view(scene, view: dict, renders: Path) -> dict | None:
    """Render Splats from one held-out frame's camera -> its done.json entry (None: it failed)."""
    import bpy

    from procgen.render.png import write_png

    frame = int(Path(view["file_path"]).stem)
    scene.frame_set(frame)
    t0 = time.perf_counter()
    result = bpy.ops.gs.render_splats()
    seconds = time.perf_counter() - t0
    if result != {"FINISHED"}:
        print(f"demo: Render splats failed for frame {frame}", file=sys.stderr)
        return None
    image = bpy.data.images["Splats Render"]
    w, h = image.size
    rgba = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(rgba)
    rgb = rgba.reshape(h, w, 4)[::-1, :, :3]  # Blender rows are bottom-up
    name = f"{frame:05d}.png"
    write_png(renders / name, (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    print(f"[demo] rendered held-out frame {frame} ({w}x{h}) in {seconds:.2f} s", flush=True)
    return {"frame": frame, "ground_truth": view["file_path"], "render": name, "seconds": round(seconds, 3)}


CYCLES_SAMPLES = 64


def _cycles_setup(scene, obj) -> None:
    """Cycles renders the splat object (and its sky) alone over black, undenoised, in the Standard view
    (as Render Splats)."""
    import bpy
    from mathutils import Vector

    from .blender.splat_objects import sky_object_of

    sky = sky_object_of(obj)
    for other in scene.objects:
        other.hide_render = other not in (obj, sky)
    if sky is not None and scene.camera is not None:  # the shell lies far out: keep it inside the clip range
        reach = max((sky.matrix_world @ Vector(c)).length for c in sky.bound_box)
        scene.camera.data.clip_end = max(scene.camera.data.clip_end, 2.0 * reach)
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.use_denoising = CYCLES_SAMPLES, False
    scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
    scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
    scene.render.film_transparent = False
    scene.world = bpy.data.worlds.new("GS Black")
    scene.world.color = (0.0, 0.0, 0.0)
    if scene.world.node_tree is not None and "Background" in scene.world.node_tree.nodes:
        scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"


def _cycles_view(scene, entry: dict, renders: Path) -> None:
    """Blender's own Cycles render of the native splats from one held-out frame, beside Render Splats."""
    import bpy

    scene.frame_set(entry["frame"])
    name = f"cycles_{entry['frame']:05d}.png"
    t0 = time.perf_counter()
    with atomic_path(renders / name, suffix=".png") as tmp:
        scene.render.filepath = tmp
        bpy.ops.render.render(write_still=True)
    entry["cycles"], entry["cycles_seconds"] = name, round(time.perf_counter() - t0, 3)
    entry["cycles_samples"] = CYCLES_SAMPLES
    print(f"[demo] Cycles (native splats, {CYCLES_SAMPLES} samples) frame {entry['frame']} in "
          f"{entry['cycles_seconds']:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
