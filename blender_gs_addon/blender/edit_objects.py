"""Edit the splats of a Blender object in place with the actions of ``splats/edit.py``.

Any splat object: ours (discs, or Blender 5.3's Gaussian-splat point clouds) and Blender's own.
The object keeps its name, transform, parent, modifiers and materials; its geometry is replaced
by one built from the edited splats. Each function returns (splats before, splats after) and
raises SplatObjectError (or EditError) with a message for the user; an edit that would remove
every splat is refused and changes nothing. Call them in Object mode.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import bpy
import numpy as np

from ..splats import edit
from ..splats.data import SplatData
from ..splats.transform import bake_transform
from . import native_splats
from .splat_objects import SplatObjectError, object_from_splats, splats_from_object

SPACES = ("LOCAL", "WORLD")  # the coordinates a position, box, sphere or column value is given in


def _matrix(obj) -> np.ndarray:
    return np.array(obj.matrix_world, dtype=np.float64)


def _frame(obj, space: str) -> np.ndarray | None:
    if space not in SPACES:
        raise SplatObjectError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
    return _matrix(obj) if space == "WORLD" else None


def replace_splats(obj, data: SplatData) -> None:
    """Give ``obj`` new geometry holding ``data`` (object-space splats); the old geometry goes if unused."""
    old = obj.data
    view_layer = bpy.context.view_layer
    selected = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    collection = obj.users_collection[0] if obj.users_collection else bpy.context.scene.collection
    made = object_from_splats(data, obj.name, collection, material=False)
    new = made.data
    bpy.data.objects.remove(made)
    for mat in old.materials:
        new.materials.append(mat)
    if native_splats.holds_native_splats(obj) and hasattr(new, "type"):
        new.type = old.type  # a native cloud the user switched to plain points stays so
    name = old.name
    obj.data = new
    if old.users == 0:
        (bpy.data.meshes if old.id_type == "MESH" else bpy.data.pointclouds).remove(old)
    new.name = name
    for o in selected:
        o.select_set(True)
    view_layer.objects.active = active


def edit_object(obj, change: Callable[[SplatData], SplatData], what: str = "the edit") -> tuple[int, int]:
    """Apply ``change`` to the object-space splats of ``obj`` -> (before, after); refuses to remove every splat."""
    data = splats_from_object(obj, apply_transform=False)
    new = change(data)
    if not len(new):
        raise SplatObjectError(f"{what} would remove every splat of {obj.name!r}; nothing was changed "
                               "(delete the object to remove them all)")
    if new is not data:
        replace_splats(obj, new)
    return len(data), len(new)


def _keep(obj, mask_of: Callable[[SplatData], np.ndarray], invert: bool, what: str) -> tuple[int, int]:
    return edit_object(obj, lambda d: edit.keep(d, mask_of(d) != invert), what)


# ----------------------------------------------------------------------------- transforms

def apply_transform(obj) -> tuple[int, int]:
    """Bake the object's world transform into its splats (SH rotated) and reset the transform: it looks the same."""
    matrix = _matrix(obj)
    counts = edit_object(obj, lambda d: bake_transform(d, matrix), "applying the transform")
    obj.matrix_world = np.eye(4).tolist()
    return counts


def transform_splats(obj, matrix, space: str = "LOCAL") -> tuple[int, int]:
    """Move the splats by a 4x4 matrix (rotation, translation, scale) in object (LOCAL) or WORLD coordinates."""
    frame = _frame(obj, space)
    return edit_object(obj, lambda d: edit.transform(d, np.asarray(matrix, np.float64), frame), "the transform")


# ----------------------------------------------------------------------------- filters and crops

def filter_nonfinite(obj) -> tuple[int, int]:
    """Remove splats holding NaN or infinite values (see edit.finite_mask)."""
    return _keep(obj, edit.finite_mask, False, "removing NaN and infinite splats")


def filter_value(obj, name: str, cmp: str, value: float, space: str = "LOCAL") -> tuple[int, int]:
    """Keep the splats whose attribute ``name`` compares ``cmp`` to ``value`` (see edit.value_mask)."""
    frame = _frame(obj, space)
    return _keep(obj, lambda d: edit.value_mask(d, name, cmp, value, frame), False, f"keeping {name} {cmp} {value:g}")


