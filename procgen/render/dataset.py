"""Render the ground-truth dataset of a Blender scene with an animated camera (see README_render.md)."""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Callable

import bpy
import numpy as np

from ...common import staged_output
from ...common.child_process import private_temp_dir
from . import cameras, colmap, layout, passes, pointcloud, preview
from . import segmentation as seg
from .exr import read_passes
from .flow import flow_from_vector
from .normals import world_to_camera_normals
from .png import write_png

NO_SURFACE_DEPTH = 1e9  # Cycles writes 1e10 where a ray hits nothing
DEFAULT_SAMPLES = 64


def _scene_info(scene) -> dict:
    """The generator's record (custom property ``gs_scene_info``: JSON text or a property group)."""
    info = scene.get("gs_scene_info")
    if info is None:
        return {}
    if isinstance(info, str):
        try:
            value = json.loads(info)
        except ValueError:
            return {"gs_scene_info": info}
        return value if isinstance(value, dict) else {"gs_scene_info": value}
    if hasattr(info, "to_dict"):
        return info.to_dict()
    return dict(info) if isinstance(info, dict) else {"gs_scene_info": str(info)}


def _frame_list(scene, frames) -> list[int]:
    a, b = (scene.frame_start, scene.frame_end) if frames is None else (int(frames[0]), int(frames[1]))
    if b < a:
        raise ValueError(f"frame range {a}..{b} is empty")
    return list(range(a, b + 1))


