"""The dataset browser: a dataset's frames in a list, the active camera moved to any of them, that
frame's ground truth in the Image Editor, and every camera's frustum as one mesh of edges.

The frames come from `dataset_frames` (bpy-free): transforms.json's camera-to-world matrix is
Blender's camera `matrix_world` (OpenGL camera axes), and the intrinsics are set so that
`procgen.render.camera_poses.intrinsics_from_blender` gives them back (`set_intrinsics`).
"""
from __future__ import annotations

import os

import bpy
from bpy.props import EnumProperty, IntProperty
from mathutils import Matrix

from ..dataset_frames import DatasetError, Frame, camera_file, default_frustum_depth, frusta, previews_of, read_frames
from .ops_io import refuse

FRUSTA_NAME = "Dataset Cameras"
CAMERA_NAME = "Dataset Camera"
PICTURE_KINDS = [("rgb", "RGB", "The frame's image"), ("depth", "Depth", "Depth (preview/<frame>_depth.png)"),
                 ("flow_fwd", "Flow", "Optical flow to the next frame"),
                 ("flow_bwd", "Flow Back", "Optical flow to the previous frame"),
                 ("normals", "Normals", "Camera-space normals"),
                 ("instance", "Instances", "Instance segmentation"), ("semantic", "Classes", "Semantic segmentation")]


def settings(context):
    return context.scene.gaussian_scenes


def frame_of(item) -> Frame:
    """The browser list's entry back as a dataset Frame."""
    import numpy as np

    fx, fy, cx, cy = item.intrinsics
    return Frame(item.name, item.image, np.array(item.c2w, float).reshape(4, 4), fx, fy, cx, cy,
                 int(item.size[0]), int(item.size[1]), item.held_out)


def load_frames(context, path: str) -> int:
    """Fill the browser's list with the frames of the dataset at ``path``; -> how many."""
    frames = read_frames(path)
    s = settings(context)
    s.browser_frames.clear()
    for f in frames:
        item = s.browser_frames.add()
        item.name, item.image, item.held_out = f.name, f.image, f.held_out
        item.c2w = [float(v) for v in f.c2w.reshape(-1)]
        item.intrinsics = (f.fl_x, f.fl_y, f.cx, f.cy)
        item.size = (f.width, f.height)
    s.browser_source = camera_file(path)
    return len(frames)


def set_intrinsics(cam_data, render, frame: Frame) -> None:
    """Camera and render settings whose projection is the frame's pinhole K at its image size:
    horizontal sensor fit (the sensor spans the width), focal length and lens shift from fl_x, cx,
    cy; a non-square pixel where fl_x != fl_y."""
    ratio = frame.fl_x / frame.fl_y  # a pixel's height over its width (camera_poses' pixel_ratio)
    render.resolution_x, render.resolution_y, render.resolution_percentage = frame.width, frame.height, 100
    render.pixel_aspect_x, render.pixel_aspect_y = (1.0, ratio) if ratio >= 1 else (1.0 / ratio, 1.0)
    cam_data.type, cam_data.sensor_fit = "PERSP", "HORIZONTAL"
    cam_data.lens = frame.fl_x * cam_data.sensor_width / frame.width
    cam_data.shift_x = (frame.width / 2.0 - frame.cx) / frame.width
    cam_data.shift_y = (frame.cy - frame.height / 2.0) * ratio / frame.width


def _scene_camera(context):
    scene = context.scene
    if scene.camera is not None and scene.camera.type == "CAMERA":
        return scene.camera
    cam = bpy.data.objects.new(CAMERA_NAME, bpy.data.cameras.new(CAMERA_NAME))
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def jump_to_frame(context, index: int, report=None) -> bool:
    """Move the scene's camera (made if there is none) to frame ``index`` of the browser's list."""
    s = settings(context)
    if not 0 <= index < len(s.browser_frames):
        if report:
            report({"ERROR"}, f"No frame {index}: the browser holds {len(s.browser_frames)} (load a dataset)")
        return False
    frame = frame_of(s.browser_frames[index])
    cam = _scene_camera(context)
    cam.matrix_world = Matrix(frame.c2w.tolist())
    set_intrinsics(cam.data, context.scene.render, frame)
    return True


