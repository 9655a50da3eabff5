"""Render the ground-truth dataset of a Blender scene with an animated camera (see docs/dataset-format.md).

Stages: set-up (ids, settings, resume or refuse), the frames (``frame.render_frame``: RGB,
ground truth, previews), then the files of all finished frames (``finalize``).
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

import bpy
import numpy as np

from ..core import interrupt, staged_output
from ..core.child_process import private_temp_dir
from . import camera_poses, layout, passes
from . import segmentation as seg
from .camera_motion import CameraSample
from .finalize import write_dataset_files, write_scene_json
from .frame import FrameJob, render_frame
from .instance_anchors import InstancedCopies
from .track_anchors import DeformingMeshes
from .tracks import DEFAULT_POINTS

DEFAULT_SAMPLES = 64


@dataclass
class _Job:
    """What set-up decides for one call of ``render_dataset``."""
    scene: object
    view_layer: object
    out_dir: str
    frames: list[int]
    samples: int
    params: dict               # the settings a resumed render must share (ids and classes included)
    table: dict[str, int]      # class name -> semantic id
    lut: np.ndarray            # [max_id + 1] instance id -> semantic id
    manifest: dict
    original_frame: int
    passes: tuple = layout.DEFAULT_PASSES
    track: dict | None = None  # frame -> CameraSample for frames first - 1 .. last + 1
    track_points: int = 0      # tracks of the tracks pass


@dataclass
class _Run:
    """How the frame loop ended."""
    backend: str = "CPU"
    rendered_now: int = 0
    cancelled: bool = False
    interrupted: bool = False
    failure: BaseException | None = None


def _frame_list(scene, frames) -> list[int]:
    a, b = (scene.frame_start, scene.frame_end) if frames is None else (int(frames[0]), int(frames[1]))
    if b < a:
        raise ValueError(f"frame range {a}..{b} is empty")
    return list(range(a, b + 1))


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
    files = layout.frame_files(frame, exr, manifest["params"].get("passes", ()), finished=False)
    return all(os.path.exists(os.path.join(out_dir, p)) for p in files.values())


def sample_track(scene, frames: list[int], movers: dict[int, object], view_layer=None,
                 drawn: dict[int, object] | None = None,
                 carriers: dict[int, object] | None = None) -> dict[int, CameraSample]:
    """The camera (pose and intrinsics) and the world matrices of ``movers`` (instance id -> the
    object that moves it) at every frame from one before the range to one after (Blender
    evaluates the animation there too): what sky flow, occlusion and the IMU need of the
    neighbouring frames. ``drawn`` (instance id -> object drawn directly, not through instances)
    adds the vertices of those whose meshes deform (``track_anchors.DeformingMeshes``, evaluated
    in ``view_layer``), for scene flow and occlusion; ``carriers`` (the same, for the objects whose
    geometry-node copies may move or deform) adds those copies (``instance_anchors.InstancedCopies``),
    for scene flow, occlusion and the point tracks."""
    track = {}
    meshes, copies = DeformingMeshes(drawn or {}), InstancedCopies(carriers or {})
    for f in range(frames[0] - 1, frames[-1] + 2):
        scene.frame_set(f)
        cam = scene.camera
        track[f] = CameraSample(camera_poses.c2w_opengl(cam.matrix_world),
                                camera_poses.intrinsics_from_blender(cam.data, scene.render).K,
                                {i: np.array(ob.matrix_world, dtype=np.float64) for i, ob in movers.items()})
        if meshes.objects:
            meshes.sample(f, view_layer.depsgraph)
        if copies.ids:
            copies.sample(f, view_layer.depsgraph)
    for f, sample in track.items():
        sample.meshes, sample.copies = meshes.of_frame(f), copies.of_frame(f)
    return track


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
    passes=layout.DEFAULT_PASSES,
    track_points: int = DEFAULT_POINTS,
) -> dict:
    """Render every frame of ``scene`` (default: the context scene) from its camera into ``out_dir``.

    Writes the GUIDE dataset layout. Resumes an unfinished dataset rendered with the same
    settings; refuses to touch a complete one (``render_dataset`` of the package replaces one
    with ``overwrite``). ``restart_stage`` is for that staging folder only. ``should_cancel()`` is asked
    before each frame; cancelling (or Ctrl-C) keeps the finished frames and writes a dataset of
    them (KeyboardInterrupt is re-raised afterwards). ``passes``: the optional ground truth
    (``layout.PASSES``; all by default); ``track_points``: how many point tracks the tracks pass
    draws. Returns a summary dict.
    """
    t_start = time.perf_counter()
    passes = tuple(p for p in layout.PASSES if p in set(passes))
    if int(track_points) < 1:
        raise ValueError(f"track_points must be at least 1, got {track_points}")
    job = _set_up(out_dir, scene or bpy.context.scene, samples, frames, exr, denoise, restart_stage, passes,
                  int(track_points))
    run = _render_frames(job, device, denoise, exr, quiet, progress, should_cancel)
    summary = _finish(job, run, exr, max_points, cloud_frames, t_start)
    if run.failure is not None:
        raise run.failure
    if run.interrupted:
        raise KeyboardInterrupt
    return summary


def _set_up(out_dir, scene, samples, frames, exr: bool, denoise: bool, restart_stage: bool, passes: tuple,
            track_points: int) -> _Job:
    """Check the request, give every rendering object its ids, and resume, start or refuse."""
    if scene.camera is None:
        raise ValueError(f"scene '{scene.name}' has no camera; set scene.camera to an animated camera")
    out_dir = os.path.abspath(os.fspath(out_dir))
    frame_list = _frame_list(scene, frames)
    view_layer = bpy.context.view_layer if bpy.context.view_layer in scene.view_layers[:] else scene.view_layers[0]
    if samples is None:
        samples = scene.cycles.samples if scene.render.engine == "CYCLES" else DEFAULT_SAMPLES
    if int(samples) < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    camera_poses.intrinsics_from_blender(scene.camera.data, scene.render)  # fail early on unsupported cameras
    original_frame = scene.frame_current

    scene.frame_set(frame_list[0])
    boxes = seg.rendered_boxes(view_layer.depsgraph, view_layer)
    ids = seg.assign_ids(boxes)
    classes = {name: seg.object_class(obj, instancer) for name, (obj, _, _, instancer) in boxes.items()}
    table = seg.class_table(classes.values())
    w, h = camera_poses.render_size(scene.render)
    params = {"scene": scene.name, "camera": scene.camera.name, "view_layer": view_layer.name,
              "resolution": [w, h], "samples": int(samples), "denoise": bool(denoise),
              "frames": [frame_list[0], frame_list[-1]], "exr": bool(exr), "passes": list(passes),
              "ids": ids, "classes": classes}
    if "material" in passes:  # material ids (pass_index) 1..N over the used materials in sorted order
        objects = [obj for obj, _, _, _ in boxes.values()]
        params["materials"] = seg.assign_material_ids(seg.material_names(objects, view_layer.depsgraph))
    if "tracks" in passes:
        params["track_points"] = track_points

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
    track = None
    if {"sky_flow", "occlusion", "camera_motion", "scene_flow", "tracks"} & set(passes):
        movers = {ids[name]: instancer or obj for name, (obj, _, _, instancer) in boxes.items()} \
            if {"occlusion", "scene_flow", "tracks"} & set(passes) else {}
        direct = {ids[name]: obj for name, (obj, _, _, instancer) in boxes.items() if instancer is None}
        drawn = direct if {"occlusion", "scene_flow"} & set(passes) else {}
        carriers = direct if {"occlusion", "scene_flow", "tracks"} & set(passes) else {}
        track = sample_track(scene, frame_list, movers, view_layer, drawn, carriers)
        scene.frame_set(original_frame)
    return _Job(scene, view_layer, out_dir, frame_list, samples, params, table,
                seg.semantic_lut(ids, classes, table), manifest, original_frame, passes, track, track_points)


def _render_frames(job: _Job, device: str, denoise: bool, exr: bool, quiet: bool, progress, should_cancel) -> _Run:
    """Render the frames not done yet, saving the manifest after each; Blender's settings are
    restored and the scratch folder removed however the loop ends."""
    scene, manifest = job.scene, job.manifest
    total = len(job.frames)
    done = sum(_frame_done(job.out_dir, manifest, f, exr) for f in job.frames)
    if progress:
        progress(done, total, f"{done}/{total} frames already rendered" if done else "starting")
    settings = passes.Settings()
    tmp_dir = private_temp_dir(job.out_dir, "render")  # removed below; by the next run if this one is killed
    run = _Run()
    try:
        settings.set(scene.render, "filepath", scene.render.filepath)
        run.backend = passes.choose_device(scene, settings, device)
        passes.configure_common(scene, job.view_layer, settings)
        _set_pass_indices(settings, job.params["ids"])
        _set_material_indices(settings, job.params.get("materials", {}))
        frame_job = FrameJob(scene, job.view_layer, settings, job.out_dir, tmp_dir, job.samples, denoise, exr, quiet,
                             job.lut, manifest["static_boxes"], job.passes, job.track)
        for frame in job.frames:
            if _frame_done(job.out_dir, manifest, frame, exr):
                continue
            if interrupt.received():  # a Ctrl-C or SIGTERM that Blender swallowed inside the last render
                raise KeyboardInterrupt
            if should_cancel is not None and should_cancel():
                run.cancelled = True
                break
            manifest["frames"][str(frame)] = render_frame(frame_job, frame)
            layout.write_json(os.path.join(job.out_dir, layout.MANIFEST), manifest, indent=None)
            done += 1
            run.rendered_now += 1
            if progress:
                progress(done, total, f"frame {frame}")
    except KeyboardInterrupt:
        run.interrupted = True
    except BaseException as exc:  # a failed frame: still leave a consistent dataset of the finished ones
        if interrupt.received():  # C code can turn the signal's KeyboardInterrupt into another error
            run.interrupted = True
        else:
            run.failure = exc
    finally:
        settings.restore()
        shutil.rmtree(tmp_dir, ignore_errors=True)
        scene.frame_set(job.original_frame)
    return run


def _set_pass_indices(settings: passes.Settings, ids: dict[str, int]) -> None:
    """Cycles' object-index pass holds the instance id (0 for objects that do not render)."""
    for ob in bpy.data.objects:
        try:
            settings.set(ob, "pass_index", ids.get(ob.name, 0))
        except (AttributeError, TypeError):
            pass  # linked, read-only data: keeps its own index


