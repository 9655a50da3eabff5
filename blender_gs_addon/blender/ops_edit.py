"""Splat editing operators (with undo) and the "Edit Splats" panel under Splats in the Gaussians tab.

Each operator coordinates one function of ``edit_objects`` on the active splat object and turns
its errors into a report; the settings show in a dialog and in Adjust Last Operation.
"""
from __future__ import annotations

import math

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty, StringProperty

from ..splats import SplatFormatError, edit
from ..splats.transform import TransformError
from . import edit_objects
from .ops_io import is_splat_object, poll_active_splats
from .splat_objects import SplatObjectError

SPACE_ITEMS = [("WORLD", "World", "Coordinates of the scene"),
               ("LOCAL", "Local", "Coordinates of the splat object (those of its file)")]
CMP_ITEMS = [("gt", ">", "greater than"), ("gte", ">=", "greater than or equal"), ("lt", "<", "less than"),
             ("lte", "<=", "less than or equal"), ("eq", "=", "equal"), ("neq", "!=", "not equal")]


class _EditSplats:
    """Shared poll, mode handling and reporting; subclasses implement ``change(context, obj) -> (before, after)``."""

    bl_options = {"REGISTER", "UNDO"}
    dialog = True  # ask for the settings first when run from a button

    @classmethod
    def poll(cls, context):
        return poll_active_splats(cls, context)

    def invoke(self, context, event):
        if self.dialog:
            return context.window_manager.invoke_props_dialog(self)
        return self.execute(context)

    def execute(self, context):
        obj = context.active_object
        mode = obj.mode
        try:
            if mode == "EDIT":  # flush Edit-mode changes (selection, deleted points) into the data
                bpy.ops.object.mode_set(mode="OBJECT")
            before, after = self.change(context, obj)
        except (SplatObjectError, edit.EditError, TransformError, SplatFormatError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        finally:
            if mode == "EDIT" and context.active_object is obj and obj.mode != "EDIT":
                bpy.ops.object.mode_set(mode="EDIT")
        self.report({"INFO"}, f"{obj.name}: {before:,} -> {after:,} splats")
        return {"FINISHED"}


class OBJECT_OT_gs_splats_apply_transform(_EditSplats, bpy.types.Operator):
    """Bake the object's location, rotation and scale into its splats (SH colour rotated) and reset them"""

    bl_idname = "object.gs_splats_apply_transform"
    bl_label = "Apply Transform to Splats"
    dialog = False

    def change(self, context, obj):
        return edit_objects.apply_transform(obj)


class OBJECT_OT_gs_splats_transform(_EditSplats, bpy.types.Operator):
    """Move, turn and scale the splats themselves (SH colour rotated), about the origin of the chosen space"""

    bl_idname = "object.gs_splats_transform"
    bl_label = "Transform Splats"

    translation: FloatVectorProperty(name="Translation", subtype="TRANSLATION", size=3)
    rotation: FloatVectorProperty(name="Rotation", subtype="EULER", size=3,
                                  description="Euler angles about X, then Y, then Z")
    scale: FloatProperty(name="Scale", default=1.0, min=1e-6, description="Uniform scale factor")
    space: EnumProperty(name="Space", items=SPACE_ITEMS, default="LOCAL")

    def change(self, context, obj):
        linear = edit.euler_matrix([math.degrees(a) for a in self.rotation]) * self.scale
        return edit_objects.transform_splats(obj, edit.affine(linear, tuple(self.translation)), self.space)


class OBJECT_OT_gs_splats_filter_nan(_EditSplats, bpy.types.Operator):
    """Remove splats holding NaN or infinite values, or a zero rotation"""

    bl_idname = "object.gs_splats_filter_nan"
    bl_label = "Remove NaN Splats"
    dialog = False

    def change(self, context, obj):
        return edit_objects.filter_nonfinite(obj)


class OBJECT_OT_gs_splats_filter_value(_EditSplats, bpy.types.Operator):
    """Keep the splats whose attribute compares to a value: opacity (0..1), scale_0..2 and scale_max (linear),
    f_dc_0..2 (colour), name_raw (stored value) or any stored column"""

    bl_idname = "object.gs_splats_filter_value"
    bl_label = "Filter Splats by Value"

    attribute: StringProperty(name="Attribute", default="opacity",
                              description="opacity, scale_max, scale_0, f_dc_0, opacity_raw, x, f_rest_3, ...")
    comparison: EnumProperty(name="Keep Where", items=CMP_ITEMS, default="gt")
    value: FloatProperty(name="Value", default=0.1)
    space: EnumProperty(name="Space", items=SPACE_ITEMS, default="LOCAL",
                        description="Coordinates of positions, rotations, scales and SH")

    def change(self, context, obj):
        return edit_objects.filter_value(obj, self.attribute.strip(), self.comparison, self.value, self.space)


class OBJECT_OT_gs_splats_crop(_EditSplats, bpy.types.Operator):
    """Keep the splats inside a box, a sphere or another object's bounding box (or remove them)"""

    bl_idname = "object.gs_splats_crop"
    bl_label = "Crop Splats"

    shape: EnumProperty(name="Shape", items=[("BOX", "Box", "An axis-aligned box"),
                                             ("SPHERE", "Sphere", "A sphere"),
                                             ("OBJECT", "Object", "The bounding box of another object, "
                                                                  "turned and scaled as that object is")])
    box_min: FloatVectorProperty(name="Min", subtype="TRANSLATION", size=3, default=(-1.0, -1.0, -1.0))
    box_max: FloatVectorProperty(name="Max", subtype="TRANSLATION", size=3, default=(1.0, 1.0, 1.0))
    centre: FloatVectorProperty(name="Centre", subtype="TRANSLATION", size=3)
    radius: FloatProperty(name="Radius", default=1.0, min=0.0, subtype="DISTANCE")
    bounds: StringProperty(name="Object", description="The object whose bounding box keeps the splats")
    space: EnumProperty(name="Space", items=SPACE_ITEMS, default="WORLD")
    invert: BoolProperty(name="Remove Inside", description="Remove the splats inside instead of keeping them",
                         options={"SKIP_SAVE"})  # never carried over unseen into the next crop

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "shape", expand=True)
        if self.shape == "OBJECT":
            col.prop_search(self, "bounds", context.scene, "objects")
        else:
            for name in (("box_min", "box_max") if self.shape == "BOX" else ("centre", "radius")) + ("space",):
                col.prop(self, name)
        col.prop(self, "invert")

    def change(self, context, obj):
        if self.shape == "BOX":
            return edit_objects.crop_box(obj, self.box_min, self.box_max, self.space, self.invert)
        if self.shape == "SPHERE":
            return edit_objects.crop_sphere(obj, self.centre, self.radius, self.space, self.invert)
        bounds = bpy.data.objects.get(self.bounds)
        if bounds is None:
            raise SplatObjectError(f"no object named {self.bounds!r} to crop to" if self.bounds else
                                   "choose the object whose bounding box keeps the splats")
        return edit_objects.crop_to_object(obj, bounds, self.invert)


