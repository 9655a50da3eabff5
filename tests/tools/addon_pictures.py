"""The pictures of docs/addon.md, made headless from a real scene, dataset and training run.

    python tests/tools/addon_pictures.py WORK_DIR [--docs docs]

Blender in the bpy module draws no user interface, so each panel is shown by what it makes:
Generate by the generated scene, Render Dataset by one frame's ground truth, Train by its live
chart and held-out preview from a real run, the dataset browser by a render of the frusta it
draws over the scene, Edit Splats by Render Splats pictures of trained splats before and after
a chain of its operators (--edit-splats, --edit-dataset: another run and its cameras).
GS_TRAINING_PYTHON (else this Python) trains.
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
from procgen.render.font import draw_text  # noqa: E402
from procgen.render.png import read_png, write_png  # noqa: E402

PICTURES = ("generate", "render_dataset", "train", "browser", "edit")
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


EDIT_BACKGROUND = np.array([0.24, 0.24, 0.24])  # the 3D Viewport's grey
WIRE = (255, 160, 40)  # the colour of the active object's outline in the 3D Viewport
EDIT_VIEW = (4.0, 1.8, 30.0)  # the view's distance and height in box half-sizes, its focal length (mm)


def _focus_of(c2w: np.ndarray) -> np.ndarray:
    """The point nearest every camera's view axis (least squares), for c2w [N, 4, 4] (OpenGL axes) -> [3]."""
    centres, axes = c2w[:, :3, 3], -c2w[:, :3, 2]
    across = np.eye(3) - axes[:, :, None] * axes[:, None, :]  # [N, 3, 3]: what of a vector is off the axis
    return np.linalg.lstsq(across.sum(axis=0), np.einsum("nij,nj->i", across, centres), rcond=None)[0]


def _crop_box(bpy, means: np.ndarray, yaw: float):
    """A cube object over the middle half of the splats (means [N, 3]), turned 30 degrees from the view and
    drawn as wire: the crop's bounds -> (the object, its centre [3], its half-size)."""
    lo, mid, hi = np.percentile(means, [25, 50, 75], axis=0)
    half = 0.5 * float(np.max(hi[:2] - lo[:2]))
    bottom = float(np.percentile(means[:, 2], 1))
    centre = np.array([mid[0], mid[1], bottom + 0.6 * half])
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=centre, rotation=(0.0, 0.0, yaw + np.radians(30.0)))
    box = bpy.context.active_object
    box.name, box.display_type = "Crop Box", "WIRE"
    box.scale = (half, half, 0.6 * half)
    bpy.context.view_layer.update()
    return box, centre, half


def _edit_view(bpy, scene, centre: np.ndarray, away: np.ndarray, size: float):
    """A camera on the side ``away`` [3] (horizontal) from ``centre`` and above, looking at it."""
    cam = bpy.data.objects.new("Doc View", bpy.data.cameras.new("Doc View"))
    scene.collection.objects.link(cam)
    cam.location = centre + away * EDIT_VIEW[0] * size + np.array([0.0, 0.0, EDIT_VIEW[1] * size])
    _look_at(cam, centre)
    cam.data.lens, cam.data.clip_end = EDIT_VIEW[2], 1000 * size
    scene.camera = cam
    return cam


def _splat_count(obj) -> int:
    return len(obj.data.points) if obj.type == "POINTCLOUD" else len(obj.data.vertices)


def _splats_render(bpy) -> np.ndarray:
    """Render Splats of the active object, over the viewport's grey -> uint8 [H, W, 3] (rows top-down)."""
    assert bpy.ops.gs.render_splats() == {"FINISHED"}
    image = bpy.data.images["Splats Render"]
    w, h = image.size
    rgba = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(rgba)
    rgba = rgba.reshape(h, w, 4)[::-1]
    rgb = rgba[..., :3] + (1.0 - rgba[..., 3:]) * EDIT_BACKGROUND  # the rasterizer's colour is premultiplied
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def _draw_wire(img: np.ndarray, obj, camera, scene) -> None:
    """Draw the edges of mesh ``obj`` as the camera sees them into ``img`` [H, W, 3] (2 px lines, in place)."""
    from procgen.render.camera_poses import c2w_opengl, intrinsics_from_blender, project

    mesh = obj.data
    corners = np.array([obj.matrix_world @ v.co for v in mesh.vertices])
    uv, z = project(corners, intrinsics_from_blender(camera.data, scene.render).K, c2w_opengl(camera.matrix_world))
    for a, b in (e.vertices for e in mesh.edges):
        if min(z[a], z[b]) <= 0:  # an edge behind the camera is left out
            continue
        t = np.linspace(0.0, 1.0, int(np.abs(uv[b] - uv[a]).max()) * 2 + 2)[:, None]
        x, y = np.round(uv[a] + t * (uv[b] - uv[a])).astype(int).T
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            keep = (x + dx >= 0) & (x + dx < img.shape[1]) & (y + dy >= 0) & (y + dy < img.shape[0])
            img[y[keep] + dy, x[keep] + dx] = WIRE


