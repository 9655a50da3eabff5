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
"""
from ..splats import SplatData, SplatFormatError, read_ply, read_splat, write_ply, write_splat
from ..splats import read_splats as read
from ..splats import write_splats as write
from ..splats.io import FORMATS
from ..splats.transform import TransformError, bake_transform
from .splat_objects import SplatObjectError, object_from_splats, read_into_object, splats_from_object, write_from_object

__all__ = ["FORMATS", "SplatData", "SplatFormatError", "SplatObjectError", "TransformError", "read", "write",
           "read_ply", "write_ply", "read_splat", "write_splat", "object_from_splats", "splats_from_object",
           "bake_transform", "read_into_object", "write_from_object"]