def _set_material_indices(settings: passes.Settings, ids: dict[str, int]) -> None:
    """Cycles' material-index pass holds the material id (0 for materials not in ``ids``)."""
    if not ids:
        return
    for mat in bpy.data.materials:
        try:
            settings.set(mat, "pass_index", ids.get(mat.name, 0))
        except (AttributeError, TypeError):
            pass  # linked, read-only data: keeps its own index


def _finish(job: _Job, run: _Run, exr: bool, max_points: int, cloud_frames: int, t_start: float) -> dict:
    """Write the dataset of the finished frames (all of them when complete) and the manifest; the summary."""
    t0 = time.perf_counter()
    manifest = job.manifest
    done_frames = [f for f in job.frames if _frame_done(job.out_dir, manifest, f, exr)]
    manifest["complete"] = len(done_frames) == len(job.frames)
    n_points = 0
    timings = {k: float(sum(manifest["frames"][str(f)]["timings_s"][k] for f in done_frames))
               for k in ("render_rgb", "render_gt", "write_gt")}
    if done_frames:
        n_points = write_dataset_files(job.out_dir, job.scene, manifest, done_frames, job.table, exr, max_points,
                                       cloud_frames, job.passes, job.track, job.view_layer, job.track_points)
        timings["finalize"] = time.perf_counter() - t0
        timings["this_run_total"] = time.perf_counter() - t_start
        write_scene_json(job.out_dir, job.scene, job.params, run.backend, manifest, timings, len(done_frames),
                         n_points)
    else:
        timings["finalize"] = 0.0
        timings["this_run_total"] = time.perf_counter() - t_start
    layout.write_json(os.path.join(job.out_dir, layout.MANIFEST), manifest, indent=None)
    return {
        "out_dir": job.out_dir, "frames_total": len(job.frames), "frames_done": len(done_frames),
        "frames_rendered_now": run.rendered_now, "complete": manifest["complete"], "cancelled": run.cancelled,
        "points": n_points, "device": run.backend, "timings_s": timings,
    }
