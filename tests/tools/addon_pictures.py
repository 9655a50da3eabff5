"""The pictures of docs/addon.md, made headless from a real scene, dataset and training run.

    python tests/tools/addon_pictures.py WORK_DIR [--docs docs]

Blender in the bpy module draws no user interface, so each panel is shown by what it makes:
Generate by the generated scene, Render Dataset by one frame's ground truth, Train by its live
chart and held-out preview from a real run, the dataset browser by a render of the frusta it
draws over the scene. GS_TRAINING_PYTHON (else this Python) trains.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from blender_gs_addon.blender.jobs import LiveTraining, read_event  # noqa: E402
from blender_gs_addon.trainer.plots import live_chart  # noqa: E402
from procgen.render.png import read_png, write_png  # noqa: E402

SCENE_ARGS = ["--preset", "tiny", "--seed", "3", "--biome", "meadow", "--trajectory", "orbit", "--frames", "16",
              "--resolution", "160", "120", "--samples", "16", "--passes", "none"]


def _run(cmd: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_WAIT_POLICY="PASSIVE")
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def _nearest(img: np.ndarray, height: int) -> np.ndarray:
    """Scaled to ``height`` rows by repeating pixels (pictures of a few pixels stay sharp)."""
    rows = np.arange(height) * img.shape[0] // height
    width = img.shape[1] * height // img.shape[0]
    return img[rows][:, np.arange(width) * img.shape[1] // width]


def _strip(images: list[np.ndarray], height: int, gap: int = 6) -> np.ndarray:
    parts = []
    for img in images:
        img = img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
        parts += [_nearest(img.astype(np.uint8), height), np.full((height, gap, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=1)


def dataset_picture(scene_dir: Path, out: Path) -> None:
    kinds = ("depth", "flow_fwd", "normals", "instance", "semantic")
    images = [read_png(scene_dir / "images" / "00001.png")]
    images += [read_png(scene_dir / "preview" / f"00001_{k}.png") for k in kinds]
    write_png(out, _strip(images, 120))


def train_picture(scene_dir: Path, work: Path, out: Path) -> None:
    python = os.environ.get("GS_TRAINING_PYTHON", sys.executable)
    stdout = _run([python, "-m", "blender_gs_addon", "train", str(scene_dir), "--out", str(work / "train"),
                   "--iterations", "600", "--preview-every", "50", "--sh-degree", "1", "--progress-json",
                   "--overwrite"])
    live = LiveTraining()
    for line in stdout.splitlines():
        event = read_event(line)
        if event is not None:
            live.add(event)
    preview = work / "train" / "renders" / "live_preview.png"  # where --overwrite's staging folder ends up
    write_png(out, _strip([live_chart(live.loss, live.test_psnr, 256, 256), read_png(preview)], 256))


def _look_at(cam, target) -> None:
    from mathutils import Vector

    direction = Vector(target) - cam.location
    cam.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def _frusta_as_tubes(bpy, obj) -> None:
    """The frusta's edges as thin glowing tubes, so that a render shows them (edges render as nothing)."""
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.convert(target="CURVE")
    obj.data.bevel_depth = 0.04
    mat = bpy.data.materials.new("Frusta")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    emit = nodes.new("ShaderNodeEmission")
    emit.inputs["Color"].default_value = (1.0, 0.35, 0.05, 1.0)
    emit.inputs["Strength"].default_value = 4.0
    mat.node_tree.links.new(emit.outputs[0], nodes["Material Output"].inputs["Surface"])
    obj.data.materials.append(mat)


def browser_pictures(scene_dir: Path, docs: Path) -> None:
    import bpy

    import blender_gs_addon

    bpy.ops.wm.open_mainfile(filepath=str(scene_dir / "scene.blend"))
    blender_gs_addon.register()
    scene = bpy.context.scene
    s = scene.gaussian_scenes
    s.dataset_dir = str(scene_dir)
    bpy.ops.gs.dataset_load()
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.device = 32, "CPU"
    scene.render.resolution_percentage = 100
    scene.frame_set(scene.frame_start)
    # Generate: the scene through its own camera at the first frame
    scene.render.resolution_x, scene.render.resolution_y = 480, 360
    scene.render.filepath = str(docs / "addon_generate.png")
    bpy.ops.render.render(write_still=True)
    # the dataset browser: every camera's frustum over the scene, from a camera further out
    s.frustum_size = 0.0  # a tenth of the cameras' spread
    bpy.ops.gs.dataset_frusta()
    centres = np.array([np.array(f.c2w).reshape(4, 4)[:3, 3] for f in s.browser_frames])
    middle, spread = centres.mean(axis=0), np.ptp(centres, axis=0).max()
    view = bpy.data.objects.new("Doc View", bpy.data.cameras.new("Doc View"))
    scene.collection.objects.link(view)
    view.location = (middle[0] + 0.3 * spread, middle[1] - 1.7 * spread, middle[2] + 1.1 * spread)
    _look_at(view, (middle[0], middle[1], middle[2] - 0.15 * spread))
    view.data.lens = 30
    view.data.clip_end = 10 * spread + 1000
    frusta = bpy.data.objects["Dataset Cameras"]
    _frusta_as_tubes(bpy, frusta)
    frusta.data.bevel_depth = 0.003 * spread
    frusta.visible_shadow = False
    scene.camera = view
    scene.render.resolution_x, scene.render.resolution_y = 640, 400
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.filepath = str(docs / "addon_browser.png")
    bpy.ops.render.render(write_still=True)
    blender_gs_addon.unregister()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="folder for the scene, its dataset and the training run")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the pictures go")
    args = parser.parse_args()
    scene_dir = args.work / "scene"
    if not (scene_dir / "transforms.json").exists():
        _run([sys.executable, "-m", "procgen", "generate", *SCENE_ARGS, "--out", str(scene_dir)])
    dataset_picture(scene_dir, args.docs / "addon_render_dataset.png")
    train_picture(scene_dir, args.work, args.docs / "addon_train.png")
    browser_pictures(scene_dir, args.docs)
    print("\n".join(str(args.docs / f"addon_{n}.png") for n in ("generate", "render_dataset", "train", "browser")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