def crop_box(obj, lo: Sequence[float], hi: Sequence[float], space: str = "WORLD",
             invert: bool = False) -> tuple[int, int]:
    """Keep the splats whose centres lie in the box [lo, hi] (or, with ``invert``, remove those)."""
    frame = _frame(obj, space)
    return _keep(obj, lambda d: edit.box_mask(d, lo, hi, frame), invert, "the box crop")


def crop_sphere(obj, centre: Sequence[float], radius: float, space: str = "WORLD",
                invert: bool = False) -> tuple[int, int]:
    """Keep the splats whose centres lie closer than ``radius`` to ``centre`` (or remove those)."""
    frame = _frame(obj, space)
    return _keep(obj, lambda d: edit.sphere_mask(d, centre, radius, frame), invert, "the sphere crop")


def object_bounds(bounds) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of an object's own bounding box, in its local coordinates (an empty: its drawn size)."""
    if bounds.type == "EMPTY":
        size = bounds.empty_display_size
        return np.full(3, -size), np.full(3, size)
    corners = np.array([tuple(c) for c in bounds.bound_box], np.float64)
    return corners.min(axis=0), corners.max(axis=0)


def crop_to_object(obj, bounds, invert: bool = False) -> tuple[int, int]:
    """Keep the splats inside another object's bounding box, turned and scaled as that object is."""
    if bounds == obj:
        raise SplatObjectError("crop to the bounds of another object, not of the splats themselves")
    lo, hi = object_bounds(bounds)
    frame = np.linalg.inv(_matrix(bounds)) @ _matrix(obj)
    return _keep(obj, lambda d: edit.box_mask(d, lo, hi, frame), invert, f"cropping to {bounds.name!r}")


# ----------------------------------------------------------------------------- SH, decimation, merging, deletion

def reduce_sh(obj, degree: int) -> tuple[int, int]:
    return edit_object(obj, lambda d: edit.reduce_sh(d, degree), "reducing SH")


def decimate(obj, spec: str) -> tuple[int, int]:
    """Keep ``n`` or ``n%`` of the splats, the most important (see edit.log_importance)."""
    return edit_object(obj, lambda d: edit.decimate(d, edit.decimate_count(len(d), str(spec))), f"decimating to {spec}")


def merge_objects(target, others: Sequence) -> tuple[int, int]:
    """Move the splats of ``others`` into ``target`` (where they are in the world stays) and delete them."""
    others = [o for o in others if o != target]
    if not others:
        raise SplatObjectError("select two or more splat objects to merge (the active one receives the others)")
    to_target = np.linalg.inv(_matrix(target))
    parts = [bake_transform(splats_from_object(o, apply_transform=False), to_target @ _matrix(o)) for o in others]
    counts = edit_object(target, lambda d: edit.merge([d, *parts]), "the merge")
    for o in others:
        geometry = o.data
        bpy.data.objects.remove(o)
        if geometry.users == 0:
            (bpy.data.meshes if geometry.id_type == "MESH" else bpy.data.pointclouds).remove(geometry)
    return counts


def selected_points(obj) -> np.ndarray:
    """[N] bool: the points selected in Edit mode (point clouds: ``.selection``; meshes: ``.select_vert``)."""
    n = len(obj.data.points) if obj.type == "POINTCLOUD" else len(obj.data.vertices)
    attr = obj.data.attributes.get(".selection") or obj.data.attributes.get(".select_vert")
    mask = np.zeros(n, bool)
    if attr is not None and attr.domain == "POINT":
        if attr.data_type == "BOOLEAN":
            attr.data.foreach_get("value", mask)
        else:  # a float selection (Blender's soft selection of point clouds)
            soft = np.empty(n, np.float32)
            attr.data.foreach_get("value", soft)
            mask = soft > 0
    return mask


def delete_selected(obj) -> tuple[int, int]:
    """Delete the splats selected in Edit mode."""
    mask = selected_points(obj)
    if not mask.any():
        raise SplatObjectError(f"no splats of {obj.name!r} are selected; select some in Edit mode first")
    return edit_object(obj, lambda d: edit.keep(d, ~mask), "deleting the selection")
