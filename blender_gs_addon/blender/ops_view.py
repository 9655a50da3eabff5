"""Viewing operators: render splats with our rasterizer, ellipsoid display."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty

from .native_splats import is_native
from .ops_io import poll_active_splats, refuse
from .viewing import set_ellipsoids


class GS_OT_render_splats(bpy.types.Operator):
    """Render the active splat object from the scene camera with the Gaussian rasterizer into an image"""

    bl_idname = "gs.render_splats"
    bl_label = "Render Splats"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return poll_active_splats(cls, context) and (context.scene.camera is not None
                                                     or refuse(cls, "The scene has no camera"))

    def execute(self, context):
        from .addon_package import preferences
        from .render_splats import render_object_to_image

        prefs = preferences()
        device = getattr(prefs, "device", "auto") if prefs else "auto"
        try:
            image, seconds = render_object_to_image(context.active_object, context.scene.camera, context.scene,
                                                    device=device)
        except Exception as exc:  # surface rasterizer/transform errors to the user, never crash
            self.report({"ERROR"}, f"Render Splats failed: {exc}")
            return {"CANCELLED"}
        for area in getattr(context.screen, "areas", []):
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = image
                break
        self.report({"INFO"}, f"Rendered '{image.name}' {image.size[0]}x{image.size[1]} in {seconds:.2f} s")
        return {"FINISHED"}


class OBJECT_OT_gs_ellipsoids(bpy.types.Operator):
    """Show the active splats as oriented ellipsoids (geometry nodes) or as points"""

    bl_idname = "object.gs_ellipsoids"
    bl_label = "Splat Ellipsoids"
    bl_options = {"REGISTER", "UNDO"}

    enable: BoolProperty(name="Ellipsoids", description="Show ellipsoids instead of points", default=True)
    threshold: FloatProperty(name="Opacity Threshold", default=0.5, min=0.0, max=1.0,
                             description="Only splats at least this opaque get an ellipsoid")

    @classmethod
    def poll(cls, context):
        return poll_active_splats(cls, context) and (not is_native(context.active_object)
                                                     or refuse(cls, "Blender draws these splats itself"))

    def execute(self, context):
        set_ellipsoids(context.active_object, self.enable, self.threshold)
        return {"FINISHED"}


classes = (GS_OT_render_splats, OBJECT_OT_gs_ellipsoids)
