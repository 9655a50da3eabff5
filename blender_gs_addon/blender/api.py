"""Numpy access to splats in Blender, for the Python console and scripts.

    from blender_gs_addon.blender import api      # or bl_ext.<repo>.gaussian_scenes.blender.api
    data = api.read("scene.ply")                   # SplatData of float32 numpy arrays; any format
    print(api.FORMATS)                             # suffix -> format (.ply, .splat, .glb, .gltf, ...)
    obj = api.object_from_splats(data, "Splats")   # a POINTCLOUD object in the scene
    data = api.splats_from_object(obj)             # back, with the object transform baked in
    api.write("out.glb", data)                     # the suffix picks the format
    obj, count, degree = api.read_into_object("scene.ply")   # file -> object, fastest path
    api.write_from_object(obj, "copy.ply")                   # object -> file, fastest path

SplatData fields: means [N,3], scales_log [N,3], quats [N,4] (w,x,y,z), opacity_logit [N],
sh_dc [N,3], sh_rest [N,K-1,3], normals [N,3] or None, extra {name: [N]}.

Editing a splat object in place (each returns (splats before, after); undo with Ctrl+Z in the UI):

    api.filter_value(obj, "opacity", "gt", 0.5)        # keep alpha > 0.5 (activated, as gs edit)
    api.crop_box(obj, (-1, -1, 0), (1, 1, 2))          # world coordinates; space="LOCAL" for the object's
    api.crop_sphere(obj, (0, 0, 1), 2.0, invert=True)  # remove the splats inside
    api.crop_to_object(obj, bpy.data.objects["Cube"])  # the cube's bounding box, turned as the cube is
    api.transform_splats(obj, matrix)                  # 4x4 rotation/translation/scale, SH rotated
    api.apply_transform(obj)                           # bake the object transform, reset it
    api.reduce_sh(obj, 1); api.decimate(obj, "25%"); api.filter_nonfinite(obj)
    api.merge_objects(obj, [other1, other2]); api.delete_selected(obj)
    api.edit.value_mask(data, "scale_max", "lt", 0.1)  # the bpy-free actions on SplatData
"""
from ..splats import SplatData, SplatFormatError, edit, read_ply, read_splat, write_ply, write_splat
from ..splats import read_splats as read
from ..splats import write_splats as write
from ..splats.edit import EditError
from ..splats.io import FORMATS
from ..splats.transform import TransformError, bake_transform
from .edit_objects import (
    apply_transform,
    crop_box,
    crop_sphere,
    crop_to_object,
    decimate,
    delete_selected,
    filter_nonfinite,
    filter_value,
    merge_objects,
    reduce_sh,
    transform_splats,
)
from .splat_objects import SplatObjectError, object_from_splats, read_into_object, splats_from_object, write_from_object

__all__ = ["FORMATS", "SplatData", "SplatFormatError", "SplatObjectError", "TransformError", "read", "write",
           "read_ply", "write_ply", "read_splat", "write_splat", "object_from_splats", "splats_from_object",
           "bake_transform", "read_into_object", "write_from_object", "edit", "EditError", "apply_transform",
           "transform_splats", "filter_nonfinite", "filter_value", "crop_box", "crop_sphere", "crop_to_object",
           "reduce_sh", "decimate", "merge_objects", "delete_selected"]
