"""File > Import / Export and drag and drop of Gaussian splats, in every format of ``splats.io.FORMATS``.

The format follows the file's suffix; menus, file filters and the drop handler are built
from the table, so a format added there appears here without further changes.
"""
from __future__ import annotations

import os
import time

import bpy
from bpy.props import BoolProperty, CollectionProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..splats import SplatFormatError
from ..splats import io as splat_io
from ..splats.transform import TransformError
from . import native_splats
from .splat_objects import SplatObjectError, read_into_object, write_from_object

SUFFIXES = splat_io.extensions()
FILTER_GLOB = ";".join(f"*{s}" for s in SUFFIXES)
MENU_TEXT = "Gaussian Splats (" + ", ".join(SUFFIXES) + ")"
# what a file browser or drop target matches: the last dot's extension (.compressed.ply -> .ply)
DROP_EXTENSIONS = ";".join(dict.fromkeys(os.path.splitext("x" + s)[1] for s in SUFFIXES))


def is_splat_object(obj) -> bool:
    """Ours (discs or native splats), or Blender's own native splats (its PLY and SPZ importers)."""
    if obj is None or obj.type not in {"POINTCLOUD", "MESH"}:
        return False
    return native_splats.is_native(obj) or native_splats.holds_native_splats(obj) or "f_dc_0" in obj.data.attributes


def refuse(cls, message: str) -> bool:
    """False, for a ``poll``, with ``message`` as the reason Blender shows on the greyed-out button."""
    cls.poll_message_set(message)
    return False


def poll_active_splats(cls, context) -> bool:
    """Shared ``poll`` of operators that work on the active splat object; says why when it fails."""
    return is_splat_object(context.active_object) or refuse(cls, "The active object must be a point cloud of "
                                                                 "Gaussian splats")


def import_file(context, filepath: str, material: bool = True):
    """Read a splat file into a new point-cloud object (selected and active) -> (object, count, SH degree)."""
    return read_into_object(filepath, collection=context.collection, material=material)


class IMPORT_SCENE_OT_gaussian_splats(bpy.types.Operator, ImportHelper):
    """Import 3D Gaussian splats (3DGS .ply, .splat, glTF KHR_gaussian_splatting and more) as a point cloud"""

    bl_idname = "import_scene.gaussian_splats"
    bl_label = "Import Gaussian Splats"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filename_ext = ".ply"
    filter_glob: StringProperty(default=FILTER_GLOB, options={"HIDDEN"})
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
    """Export the active splat object; the file's suffix picks the format (object transform baked in)"""

    bl_idname = "export_scene.gaussian_splats"
    bl_label = "Export Gaussian Splats"
    bl_options = {"REGISTER", "PRESET"}

    filename_ext = ".ply"
    check_extension = None  # keep whichever known suffix was typed
    filter_glob: StringProperty(default=FILTER_GLOB, options={"HIDDEN"})
    apply_transform: BoolProperty(name="Apply Transform", default=True,
                                  description="Bake the object's location, rotation and scale into the splats "
                                              "(SH colours are rotated too)")

    @classmethod
    def poll(cls, context):
        return poll_active_splats(cls, context)

    def execute(self, context):
        path = self.filepath
        if splat_io.find_format(path) is None:
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


def _file_handler_class():
    """Drag and drop into the 3D Viewport, where this Blender has file handlers; else None."""
    base = getattr(bpy.types, "FileHandler", None)
    if base is None:
        return None

    class IMPORT_SCENE_FH_gaussian_splats(base):
        """Drag and drop splat files into the 3D Viewport."""

        bl_idname = "IMPORT_SCENE_FH_gaussian_splats"
        bl_label = "Gaussian Splats"
        bl_import_operator = "import_scene.gaussian_splats"
        bl_file_extensions = DROP_EXTENSIONS

        @classmethod
        def poll_drop(cls, context):
            return context.area is not None and context.area.type == "VIEW_3D"

    return IMPORT_SCENE_FH_gaussian_splats


IMPORT_SCENE_FH_gaussian_splats = _file_handler_class()


def menu_import(self, context):
    self.layout.operator(IMPORT_SCENE_OT_gaussian_splats.bl_idname, text=MENU_TEXT)


def menu_export(self, context):
    self.layout.operator(EXPORT_SCENE_OT_gaussian_splats.bl_idname, text=MENU_TEXT)


classes = tuple(c for c in (IMPORT_SCENE_OT_gaussian_splats, EXPORT_SCENE_OT_gaussian_splats,
                            IMPORT_SCENE_FH_gaussian_splats) if c is not None)


def register_menus() -> None:
    bpy.types.TOPBAR_MT_file_import.append(menu_import)
    bpy.types.TOPBAR_MT_file_export.append(menu_export)


def unregister_menus() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    bpy.types.TOPBAR_MT_file_export.remove(menu_export)
