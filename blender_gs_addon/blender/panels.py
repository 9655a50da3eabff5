"""The "Gaussians" tab of the 3D Viewport sidebar: Generate, Render Dataset, Train, Dataset Browser, Splats.

The Generate, Render Dataset and Train panels draw every option of their command from the
properties built out of its parser (`option_props`); each panel's draw is a function of
(layout, context), so that tests can draw it into a real layout.
"""
from __future__ import annotations

import bpy

from . import jobs
from .dataset_browser import PICTURE_KINDS
from .native_splats import is_native
from .ops_io import is_splat_object
from .option_props import has_toggle
from .training_view import draw_live


class _GaussiansPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Gaussians"


def _job_box(layout, context, kind: str) -> bool:
    """Progress and Cancel of a running job of this kind; True if one is running."""
    s = context.scene.gaussian_scenes
    if jobs.RUNNING.get(kind) is None:
        if s.job_message and not s.job_kind:
            layout.label(text=s.job_message)
        return False
    box = layout.box()
    box.prop(s, "job_progress", text=s.job_message or "running...", slider=True)
    box.operator("gs.cancel_job", icon="CANCEL")
    return True


# the fields shown at once; every other option of the command folds away under "Advanced", so an
# option added to the command line appears there with no change here
MAIN_FIELDS = {"generate": ("preset", "seed", "biome", "terrain", "trajectory"),
               "render": ("samples", "device", "overwrite"),
               "train": ("iterations", "device", "sky", "depth_weight", "preview_every")}


def draw_option(layout, group, option) -> None:
    """One command-line option's field; an option left to the command has its 'set' toggle."""
    if has_toggle(option):
        row = layout.row(align=True)
        row.prop(group, "use_" + option.dest, text="")
        sub = row.row(align=True)
        sub.active = getattr(group, "use_" + option.dest)
        sub.prop(group, option.dest)
    elif option.kind == "flags":
        layout.label(text=option.label)
        layout.grid_flow(columns=2, align=True).prop(group, option.dest)
    else:
        layout.prop(group, option.dest)


def foldout(layout, data, prop: str, label: str):
    """A part that folds away: a layout panel where this Blender draws one here (4.1 and later;
    not in popups), else a toggle. -> the layout of its body, None while folded."""
    if hasattr(layout, "panel_prop"):
        try:
            header, body = layout.panel_prop(data, prop)
            header.label(text=label)
            return body
        except RuntimeError:  # "Layout panels can not be used in this context"
            pass
    open_ = getattr(data, prop)
    layout.prop(data, prop, text=label, icon="DOWNARROW_HLT" if open_ else "RIGHTARROW", emboss=False)
    return layout.column() if open_ else None


def draw_options(layout, group, command: str) -> None:
    """Every option of ``command`` in the panel: the main ones, then the rest folded away."""
    main = MAIN_FIELDS[command]
    col = layout.column()
    for option in group.options:
        if option.dest in main:
            draw_option(col, group, option)
    body = foldout(col, group, "show_advanced", "Advanced")
    if body is not None:
        for option in group.options:
            if option.dest not in main:
                draw_option(body, group, option)


def _run_button(layout, context, operator: str, icon: str, job_kind: str = "") -> None:
    if not (job_kind and _job_box(layout, context, job_kind)):
        layout.operator(operator, icon=icon)


def draw_generate(layout, context) -> None:
    draw_options(layout, context.scene.gaussian_scenes.generate, "generate")
    _run_button(layout, context, "gs.generate", "WORLD")


def draw_render(layout, context) -> None:
    s = context.scene.gaussian_scenes
    layout.prop(s, "dataset_dir")
    draw_options(layout, s.render, "render")
    _run_button(layout, context, "gs.render_dataset", "RENDER_ANIMATION", "render")