def _load_png_rgb(path: str) -> np.ndarray:
    """uint8 [H, W, 3] of an 8-bit PNG, decoded by Blender (fast for any PNG row filter)."""
    img = bpy.data.images.load(path, check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return np.rint(px.reshape(h, w, 4)[::-1, :, :3] * 255).astype(np.uint8)


def _copy_atomic(src: str, dst: str) -> None:
    tmp = f"{dst}.tmp{os.getpid()}"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _check_existing(out_dir: str, params: dict, restart_stage: bool) -> dict | None:
    """Decide between a fresh start, a resume and a refusal; returns the manifest to resume or None."""
    manifest = layout.load_manifest(out_dir)
    has_dataset = os.path.exists(os.path.join(out_dir, "transforms.json"))
    if restart_stage:  # an --overwrite staging folder: resume the same render, else start it afresh
        if manifest is not None and manifest.get("params") == params:
            return manifest
        if os.path.basename(out_dir) != staged_output.STAGE:
            raise ValueError(f"{out_dir} is not a staging folder; refusing to clear it")
        shutil.rmtree(out_dir)  # everything in a staging folder was written by the renderer
        os.makedirs(out_dir)
        return None
    if manifest is None:
        if has_dataset:
            raise FileExistsError(f"{out_dir} already holds a dataset (transforms.json); use --overwrite to replace it")
        return None
    if manifest.get("complete"):
        raise FileExistsError(f"{out_dir} already holds a complete dataset; use --overwrite to replace it")
    if manifest.get("params") != params:
        raise FileExistsError(
            f"{out_dir} holds an unfinished dataset rendered with other settings; use --overwrite to start again")
    return manifest


def _frame_done(out_dir: str, manifest: dict, frame: int, exr: bool) -> bool:
    if str(frame) not in manifest["frames"]:
        return False
    return all(os.path.exists(os.path.join(out_dir, p)) for p in layout.frame_files(frame, exr).values())


def render_dataset(
    out_dir: str | os.PathLike,
    *,
    scene=None,
    samples: int | None = None,
    restart_stage: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    frames: tuple[int, int] | None = None,
    exr: bool = False,
    device: str = "auto",
    denoise: bool = True,
    max_points: int = 100_000,
    cloud_frames: int = 8,
    quiet: bool = True,
) -> dict:
    """Render every frame of ``scene`` (default: the context scene) from its camera into ``out_dir``.

    Writes the GUIDE dataset layout. Resumes an unfinished dataset rendered with the same
    settings; refuses to touch a complete one (``render_dataset`` of the package replaces one
    with ``overwrite``). ``restart_stage`` is for that staging folder only. ``should_cancel()`` is asked
    before each frame; cancelling (or Ctrl-C) keeps the finished frames and writes a dataset of
    them (KeyboardInterrupt is re-raised afterwards). Returns a summary dict.
    """
    t_start = time.perf_counter()
    scene = scene or bpy.context.scene
    if scene.camera is None:
        raise ValueError(f"scene '{scene.name}' has no camera; set scene.camera to an animated camera")
    out_dir = os.path.abspath(os.fspath(out_dir))
    frame_list = _frame_list(scene, frames)
    view_layer = bpy.context.view_layer if bpy.context.view_layer in scene.view_layers[:] else scene.view_layers[0]
    if samples is None:
        samples = scene.cycles.samples if scene.render.engine == "CYCLES" else DEFAULT_SAMPLES
    if int(samples) < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    cameras.intrinsics_from_blender(scene.camera.data, scene.render)  # fail early on unsupported cameras
    original_frame = scene.frame_current

    scene.frame_set(frame_list[0])
    boxes = seg.rendered_boxes(view_layer.depsgraph, view_layer)
    ids = seg.assign_ids(boxes)
    classes = {name: seg.object_class(obj, instancer) for name, (obj, _, _, instancer) in boxes.items()}
    table = seg.class_table(classes.values())
    lut = seg.semantic_lut(ids, classes, table)
    w, h = cameras.render_size(scene.render)
    params = {"scene": scene.name, "camera": scene.camera.name, "view_layer": view_layer.name,
              "resolution": [w, h], "samples": int(samples), "denoise": bool(denoise),
              "frames": [frame_list[0], frame_list[-1]], "exr": bool(exr), "ids": ids, "classes": classes}

    os.makedirs(out_dir, exist_ok=True)
    try:
        manifest = _check_existing(out_dir, params, restart_stage)
    except (FileExistsError, ValueError):
        scene.frame_set(original_frame)
        raise
    if manifest is None:  # boxes at the first frame; frames record only the boxes that differ
        static_boxes = {name: [lo.tolist(), hi.tolist()] for name, (_, lo, hi, _) in boxes.items()}
        manifest = {"params": params, "complete": False, "static_boxes": static_boxes, "frames": {}}
    for d in layout.OWNED_DIRS:
        os.makedirs(os.path.join(out_dir, d), exist_ok=True)

    total = len(frame_list)
    done = sum(_frame_done(out_dir, manifest, f, exr) for f in frame_list)
    if progress:
        progress(done, total, f"{done}/{total} frames already rendered" if done else "starting")

    settings = passes.Settings()
    tmp_dir = private_temp_dir(out_dir, "render")  # removed below; by the next run if this one is killed
    cancelled = interrupted = False
    failure: BaseException | None = None
    rendered_now = 0
    backend = "CPU"
    try:
        settings.set(scene.render, "filepath", scene.render.filepath)
        backend = passes.choose_device(scene, settings, device)
        passes.configure_common(scene, view_layer, settings)
        for ob in bpy.data.objects:
            try:
                settings.set(ob, "pass_index", ids.get(ob.name, 0))
            except (AttributeError, TypeError):
                pass  # linked, read-only data: keeps its own index
        for frame in frame_list:
            if _frame_done(out_dir, manifest, frame, exr):
                continue
            if should_cancel is not None and should_cancel():
                cancelled = True
                break
            record = _render_frame(scene, view_layer, settings, out_dir, tmp_dir, frame, samples, denoise, exr,
                                   lut, quiet, manifest["static_boxes"])
            manifest["frames"][str(frame)] = record
            layout.write_json(os.path.join(out_dir, layout.MANIFEST), manifest, indent=None)
            done += 1
            rendered_now += 1
            if progress:
                progress(done, total, f"frame {frame}")
    except KeyboardInterrupt:
        interrupted = True
    except BaseException as exc:  # a failed frame: still leave a consistent dataset of the finished ones
        failure = exc
    finally:
        settings.restore()
        shutil.rmtree(tmp_dir, ignore_errors=True)
        scene.frame_set(original_frame)

    t0 = time.perf_counter()
    done_frames = [f for f in frame_list if _frame_done(out_dir, manifest, f, exr)]
    manifest["complete"] = len(done_frames) == total
    n_points = 0
    timings = {k: float(sum(manifest["frames"][str(f)]["timings_s"][k] for f in done_frames))
               for k in ("render_rgb", "render_gt", "write_gt")}
    if done_frames:  # the dataset of the finished frames (all of them when complete)
        n_points = _finalize(out_dir, scene, manifest, done_frames, table, exr, max_points, cloud_frames)
        timings["finalize"] = time.perf_counter() - t0
        timings["this_run_total"] = time.perf_counter() - t_start
        _write_scene_json(out_dir, scene, params, backend, manifest, timings, len(done_frames), n_points)
    else:
        timings["finalize"] = 0.0
        timings["this_run_total"] = time.perf_counter() - t_start
    layout.write_json(os.path.join(out_dir, layout.MANIFEST), manifest, indent=None)
    if failure is not None:
        raise failure
    if interrupted:
        raise KeyboardInterrupt
    return {
        "out_dir": out_dir, "frames_total": total, "frames_done": len(done_frames),
        "frames_rendered_now": rendered_now, "complete": manifest["complete"], "cancelled": cancelled,
        "points": n_points, "device": backend, "timings_s": timings,
    }


def _render_frame(scene, view_layer, settings, out_dir, tmp_dir, frame, samples, denoise, exr, lut, quiet,
                  static_boxes) -> dict:
    """Render one frame (RGB, then ground truth) and write all its files; returns its manifest record."""
    scene.frame_set(frame)
    cam = scene.camera
    intr = cameras.intrinsics_from_blender(cam.data, scene.render)
    c2w = cameras.c2w_opengl(cam.matrix_world)
    files = layout.frame_files(frame, exr)
    pv = layout.preview_files(frame)
    path = lambda key: os.path.join(out_dir, files[key])  # noqa: E731

    t0 = time.perf_counter()
    passes.configure_rgb(scene, view_layer, settings, samples, denoise)
    rgb_tmp = os.path.join(tmp_dir, "rgb.png")
    passes.render_still(scene, view_layer, rgb_tmp, quiet)
    if exr:
        exr_tmp = os.path.join(tmp_dir, "rgb.exr")
        passes.save_linear_exr(scene, settings, exr_tmp)
        _copy_atomic(exr_tmp, path("exr_file_path"))
    _copy_atomic(rgb_tmp, path("file_path"))
    t1 = time.perf_counter()

    passes.configure_gt(scene, view_layer, settings)
    gt_tmp = os.path.join(tmp_dir, "gt.exr")
    passes.render_still(scene, view_layer, gt_tmp, quiet)
    t2 = time.perf_counter()

    p = read_passes(gt_tmp, view_layer.name)
    missing = {"Depth", "Vector", "Normal", "IndexOB"} - set(p)
    if missing:
        raise RuntimeError(f"{gt_tmp}: render lacks passes {sorted(missing)}")
    depth = p["Depth"].astype(np.float32)
    depth[depth > NO_SURFACE_DEPTH] = np.inf
    valid = np.isfinite(depth)
    fwd, bwd = flow_from_vector(p["Vector"])
    nrm = world_to_camera_normals(p["Normal"], c2w, valid)
    inst = seg.id_image(p["IndexOB"])
    inst[~valid] = 0
    sem = lut[np.minimum(inst, len(lut) - 1)]
    sem[inst >= len(lut)] = 0
    layout.save_npy(path("depth_file_path"), depth)
    layout.save_npy(path("flow_fwd_file_path"), fwd)
    layout.save_npy(path("flow_bwd_file_path"), bwd)
    layout.save_npy(path("normals_file_path"), nrm)
    write_png(path("instance_file_path"), inst)
    write_png(path("semantic_file_path"), sem)
    out = lambda key: os.path.join(out_dir, pv[key])  # noqa: E731
    write_png(out("depth"), preview.depth_image(depth), 3)
    write_png(out("flow_fwd"), preview.flow_image(fwd), 3)
    write_png(out("flow_bwd"), preview.flow_image(bwd), 3)
    write_png(out("normals"), preview.normals_image(nrm), 3)
    write_png(out("instance"), preview.id_palette(inst), 3)
    write_png(out("semantic"), preview.id_palette(sem), 3)
    t3 = time.perf_counter()

    moved = {}
    for name, (_, lo, hi, _) in seg.rendered_boxes(view_layer.depsgraph, view_layer).items():
        box = [lo.tolist(), hi.tolist()]
        if name not in static_boxes or not np.allclose(box, static_boxes[name], atol=1e-6):
            moved[name] = box
    return {
        "c2w": c2w.tolist(),
        "intrinsics": intr.as_dict(),
        "boxes": moved,
        "timings_s": {"render_rgb": t1 - t0, "render_gt": t2 - t1, "write_gt": t3 - t2},
    }


def _finalize(out_dir, scene, manifest, done_frames, table, exr, max_points, cloud_frames) -> int:
    """Write the files that cover all finished frames; returns the number of points in points3d.ply."""
    params = manifest["params"]
    records = [dict(manifest["frames"][str(f)], frame=f) for f in done_frames]
    if records:
        shared = records[0]["intrinsics"]
    else:  # nothing rendered yet: still describe the camera
        shared = cameras.intrinsics_from_blender(scene.camera.data, scene.render).as_dict()
    doc = layout.transforms_document(shared, records, exr)
    layout.write_json(os.path.join(out_dir, "transforms.json"), doc)

    # segmentation.json: boxes as the union over finished frames, per-frame boxes where they move
    objects = {}
    used_classes = {0: "background"}
    for name, i in sorted(params["ids"].items(), key=lambda kv: kv[1]):
        cls = params["classes"][name]
        static = manifest["static_boxes"].get(name)
        per_frame = {layout.frame_name(r["frame"]): r["boxes"].get(name, static) for r in records}
        per_frame = {k: b for k, b in per_frame.items() if b is not None}
        entry = {"name": name, "class": cls, "semantic_id": table[cls]}
        if per_frame:
            lo = np.min([b[0] for b in per_frame.values()], axis=0)
            hi = np.max([b[1] for b in per_frame.values()], axis=0)
            entry.update(aabb_min=lo.tolist(), aabb_max=hi.tolist(), corners=seg.box_corners(lo, hi))
            first = next(iter(per_frame.values()))
            moving = any(not np.allclose(b, first, atol=1e-6) for b in per_frame.values())
            entry["moving"] = moving
            if moving:
                entry["frames"] = {k: {"aabb_min": b[0], "aabb_max": b[1]} for k, b in per_frame.items()}
        objects[str(i)] = entry
        used_classes[table[cls]] = cls
    layout.write_json(os.path.join(out_dir, "segmentation.json"), {
        "background_id": 0,
        "instance_ids": "pixel value of segmentation/*_instance.png -> objects[id]",
        "classes": {str(k): v for k, v in sorted(used_classes.items())},
        "objects": objects,
    })

    # point cloud from a few evenly spaced finished frames
    pts, cols, nrms = [], [], []
    if records:
        picks = np.unique(np.linspace(0, len(records) - 1, min(cloud_frames, len(records))).round().astype(int))
        for k in picks:
            r = records[k]
            files = layout.frame_files(r["frame"], exr)
            depth = np.load(os.path.join(out_dir, files["depth_file_path"]))
            n_cam = np.load(os.path.join(out_dir, files["normals_file_path"]))
            rgb = _load_png_rgb(os.path.join(out_dir, files["file_path"]))
            i = r["intrinsics"]
            K = np.array([[i["fl_x"], 0, i["cx"]], [0, i["fl_y"], i["cy"]], [0, 0, 1]])
            c2w = np.array(r["c2w"])
            valid = np.isfinite(depth)
            pts.append(cameras.unproject_depth(np.where(valid, depth, 0), K, c2w)[valid])
            cols.append(rgb[valid])
            nrms.append(n_cam[valid] @ cameras.c2w_opencv(c2w)[:3, :3].T)
    if pts:
        p, c, n = np.concatenate(pts), np.concatenate(cols), np.concatenate(nrms)
        p, c, n = pointcloud.voxel_downsample(p, c, n, pointcloud.choose_voxel(p, max_points))
    else:
        p, c, n = np.zeros((0, 3)), np.zeros((0, 3), np.uint8), np.zeros((0, 3))
    pointcloud.write_ply(os.path.join(out_dir, "points3d.ply"), p, c, n)

    intr = cameras.Intrinsics(**{k: shared[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")})
    images = [(os.path.basename(layout.frame_files(r["frame"])["file_path"]), np.array(r["c2w"])) for r in records]
    colmap.write_colmap_text(os.path.join(out_dir, "cameras", "colmap"), intr, images, p, c)
    return len(p)


def _write_scene_json(out_dir, scene, params, backend, manifest, timings, n_done, n_points) -> None:
    doc = _scene_info(scene)
    render = {k: v for k, v in params.items() if k not in ("ids", "classes")}
    render.update({
        "device": backend,
        "blender_version": bpy.app.version_string,
        "frames_done": n_done,
        "complete": manifest["complete"],
        "points": n_points,
        "gt_render": {"samples": 1, "pixel_filter": "BOX", "filter_width_px": 0.01, "denoise": False},
        "timings_s": timings,
    })
    doc["render"] = render
    doc.setdefault("blender_version", bpy.app.version_string)
    layout.write_json(os.path.join(out_dir, "scene.json"), doc)
