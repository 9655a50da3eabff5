"""File > Import / Export of Gaussian splats (.ply, .splat)."""
from __future__ import annotations

import os
import time

import bpy
from bpy.props import BoolProperty, CollectionProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..splats import SplatFormatError
from ..splats.transform import TransformError
from .pointcloud import SplatObjectError, read_into_object, write_from_object


def is_splat_object(obj) -> bool:
    return obj is not None and obj.type in {"POINTCLOUD", "MESH"} and "f_dc_0" in obj.data.attributes


def poll_active_splats(cls, context) -> bool:
    """Shared ``poll`` of operators that work on the active splat object; says why when it fails."""
    if not is_splat_object(context.active_object):
        cls.poll_message_set("The active object must be a point cloud of Gaussian splats")
        return False
    return True


def import_file(context, filepath: str, material: bool = True):
    """Read a splat file into a new point-cloud object (selected and active) -> (object, count, SH degree)."""
    return read_into_object(filepath, collection=context.collection, material=material)


class IMPORT_SCENE_OT_gaussian_splats(bpy.types.Operator, ImportHelper):
    """Import 3D Gaussian splats (.ply in the 3DGS layout, or .splat) as a point cloud"""

    bl_idname = "import_scene.gaussian_splats"
    bl_label = "Import Gaussian Splats"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filename_ext = ".ply"
    filter_glob: StringProperty(default="*.ply;*.splat", options={"HIDDEN"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})
    material: BoolProperty(name="Splat Material", default=True,
                           description="Show splat colours and opacities (EEVEE and Cycles)")

    def execute(self, context):
        paths = [os.path.join(self.directory, f.name) for f in self.files if f.name] or [self.filepath]
        for path in paths:
            t0 = time.perf_counter()
            try:
                obj, count, degree = import_file(context, path, self.material)
            except (SplatFormatError, OSError) as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
            except Exception as exc:  # never a traceback for the user; say what failed
                self.report({"ERROR"}, f"{path}: import failed: {type(exc).__name__}: {exc}")
                return {"CANCELLED"}
            self.report({"INFO"}, f"Imported {count:,} splats (SH degree {degree}) as '{obj.name}' "
                                  f"in {time.perf_counter() - t0:.2f} s")
        return {"FINISHED"}


class EXPORT_SCENE_OT_gaussian_splats(bpy.types.Operator, ExportHelper):
    """Export the active splat object as 3DGS .ply or .splat (object transform baked in)"""

    bl_idname = "export_scene.gaussian_splats"
    bl_label = "Export Gaussian Splats"
    bl_options = {"REGISTER", "PRESET"}

    filename_ext = ".ply"
    check_extension = None  # keep .splat when typed
    filter_glob: StringProperty(default="*.ply;*.splat", options={"HIDDEN"})
    apply_transform: BoolProperty(name="Apply Transform", default=True,
                                  description="Bake the object's location, rotation and scale into the splats "
                                              "(SH colours are rotated too)")

    @classmethod
    def poll(cls, context):
        return poll_active_splats(cls, context)

    def execute(self, context):
        path = self.filepath
        if os.path.splitext(path)[1].lower() not in (".ply", ".splat"):
            path += ".ply"
        obj = context.active_object
        t0 = time.perf_counter()
        mode = obj.mode
        try:
            if mode == "EDIT":  # flush Edit-mode changes (deleted points) into the data
                bpy.ops.object.mode_set(mode="OBJECT")
            count = write_from_object(obj, path, apply_transform=self.apply_transform)
        except (SplatFormatError, SplatObjectError, TransformError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except Exception as exc:  # never a traceback for the user; say what failed
            self.report({"ERROR"}, f"{path}: export failed: {type(exc).__name__}: {exc}")
            return {"CANCELLED"}
        finally:
            if mode == "EDIT" and obj.mode != "EDIT":
                bpy.ops.object.mode_set(mode="EDIT")
        self.report({"INFO"}, f"Exported {count:,} splats to {path} in {time.perf_counter() - t0:.2f} s")
        return {"FINISHED"}


class IMPORT_SCENE_FH_gaussian_splats(bpy.types.FileHandler):
    """Drag and drop .ply / .splat files into the 3D Viewport."""

    bl_idname = "IMPORT_SCENE_FH_gaussian_splats"
    bl_label = "Gaussian Splats"
    bl_import_operator = "import_scene.gaussian_splats"
    bl_file_extensions = ".ply;.splat"

    @classmethod
    def poll_drop(cls, context):
        return context.area is not None and context.area.type == "VIEW_3D"


def menu_import(self, context):
    self.layout.operator(IMPORT_SCENE_OT_gaussian_splats.bl_idname, text="Gaussian Splats (.ply, .splat)")


def menu_export(self, context):
    self.layout.operator(EXPORT_SCENE_OT_gaussian_splats.bl_idname, text="Gaussian Splats (.ply, .splat)")


classes = (IMPORT_SCENE_OT_gaussian_splats, EXPORT_SCENE_OT_gaussian_splats, IMPORT_SCENE_FH_gaussian_splats)


def register_menus() -> None:
    bpy.types.TOPBAR_MT_file_import.append(menu_import)
    bpy.types.TOPBAR_MT_file_export.append(menu_export)


def unregister_menus() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    bpy.types.TOPBAR_MT_file_export.remove(menu_export)