def frusta_object(context, depth: float = 0.0):
    """One mesh object of edges: every browsed camera's frustum, ``depth`` in front of it (0: a
    tenth of the cameras' spread). Replaces the mesh of an earlier one."""
    s = settings(context)
    frames = [frame_of(item) for item in s.browser_frames]
    verts, edges = frusta(frames, depth or default_frustum_depth(frames))
    mesh = bpy.data.meshes.new(FRUSTA_NAME)
    mesh.from_pydata(verts.tolist(), edges.tolist(), [])
    obj = bpy.data.objects.get(FRUSTA_NAME)
    if obj is None or obj.type != "MESH":
        obj = bpy.data.objects.new(FRUSTA_NAME, mesh)
        context.scene.collection.objects.link(obj)
    else:
        old, obj.data = obj.data, mesh
        if old.users == 0:
            bpy.data.meshes.remove(old)
    obj.matrix_world = Matrix.Identity(4)
    return obj


def picture_path(context, kind: str) -> str | None:
    """The file of the browsed frame's picture of ``kind`` (None where the dataset has none)."""
    s = settings(context)
    if not 0 <= s.browser_index < len(s.browser_frames):
        return None
    image = s.browser_frames[s.browser_index].image
    if kind == "rgb":
        return image
    root = os.path.dirname(s.browser_source) if s.browser_source else os.path.dirname(os.path.dirname(image))
    return previews_of(root, image).get(kind)


def _have_frames(cls, context) -> bool:
    return bool(settings(context).browser_frames) or refuse(cls, "Load a dataset into the browser first")


class GS_OT_dataset_load(bpy.types.Operator):
    """Read the dataset's camera file (ours or any transforms.json) into the browser's list"""

    bl_idname = "gs.dataset_load"
    bl_label = "Load Dataset"
    bl_options = {"REGISTER"}

    def execute(self, context):
        path = os.path.abspath(bpy.path.abspath(settings(context).dataset_dir))
        try:
            n = load_frames(context, path)
        except (DatasetError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings(context).browser_index = 0
        self.report({"INFO"}, f"{n} frames from {settings(context).browser_source}")
        return {"FINISHED"}


class GS_OT_dataset_jump(bpy.types.Operator):
    """Move the scene camera to a frame's pose and intrinsics (the render size too)"""

    bl_idname = "gs.dataset_jump"
    bl_label = "Camera to Frame"
    bl_options = {"REGISTER", "UNDO"}

    index: IntProperty(name="Frame", description="The list's frame (-1: the selected one)", default=-1, min=-1)

    @classmethod
    def poll(cls, context):
        return _have_frames(cls, context)

    def execute(self, context):
        index = settings(context).browser_index if self.index < 0 else self.index
        return {"FINISHED"} if jump_to_frame(context, index, self.report) else {"CANCELLED"}


class GS_OT_dataset_show(bpy.types.Operator):
    """Show the selected frame's picture of this kind in the Image Editor"""

    bl_idname = "gs.dataset_show"
    bl_label = "Show Picture"
    bl_options = {"REGISTER"}

    kind: EnumProperty(name="Kind", description="Which picture of the frame", items=PICTURE_KINDS, default="rgb")

    @classmethod
    def poll(cls, context):
        return _have_frames(cls, context)

    def execute(self, context):
        from .image_editor import show_in_image_editor

        path = picture_path(context, self.kind)
        if path is None:
            self.report({"ERROR"}, f"The dataset has no {self.kind} picture of this frame (only ours write preview/)")
            return {"CANCELLED"}
        image, shown = show_in_image_editor(context, path, f"Dataset {self.kind}")
        self.report({"INFO"}, f"{image.name}: {path}" + ("" if shown else " (no Image Editor to show it in)"))
        return {"FINISHED"}


class GS_OT_dataset_frusta(bpy.types.Operator):
    """Draw every camera of the browsed dataset as a frustum, all in one mesh object of edges"""

    bl_idname = "gs.dataset_frusta"
    bl_label = "Draw Frusta"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _have_frames(cls, context)

    def execute(self, context):
        obj = frusta_object(context, settings(context).frustum_size)
        self.report({"INFO"}, f"{obj.name}: {len(settings(context).browser_frames)} camera frusta")
        return {"FINISHED"}


class GS_UL_dataset_frames(bpy.types.UIList):
    """The browsed dataset's frames; held-out (test) views are marked."""

    bl_idname = "GS_UL_dataset_frames"

    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=item.name, icon="OUTLINER_OB_CAMERA")
        row.label(text="test" if item.held_out else "", icon="HIDE_ON" if item.held_out else "NONE")


classes = (GS_OT_dataset_load, GS_OT_dataset_jump, GS_OT_dataset_show, GS_OT_dataset_frusta, GS_UL_dataset_frames)
