"""Gaussian splats without Blender: the data model, the file formats, SH rotation, transforms.

    from blender_gs_addon.splats import read_ply, write_ply, SplatData
    data = read_ply("point_cloud.ply")      # SplatData of float32 numpy arrays
    write_ply("copy.ply", data)             # bit-exact copy

Never imports bpy.
"""
from .data import SH_C0, SplatData
from .errors import SplatFormatError
from .io import read_splats, write_splats
from .ply import read_ply, write_ply
from .splat_format import read_splat, write_splat

__all__ = ["SH_C0", "SplatData", "SplatFormatError", "read_ply", "write_ply", "read_splat", "write_splat",
           "read_splats", "write_splats"]
