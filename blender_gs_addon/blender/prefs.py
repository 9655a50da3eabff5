"""Add-on preferences: training interpreter, device, cache folder, torch installation."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty


class GS_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = "blender_gs_addon"  # replaced by the add-on package name in register()

    interpreter: StringProperty(
        name="Training Interpreter", subtype="FILE_PATH", default="",
        description="Python with torch that runs the trainer, and Render Splats when Blender's Python has no "
                    "torch. Empty: $GS_TRAINING_PYTHON, else Blender's own Python")
    device: EnumProperty(
        name="Device", description="Where training and Render Splats run",
        items=[("auto", "Auto", "CUDA when available, else CPU"), ("cpu", "CPU", "Always the CPU"),
               ("cuda", "CUDA", "An NVIDIA GPU")], default="auto")
    cache_dir: StringProperty(name="Cache Folder", subtype="DIR_PATH", default="",
                              description="Folder for compiled kernels, torch and temporary files "
                                          "(empty: ~/.cache/gaussian_scenes)")
    torch_dir: StringProperty(name="torch Folder", subtype="DIR_PATH", default="",
                              description="Folder that Install torch fills and that is added to Python's path "
                                         "(empty: <cache folder>/torch)")

    def draw(self, context):
        from . import jobs, torch_env

        layout = self.layout
        layout.prop(self, "interpreter")
        layout.prop(self, "device")
        layout.prop(self, "cache_dir")
        layout.prop(self, "torch_dir")
        ok, detail = torch_env.torch_in_process()
        row = layout.row()
        row.label(text=f"torch in Blender's Python: {detail}" if ok else "torch is not available in Blender's Python",
                  icon="CHECKMARK" if ok else "ERROR")
        row = layout.row()
        row.operator("gs.install_torch", icon="IMPORT")
        if jobs.RUNNING.get("install") is not None:
            s = context.scene.gaussian_scenes
            layout.label(text=s.job_message)
            layout.operator("gs.cancel_job", icon="CANCEL")


classes = (GS_AP_preferences,)