def _captioned(images: list[np.ndarray], captions: list[list[str]], gap: int = 6) -> np.ndarray:
    """Pictures side by side with lines of text under each, on a dark strip."""
    lines = max(len(c) for c in captions)
    h, w = images[0].shape[:2]
    sheet = np.full((h + 10 + 18 * lines, len(images) * (w + gap) - gap, 3), 40, np.uint8)
    for i, (img, caption) in enumerate(zip(images, captions)):
        left = i * (w + gap)
        sheet[:h, left:left + w] = img
        for k, line in enumerate(caption):
            draw_text(sheet, line, h + 8 + 18 * k, left + 6, (230, 230, 230), scale=2)
    return sheet


def edit_picture(splats: Path, dataset: Path, out: Path) -> None:
    """Edit Splats: trained splats before and after crop to a box object, opacity filter and decimation,
    each done by the panel's operator, rendered by Render Splats from a view over the dataset's cameras."""
    import bpy

    import blender_gs_addon
    from blender_gs_addon.blender import api

    bpy.ops.wm.read_homefile(use_empty=True)
    blender_gs_addon.register()
    scene = bpy.context.scene
    scene.gaussian_scenes.dataset_dir = str(dataset)
    bpy.ops.gs.dataset_load()  # (it moves the scene camera to the first frame, the render size too)
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 400, 300, 100
    c2w = np.array([np.array(f.c2w).reshape(4, 4) for f in scene.gaussian_scenes.browser_frames])
    away = c2w[:, :3, 3].mean(axis=0) - _focus_of(c2w)  # from the middle of the scene to the cameras
    away[2] = 0.0
    away /= np.linalg.norm(away)
    bpy.ops.import_scene.gaussian_splats(filepath=str(splats))
    obj = bpy.context.active_object  # the scene's splats (a trained sky is a second object, hidden in renders)
    box, centre, half = _crop_box(bpy, api.splats_from_object(obj).means, np.arctan2(away[1], away[0]))
    camera = _edit_view(bpy, scene, centre, away, half)
    bpy.context.view_layer.objects.active = obj
    count = [_splat_count(obj)]
    before = _splats_render(bpy)
    _draw_wire(before, box, camera, scene)
    for op, kwargs in ((bpy.ops.object.gs_splats_crop, dict(shape="OBJECT", bounds=box.name)),
                       (bpy.ops.object.gs_splats_filter_value, dict(attribute="opacity", comparison="gt", value=0.1)),
                       (bpy.ops.object.gs_splats_decimate, dict(mode="PERCENT", percent=50.0))):
        assert op(**kwargs) == {"FINISHED"}
        count.append(_splat_count(obj))
    after = _splats_render(bpy)
    blender_gs_addon.unregister()
    steps = ("crop to the box", "opacity above 0.1", "decimate 50 percent")
    write_png(out, _captioned([before, after], [[f"trained: {count[0]} splats", "orange: the box to crop to"],
                                                 [f"{s}: {n}" for s, n in zip(steps, count[1:])]]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="folder for the scene, its dataset and the training run")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the pictures go")
    parser.add_argument("--only", nargs="+", choices=PICTURES, default=PICTURES, help="make only these pictures")
    parser.add_argument("--edit-splats", type=Path, help="the trained splats that Edit Splats edits (default: "
                                                         "WORK/train/point_cloud.ply, from the Train picture)")
    parser.add_argument("--edit-dataset", type=Path, help="the dataset those splats were trained on, for the view "
                                                          "(default: WORK/scene)")
    args = parser.parse_args()
    scene_dir = args.work / "scene"
    splats = args.edit_splats or args.work / "train" / "point_cloud.ply"
    if "edit" in args.only and "train" not in args.only and not splats.exists():
        parser.error(f"{splats}: no such splat file (make the Train picture first, or pass --edit-splats)")
    if {"generate", "render_dataset", "train", "browser"} & set(args.only) or args.edit_dataset is None:
        if not (scene_dir / "transforms.json").exists():
            _run([sys.executable, "-m", "procgen", "generate", *SCENE_ARGS, "--out", str(scene_dir)])
    if "render_dataset" in args.only:
        dataset_picture(scene_dir, args.docs / "addon_render_dataset.png")
    if "train" in args.only:
        train_picture(scene_dir, args.work, args.docs / "addon_train.png")
    if {"generate", "browser"} & set(args.only):
        browser_pictures(scene_dir, args.docs)
    if "edit" in args.only:
        edit_picture(splats, args.edit_dataset or scene_dir, args.docs / "addon_edit.png")
    print("\n".join(str(args.docs / f"addon_{n}.png") for n in args.only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
