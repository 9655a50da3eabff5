"""The dataset files that cover all finished frames: transforms.json, segmentation.json,
points3d.ply, the COLMAP text model and scene.json."""
from __future__ import annotations

import json
import os

import bpy
import numpy as np

from . import camera_motion, camera_poses, colmap, initial_points, layout, preview
from . import segmentation as seg
from .occlusion import occlusion_mask
from .png import read_png, write_png
from .scene_flow import surface_points
from .track_anchors import Anchors, anchor_queries, positions, surface_motions
from .tracks import PointTracks, points_per_query, query_frame_indices, sample_query_pixels, save_tracks

TRAIL = 5  # frames of trail behind each track in its preview pictures


def write_dataset_files(out_dir: str, scene, manifest: dict, done_frames: list[int], table: dict[str, int],
                        exr: bool, max_points: int, cloud_frames: int, passes=layout.DEFAULT_PASSES,
                        track: dict | None = None, view_layer=None, track_points: int = 0) -> int:
    """Write the files that cover ``done_frames``; returns the number of points in points3d.ply.

    ``track`` (``dataset.sample_track``) is needed by the occlusion, camera_motion and tracks passes;
    the tracks pass draws ``track_points`` tracks and evaluates the scene's ``view_layer``."""
    records = [dict(manifest["frames"][str(f)], frame=f) for f in done_frames]
    if records:
        shared = records[0]["intrinsics"]
    else:  # nothing rendered yet: still describe the camera
        shared = camera_poses.intrinsics_from_blender(scene.camera.data, scene.render).as_dict()
    if "occlusion" in passes:
        write_occlusion(out_dir, done_frames, track, "scene_flow" in passes)
    if "camera_motion" in passes:
        write_camera_motion(out_dir, scene, done_frames, track)
    if "tracks" in passes:
        names = {i: name for name, i in manifest["params"]["ids"].items()}
        write_tracks(out_dir, scene, view_layer or bpy.context.view_layer, records, track, track_points, names)
    layout.write_json(os.path.join(out_dir, "transforms.json"),
                      layout.transforms_document(shared, records, exr, passes))
    layout.write_json(os.path.join(out_dir, "segmentation.json"), segmentation_document(manifest, records, table))
    p, c, n = point_cloud(out_dir, records, exr, max_points, cloud_frames)
    initial_points.write_ply(os.path.join(out_dir, "points3d.ply"), p, c, n)
    intr = camera_poses.Intrinsics(**{k: shared[k] for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")})
    images = [(os.path.basename(layout.frame_files(r["frame"])["file_path"]), np.array(r["c2w"])) for r in records]
    colmap.write_colmap_text(os.path.join(out_dir, "cameras", "colmap"), intr, images, p, c)
    return len(p)


def write_occlusion(out_dir: str, done_frames: list[int], track: dict, scene_flow: bool = False) -> None:
    """The occlusion masks (and their pictures) of every finished frame towards t+1 and t-1; a
    neighbour that is not finished gives UNKNOWN (written again when it is). The surface points
    move as the 3D scene flow moves them: read from its files with ``scene_flow``, else computed."""
    done = set(done_frames)
    cache: dict[int, dict] = {}

    def frame_data(f: int) -> dict:
        if f not in cache:
            files = layout.frame_files(f)
            cache[f] = {k: np.load(os.path.join(out_dir, files[k])) for k in
                        ("depth_file_path", "flow_fwd_file_path", "flow_bwd_file_path")}
            cache[f]["instance"] = read_png(os.path.join(out_dir, files["instance_file_path"]))
            for old in [k for k in cache if k < f - 1]:
                del cache[old]
        return cache[f]

    for f in done_frames:
        files, pictures = layout.frame_files(f), layout.preview_files(f)
        here = frame_data(f)
        targets = tuple(s for s in (f + 1, f - 1) if s in done)
        moves = _flow_moves(out_dir, f, here["depth_file_path"], track[f], targets) if scene_flow else \
            surface_motions(track, f, here["depth_file_path"], here["instance"], targets)
        for direction, s in (("fwd", f + 1), ("bwd", f - 1)):
            depth_s = frame_data(s)["depth_file_path"] if s in done else None
            mask = occlusion_mask(here["depth_file_path"], here[f"flow_{direction}_file_path"], here["instance"],
                                  track[f].K, track[f].c2w, depth_s, track[s].K, track[s].c2w,
                                  *moves.get(s, (None, None)))
            write_png(os.path.join(out_dir, files[f"occlusion_{direction}_file_path"]), mask)
            write_png(os.path.join(out_dir, pictures[f"occlusion_{direction}"]), preview.occlusion_image(mask), 3)


def _flow_moves(out_dir: str, f: int, depth: np.ndarray, sample, targets: tuple[int, ...]) -> dict:
    """Frame s -> (no motions, every surface pixel's point moved by frame f's 3D scene flow file
    towards s): ``moved_surface_points``'s arguments without anchoring the points again."""
    points, surface = surface_points(depth, sample.K, sample.c2w)
    pixel = np.flatnonzero(surface)
    files = layout.frame_files(f)
    out = {}
    for s in targets:
        flow = np.load(os.path.join(out_dir, files[f"scene_flow_{'fwd' if s > f else 'bwd'}_file_path"]))
        out[s] = (None, (pixel, points.reshape(-1, 3)[pixel] + flow.reshape(-1, 3)[pixel]))
    return out


def _record_K(record: dict) -> np.ndarray:
    i = record["intrinsics"]
    return np.array([[i["fl_x"], 0, i["cx"]], [0, i["fl_y"], i["cy"]], [0, 0, 1]], np.float64)


def _query_points(out_dir: str, records: list[dict], n_points: int) -> tuple[np.ndarray, Anchors, list]:
    """(query points [N, 3] (t, y, x), their anchors before anchoring, [(record index, track indices)])."""
    queries, ids, points, frames, groups = [], [], [], [], []
    chosen = query_frame_indices(len(records))
    for j, count in zip(chosen, points_per_query(n_points, len(chosen))):
        r = records[j]
        files = layout.frame_files(r["frame"])
        depth = np.load(os.path.join(out_dir, files["depth_file_path"]))
        rows, cols = sample_query_pixels(depth, count, r["frame"])
        start = sum(len(q) for q in queries)
        groups.append((j, np.arange(start, start + len(rows))))
        queries.append(np.stack([np.full(len(rows), j), rows + 0.5, cols + 0.5], -1))
        ids.append(read_png(os.path.join(out_dir, files["instance_file_path"]))[rows, cols])
        surface = np.where(np.isfinite(depth), depth, 1.0)  # the picks all have a surface
        points.append(camera_poses.unproject_depth(surface, _record_K(r), np.array(r["c2w"]))[rows, cols])
        frames.append(np.full(len(rows), r["frame"]))
    cat = lambda parts, shape: np.concatenate(parts) if parts else np.zeros(shape)  # noqa: E731
    anchors = Anchors(cat(frames, 0).astype(int), cat(ids, 0).astype(int), cat(points, (0, 3)), {})
    return cat(queries, (0, 3)), anchors, groups


def write_tracks(out_dir: str, scene, view_layer, records: list[dict], track: dict, n_points: int,
                 names: dict[int, str]) -> None:
    """tracks.npz over the finished frames ``records`` and its pictures (tracks.py, track_anchors.py),
    reading one frame's depth at a time; the scene's current frame is put back afterwards."""
    original = scene.frame_current
    try:
        queries, anchors, groups = _query_points(out_dir, records, n_points)
        for j, picks in groups:
            scene.frame_set(records[j]["frame"])
            origin = np.array(records[j]["c2w"])[:3, 3]
            anchor_queries(anchors, picks, view_layer, names, origin, track[records[j]["frame"]].copies)
        tracks = PointTracks.empty(queries, anchors.instance, [r["frame"] for r in records])
        h, w = records[0]["intrinsics"]["h"], records[0]["intrinsics"]["w"]
        colours = preview.track_colours(queries, w, h)
        for j, r in enumerate(records):
            scene.frame_set(r["frame"])
            files, pictures = layout.frame_files(r["frame"]), layout.preview_files(r["frame"])
            depth = np.load(os.path.join(out_dir, files["depth_file_path"]))
            tracks.set_frame(j, positions(anchors, view_layer, track, r["frame"]), _record_K(r),
                             np.array(r["c2w"]), depth)
            lo = max(0, j - TRAIL)
            picture = preview.tracks_image(load_png_rgb(os.path.join(out_dir, files["file_path"])),
                                           tracks.target_points[:, lo:j + 1], ~tracks.occluded[:, lo:j + 1],
                                           ~tracks.out_of_view[:, j], colours)
            write_png(os.path.join(out_dir, pictures["tracks"]), picture, 3)
        save_tracks(os.path.join(out_dir, layout.TRACKS_FILE), tracks)
    finally:
        scene.frame_set(original)


def write_camera_motion(out_dir: str, scene, done_frames: list[int], track: dict) -> None:
    """cameras/trajectory_tum.txt and cameras/imu.txt of the finished frames (camera_motion.py)."""
    fps = scene.render.fps / scene.render.fps_base
    times = [f / fps for f in done_frames]
    gravity = tuple(scene.gravity)
    camera_motion.write_trajectory(os.path.join(out_dir, layout.TRAJECTORY_FILE), times,
                                   [track[f].c2w for f in done_frames])
    readings = [camera_motion.imu_reading(track[f - 1].c2w, track[f].c2w, track[f + 1].c2w, 1.0 / fps, gravity)
                for f in done_frames]
    camera_motion.write_imu(os.path.join(out_dir, layout.IMU_FILE), times, readings)


def segmentation_document(manifest: dict, records: list[dict], table: dict[str, int]) -> dict:
    """segmentation.json: boxes as the union over finished frames, per-frame boxes where they move."""
    params = manifest["params"]
    objects = {}
    used_classes = {0: "background"}
    for name, i in sorted(params["ids"].items(), key=lambda kv: kv[1]):
        cls = params["classes"][name]
        static = manifest["static_boxes"].get(name)
        per_frame = {layout.frame_name(r["frame"]): r["boxes"].get(name, static) for r in records}
        per_frame = {k: b for k, b in per_frame.items() if b is not None}
        entry = {"name": name, "class": cls, "semantic_id": table[cls]}
        if per_frame:
            entry.update(_box_entry(per_frame))
        objects[str(i)] = entry
        used_classes[table[cls]] = cls
    doc = {
        "background_id": 0,
        "instance_ids": "pixel value of segmentation/*_instance.png -> objects[id]",
        "classes": {str(k): v for k, v in sorted(used_classes.items())},
        "objects": objects,
    }
    if "materials" in params:  # the material pass: pixel value of segmentation/*_material.png -> name
        doc["material_ids"] = "pixel value of segmentation/*_material.png -> materials[id]; 0 = no surface"
        doc["materials"] = {str(i): name for name, i in sorted(params["materials"].items(), key=lambda kv: kv[1])}
    return doc


def _box_entry(per_frame: dict) -> dict:
    """The union box of an object over frames (frame name -> [lo, hi]), and the frames' own when it moves."""
    lo = np.min([b[0] for b in per_frame.values()], axis=0)
    hi = np.max([b[1] for b in per_frame.values()], axis=0)
    entry = {"aabb_min": lo.tolist(), "aabb_max": hi.tolist(), "corners": seg.box_corners(lo, hi)}
    first = next(iter(per_frame.values()))
    entry["moving"] = any(not np.allclose(b, first, atol=1e-6) for b in per_frame.values())
    if entry["moving"]:
        entry["frames"] = {k: {"aabb_min": b[0], "aabb_max": b[1]} for k, b in per_frame.items()}
    return entry


def point_cloud(out_dir: str, records: list[dict], exr: bool, max_points: int,
                cloud_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points [N, 3], colours [N, 3] uint8 and normals [N, 3] unprojected from a few evenly
    spaced finished frames, thinned on a voxel grid to at most about ``max_points`` (voxels
    that grow with the distance beyond three times the median viewing distance)."""
    if not records:
        return np.zeros((0, 3)), np.zeros((0, 3), np.uint8), np.zeros((0, 3))
    picks = np.unique(np.linspace(0, len(records) - 1, min(cloud_frames, len(records))).round().astype(int))
    pts, cols, nrms = zip(*(_frame_points(out_dir, records[k], exr) for k in picks))
    p, c, n = np.concatenate(pts), np.concatenate(cols), np.concatenate(nrms)
    if not len(p):
        return initial_points.voxel_downsample(p, c, n, 1.0)
    # Voxels grow with the distance beyond a few times the usual viewing distance.
    centre = np.mean([np.array(r["c2w"])[:3, 3] for r in records], axis=0)
    radius = 3.0 * float(np.median(np.linalg.norm(p - centre, axis=1))) + 1e-6
    q = initial_points.compress_far(p, centre, radius)
    return initial_points.voxel_downsample(p, c, n, initial_points.choose_voxel(q, max_points), key_points=q)


def _frame_points(out_dir: str, record: dict, exr: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points, colours and world normals of every pixel with a surface in one finished frame."""
    files = layout.frame_files(record["frame"], exr)
    depth = np.load(os.path.join(out_dir, files["depth_file_path"]))
    n_cam = np.load(os.path.join(out_dir, files["normals_file_path"]))
    rgb = load_png_rgb(os.path.join(out_dir, files["file_path"]))
    i = record["intrinsics"]
    K = np.array([[i["fl_x"], 0, i["cx"]], [0, i["fl_y"], i["cy"]], [0, 0, 1]])
    c2w = np.array(record["c2w"])
    valid = np.isfinite(depth)
    points = camera_poses.unproject_depth(np.where(valid, depth, 0), K, c2w)[valid]
    return points, rgb[valid], n_cam[valid] @ camera_poses.c2w_opencv(c2w)[:3, :3].T


def load_png_rgb(path: str) -> np.ndarray:
    """uint8 [H, W, 3] of an 8-bit PNG, decoded by Blender (fast for any PNG row filter)."""
    img = bpy.data.images.load(path, check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return np.rint(px.reshape(h, w, 4)[::-1, :, :3] * 255).astype(np.uint8)


def scene_info(scene) -> dict:
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


def write_scene_json(out_dir: str, scene, params: dict, backend: str, manifest: dict, timings: dict, n_done: int,
                     n_points: int) -> None:
    """scene.json: the generator's record plus how the dataset was rendered."""
    doc = scene_info(scene)
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
