"""One frame of a dataset: the RGB render, the ground-truth render and every file of the
frame (ground truth and previews), plus its manifest record."""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

import numpy as np

from ..core.atomic import atomic_path
from . import camera_poses, layout, passes, preview
from . import segmentation as seg
from .exr import read_passes
from .flow import flow_from_vector, rotation_flow
from .normals import world_to_camera_normals
from .occlusion import occlusion_boundaries
from .png import write_png
from .scene_flow import scene_flow
from .track_anchors import surface_motions

NO_SURFACE_DEPTH = 1e9  # Cycles writes 1e10 where a ray hits nothing
GT_PASSES = {"Depth", "Vector", "Normal", "IndexOB"}


@dataclass
class FrameJob:
    """What every frame of one dataset render shares."""
    scene: object
    view_layer: object
    settings: passes.Settings
    out_dir: str
    tmp_dir: str
    samples: int
    denoise: bool
    exr: bool
    quiet: bool
    lut: np.ndarray            # [max_id + 1] instance id -> semantic id
    static_boxes: dict         # name -> [lo, hi] at the first frame
    passes: tuple = layout.DEFAULT_PASSES
    track: dict | None = None  # frame -> CameraSample, frames first - 1 .. last + 1 (see dataset.sample_track)


@dataclass
class GroundTruth:
    depth: np.ndarray          # [H, W] float32, inf where no surface
    flow_fwd: np.ndarray       # [H, W, 2]
    flow_bwd: np.ndarray       # [H, W, 2]
    normals: np.ndarray        # [H, W, 3] camera space (OpenCV axes)
    instance: np.ndarray       # [H, W] uint16
    semantic: np.ndarray       # [H, W] uint16
    boundaries: np.ndarray | None = None  # [H, W] uint8 (occlusion.occlusion_boundaries)
    scene_flow_fwd: np.ndarray | None = None  # [H, W, 3] float32 world motion to t+1 (scene_flow.scene_flow)
    scene_flow_bwd: np.ndarray | None = None  # [H, W, 3] float32 world motion to t-1
    albedo: np.ndarray | None = None    # [H, W, 3] float32 linear diffuse colour, 0 where no surface
    material: np.ndarray | None = None  # [H, W] uint16 material id, 0 where no surface


def render_frame(job: FrameJob, frame: int) -> dict:
    """Render one frame (RGB, then ground truth) and write all its files; returns its manifest record."""
    job.scene.frame_set(frame)
    cam = job.scene.camera
    intr = camera_poses.intrinsics_from_blender(cam.data, job.scene.render)
    c2w = camera_poses.c2w_opengl(cam.matrix_world)
    t0 = time.perf_counter()
    _render_rgb(job, frame)
    t1 = time.perf_counter()
    gt_path = _render_gt(job)
    t2 = time.perf_counter()
    p = read_passes(gt_path, job.view_layer.name)
    gt = ground_truth(p, c2w, job.lut, gt_path)
    if "albedo" in job.passes or "material" in job.passes:
        add_appearance(gt, p, job.passes, gt_path)
    if "sky_flow" in job.passes:
        add_sky_flow(gt, job.track, frame)
    if "boundaries" in job.passes:
        gt.boundaries = occlusion_boundaries(gt.depth, gt.instance)
    if "scene_flow" in job.passes:
        add_scene_flow(gt, job.track, frame)
    _write_ground_truth(job.out_dir, layout.frame_files(frame, job.exr, job.passes, finished=False), gt)
    _write_previews(job.out_dir, layout.preview_files(frame, job.passes, finished=False), gt)
    t3 = time.perf_counter()
    return {
        "c2w": c2w.tolist(),
        "intrinsics": intr.as_dict(),
        "boxes": _moved_boxes(job.view_layer, job.static_boxes),
        "timings_s": {"render_rgb": t1 - t0, "render_gt": t2 - t1, "write_gt": t3 - t2},
    }


def _copy_atomic(src: str, dst: str) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _render_rgb(job: FrameJob, frame: int) -> None:
    """The beauty render: images/NNNNN.png (and the linear EXR when asked)."""
    files = layout.frame_files(frame, job.exr)
    passes.configure_rgb(job.scene, job.view_layer, job.settings, job.samples, job.denoise)
    rgb_tmp = os.path.join(job.tmp_dir, "rgb.png")
    passes.render_still(job.scene, job.view_layer, rgb_tmp, job.quiet)
    if job.exr:
        exr_tmp = os.path.join(job.tmp_dir, "rgb.exr")
        passes.save_linear_exr(job.scene, job.settings, exr_tmp)
        _copy_atomic(exr_tmp, os.path.join(job.out_dir, files["exr_file_path"]))
    _copy_atomic(rgb_tmp, os.path.join(job.out_dir, files["file_path"]))


def _render_gt(job: FrameJob) -> str:
    """The ground-truth render (one sample, box filter); returns the path of its multilayer EXR."""
    passes.configure_gt(job.scene, job.view_layer, job.settings, albedo="albedo" in job.passes)
    gt_tmp = os.path.join(job.tmp_dir, "gt.exr")
    passes.render_still(job.scene, job.view_layer, gt_tmp, job.quiet)
    return gt_tmp