class OBJECT_OT_gs_splats_reduce_sh(_EditSplats, bpy.types.Operator):
    """Drop the spherical-harmonic bands above a degree (view-dependent colour; 0 keeps the base colour)"""

    bl_idname = "object.gs_splats_reduce_sh"
    bl_label = "Reduce SH Degree"

    degree: IntProperty(name="SH Degree", default=0, min=0, max=3)

    def change(self, context, obj):
        return edit_objects.reduce_sh(obj, self.degree)


class OBJECT_OT_gs_splats_decimate(_EditSplats, bpy.types.Operator):
    """Keep only the most important splats: opacity x the two largest scales (a splat's face-on footprint)"""

    bl_idname = "object.gs_splats_decimate"
    bl_label = "Decimate Splats"

    mode: EnumProperty(name="Keep", items=[("PERCENT", "Percent", "A share of the splats"),
                                           ("COUNT", "Count", "A number of splats")])
    percent: FloatProperty(name="Percent", default=50.0, min=0.0, max=100.0, subtype="PERCENTAGE")
    count: IntProperty(name="Count", default=100000, min=1)

    def change(self, context, obj):
        return edit_objects.decimate(obj, f"{self.percent}%" if self.mode == "PERCENT" else str(self.count))


class OBJECT_OT_gs_splats_merge(_EditSplats, bpy.types.Operator):
    """Move the splats of the other selected splat objects into the active one (where they are stays)"""

    bl_idname = "object.gs_splats_merge"
    bl_label = "Merge Splat Objects"
    dialog = False

    def change(self, context, obj):
        others = [o for o in context.selected_objects if o != obj and is_splat_object(o)]
        return edit_objects.merge_objects(obj, others)


class OBJECT_OT_gs_splats_delete_selected(_EditSplats, bpy.types.Operator):
    """Delete the splats selected in Edit mode"""

    bl_idname = "object.gs_splats_delete_selected"
    bl_label = "Delete Selected Splats"
    dialog = False

    def change(self, context, obj):
        return edit_objects.delete_selected(obj)


OPERATORS = (OBJECT_OT_gs_splats_transform, OBJECT_OT_gs_splats_apply_transform, OBJECT_OT_gs_splats_filter_value,
             OBJECT_OT_gs_splats_filter_nan, OBJECT_OT_gs_splats_crop, OBJECT_OT_gs_splats_reduce_sh,
             OBJECT_OT_gs_splats_decimate, OBJECT_OT_gs_splats_merge, OBJECT_OT_gs_splats_delete_selected)


class VIEW3D_PT_gs_edit_splats(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Gaussians"
    bl_label = "Edit Splats"
    bl_parent_id = "VIEW3D_PT_gs_splats"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return is_splat_object(context.active_object)

    def draw(self, context):
        col = self.layout.column(align=True)
        for op in OPERATORS:
            col.operator(op.bl_idname)


classes = (*OPERATORS, VIEW3D_PT_gs_edit_splats)
