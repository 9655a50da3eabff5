"""The "Gaussians" tab of the 3D Viewport sidebar: Generate, Render Dataset, Train, Splats."""
from __future__ import annotations

import bpy

from . import jobs
from .native_splats import is_native
from .ops_io import is_splat_object


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


class _SettingsPanel(_GaussiansPanel):
    """The scene settings ``fields``, then the button of ``operator``, replaced by the progress of
    a running job of ``job_kind`` (if any)."""

    fields = ()  # names of the settings, in order
    operator, icon, job_kind = "", "NONE", ""

    def draw(self, context):
        s = context.scene.gaussian_scenes
        col = self.layout.column()
        for name in self.fields:
            col.prop(s, name)
        if not (self.job_kind and _job_box(col, context, self.job_kind)):
            col.operator(self.operator, icon=self.icon)


class VIEW3D_PT_gs_generate(_SettingsPanel, bpy.types.Panel):
    bl_label = "Generate"
    fields, operator, icon = ("preset", "seed"), "gs.generate", "WORLD"


class VIEW3D_PT_gs_render_dataset(_SettingsPanel, bpy.types.Panel):
    bl_label = "Render Dataset"
    fields, operator, icon = ("dataset_dir", "samples", "overwrite"), "gs.render_dataset", "RENDER_ANIMATION"
    job_kind = "render"


class VIEW3D_PT_gs_train(_SettingsPanel, bpy.types.Panel):
    bl_label = "Train"
    fields, operator, icon = (("dataset_dir", "train_dir", "iterations", "train_existing", "train_sky",
                               "train_depth_weight"), "gs.train", "PLAY")
    job_kind = "train"


class VIEW3D_PT_gs_splats(_GaussiansPanel, bpy.types.Panel):
    bl_label = "Splats"

    def draw(self, context):
        s = context.scene.gaussian_scenes
        col = self.layout.column()
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


classes = (VIEW3D_PT_gs_generate, VIEW3D_PT_gs_render_dataset, VIEW3D_PT_gs_train, VIEW3D_PT_gs_splats)