def ground_truth(p: dict, c2w: np.ndarray, lut: np.ndarray, source: str) -> GroundTruth:
    """Depth, flow, normals and ids of one frame from its render passes ``p`` (name -> array)."""
    missing = GT_PASSES - set(p)
    if missing:
        raise RuntimeError(f"{source}: render lacks passes {sorted(missing)}")
    depth = p["Depth"].astype(np.float32)
    depth[depth > NO_SURFACE_DEPTH] = np.inf
    valid = np.isfinite(depth)
    fwd, bwd = flow_from_vector(p["Vector"])
    fwd[~valid] = 0  # what Blender's vector pass holds without a surface differs between versions;
    bwd[~valid] = 0  # 0 there, unless the sky_flow pass gives those pixels their true flow
    nrm = world_to_camera_normals(p["Normal"], c2w, valid)
    inst = seg.id_image(p["IndexOB"])
    inst[~valid] = 0
    sem = lut[np.minimum(inst, len(lut) - 1)]
    sem[inst >= len(lut)] = 0
    return GroundTruth(depth, fwd, bwd, nrm, inst, sem)


def add_appearance(gt: GroundTruth, p: dict, wanted, source: str) -> None:
    """The albedo (Cycles' diffuse colour, linear) and material ids of the render passes ``p``,
    0 where no surface."""
    valid = np.isfinite(gt.depth)
    if "albedo" in wanted:
        if "DiffCol" not in p:
            raise RuntimeError(f"{source}: render lacks the diffuse colour pass")
        gt.albedo = np.ascontiguousarray(p["DiffCol"][:, :, :3], dtype=np.float32)
        gt.albedo[~valid] = 0
    if "material" in wanted:
        if "IndexMA" not in p:
            raise RuntimeError(f"{source}: render lacks the material index pass")
        gt.material = seg.id_image(p["IndexMA"])
        gt.material[~valid] = 0


def add_sky_flow(gt: GroundTruth, track: dict, frame: int) -> None:
    """Give the pixels without a surface the flow of their viewing direction (``flow.rotation_flow``)
    towards the cameras of frames t+1 and t-1 (``track``: frame -> sample with ``K`` and ``c2w``)."""
    sky = ~np.isfinite(gt.depth)
    if not sky.any():
        return
    here = track[frame]
    for flow, other in ((gt.flow_fwd, track[frame + 1]), (gt.flow_bwd, track[frame - 1])):
        flow[sky] = rotation_flow(gt.depth.shape, here.K, here.c2w, other.K, other.c2w)[sky]


def add_scene_flow(gt: GroundTruth, track: dict, frame: int) -> None:
    """The world motion of each pixel's surface point towards frames t+1 and t-1 (``scene_flow``),
    from the moving objects' matrices and the deforming meshes' vertices in ``track`` (frame ->
    ``CameraSample``; ``track_anchors.surface_motions``)."""
    here = track[frame]
    moves = surface_motions(track, frame, gt.depth, gt.instance, (frame + 1, frame - 1))
    gt.scene_flow_fwd, gt.scene_flow_bwd = (
        scene_flow(gt.depth, gt.instance, here.K, here.c2w, *moves[s]) for s in (frame + 1, frame - 1))


def _write_ground_truth(out_dir: str, files: dict, gt: GroundTruth) -> None:
    path = lambda key: os.path.join(out_dir, files[key])  # noqa: E731
    layout.save_npy(path("depth_file_path"), gt.depth)
    layout.save_npy(path("flow_fwd_file_path"), gt.flow_fwd)
    layout.save_npy(path("flow_bwd_file_path"), gt.flow_bwd)
    layout.save_npy(path("normals_file_path"), gt.normals)
    write_png(path("instance_file_path"), gt.instance)
    write_png(path("semantic_file_path"), gt.semantic)
    if "boundaries_file_path" in files:
        write_png(path("boundaries_file_path"), gt.boundaries)
    if "scene_flow_fwd_file_path" in files:
        layout.save_npy(path("scene_flow_fwd_file_path"), gt.scene_flow_fwd)
        layout.save_npy(path("scene_flow_bwd_file_path"), gt.scene_flow_bwd)
    if "albedo_file_path" in files:
        layout.save_npy(path("albedo_file_path"), gt.albedo)
    if "material_file_path" in files:
        write_png(path("material_file_path"), gt.material)


def _write_previews(out_dir: str, files: dict, gt: GroundTruth) -> None:
    """8-bit pictures of each ground-truth kind, for people."""
    out = lambda key: os.path.join(out_dir, files[key])  # noqa: E731
    write_png(out("depth"), preview.depth_image(gt.depth), 3)
    write_png(out("flow_fwd"), preview.flow_image(gt.flow_fwd), 3)
    write_png(out("flow_bwd"), preview.flow_image(gt.flow_bwd), 3)
    write_png(out("normals"), preview.normals_image(gt.normals), 3)
    write_png(out("instance"), preview.id_palette(gt.instance), 3)
    write_png(out("semantic"), preview.id_palette(gt.semantic), 3)
    if "boundaries" in files:
        write_png(out("boundaries"), preview.boundaries_image(gt.boundaries), 3)
    if "scene_flow_fwd" in files:
        write_png(out("scene_flow_fwd"), preview.scene_flow_image(gt.scene_flow_fwd), 3)
        write_png(out("scene_flow_bwd"), preview.scene_flow_image(gt.scene_flow_bwd), 3)
    if "albedo" in files:
        write_png(out("albedo"), preview.albedo_image(gt.albedo), 3)
    if "material" in files:
        write_png(out("material"), preview.id_palette(gt.material), 3)


def _moved_boxes(view_layer, static_boxes: dict) -> dict:
    """Boxes [lo, hi] at the current frame of the objects whose box differs from the first frame's."""
    moved = {}
    for name, (_, lo, hi, _) in seg.rendered_boxes(view_layer.depsgraph, view_layer).items():
        box = [lo.tolist(), hi.tolist()]
        if name not in static_boxes or not np.allclose(box, static_boxes[name], atol=1e-6):
            moved[name] = box
    return moved