def draw_train(layout, context) -> None:
    s = context.scene.gaussian_scenes
    for name in ("dataset_dir", "train_dir", "train_existing"):
        layout.prop(s, name)
    draw_options(layout, s.train, "train")
    _run_button(layout, context, "gs.train", "PLAY", "train")
    draw_live(layout, jobs.LIVE.get("train"))


def draw_browser(layout, context) -> None:
    s = context.scene.gaussian_scenes
    row = layout.row(align=True)
    row.prop(s, "dataset_dir", text="")
    row.operator("gs.dataset_load", text="", icon="FILE_REFRESH")
    if not s.browser_frames:
        layout.label(text="Load a dataset folder or transforms.json", icon="INFO")
        return
    layout.template_list("GS_UL_dataset_frames", "", s, "browser_frames", s, "browser_index", rows=6)
    item = s.browser_frames[s.browser_index] if s.browser_index < len(s.browser_frames) else None
    if item is not None:
        fx, fy, cx, cy = item.intrinsics
        layout.label(text=f"{item.size[0]}x{item.size[1]} px, focal {fx:.1f}/{fy:.1f} px")
    layout.operator("gs.dataset_jump", icon="VIEW_CAMERA")
    grid = layout.grid_flow(columns=3, align=True)
    for kind, label, _ in PICTURE_KINDS:
        grid.operator("gs.dataset_show", text=label).kind = kind
    row = layout.row(align=True)
    row.prop(s, "frustum_size")
    row.operator("gs.dataset_frusta", text="", icon="CAMERA_DATA")


class VIEW3D_PT_gs_generate(_GaussiansPanel, bpy.types.Panel):
    bl_label = "Generate"

    def draw(self, context):
        draw_generate(self.layout, context)


class VIEW3D_PT_gs_render_dataset(_GaussiansPanel, bpy.types.Panel):
    bl_label = "Render Dataset"

    def draw(self, context):
        draw_render(self.layout, context)


class VIEW3D_PT_gs_train(_GaussiansPanel, bpy.types.Panel):
    bl_label = "Train"

    def draw(self, context):
        draw_train(self.layout, context)


class VIEW3D_PT_gs_dataset_browser(_GaussiansPanel, bpy.types.Panel):
    bl_label = "Dataset Browser"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        draw_browser(self.layout, context)


def draw_splats(layout, context) -> None:
    s = context.scene.gaussian_scenes
    col = layout.column()
    row = col.row(align=True)
    row.operator("import_scene.gaussian_splats", text="Import", icon="IMPORT")
    row.operator("export_scene.gaussian_splats", text="Export", icon="EXPORT")
    obj = context.active_object
    if is_splat_object(obj):
        n = len(obj.data.points) if obj.type == "POINTCLOUD" else len(obj.data.vertices)
        col.label(text=f"{obj.name}: {n:,} splats")
    if not is_native(obj):  # Blender draws its own splat objects as splats
        col.prop(s, "opacity_threshold")
        row = col.row(align=True)
        op = row.operator("object.gs_ellipsoids", text="Ellipsoids", icon="MESH_UVSPHERE")
        op.enable, op.threshold = True, s.opacity_threshold
        op = row.operator("object.gs_ellipsoids", text="Points", icon="POINTCLOUD_DATA")
        op.enable = False
    col.operator("gs.render_splats", icon="RENDER_STILL")


class VIEW3D_PT_gs_splats(_GaussiansPanel, bpy.types.Panel):
    bl_label = "Splats"

    def draw(self, context):
        draw_splats(self.layout, context)


classes = (VIEW3D_PT_gs_generate, VIEW3D_PT_gs_render_dataset, VIEW3D_PT_gs_train, VIEW3D_PT_gs_dataset_browser,
           VIEW3D_PT_gs_splats)
# the draw functions of the panels, by panel (tests draw them into a real layout)
DRAWS = {"generate": draw_generate, "render": draw_render, "train": draw_train, "browser": draw_browser,
         "splats": draw_splats}
