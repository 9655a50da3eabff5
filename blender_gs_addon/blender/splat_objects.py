"""SplatData <-> Blender POINTCLOUD objects, moving whole numpy arrays with foreach_set/get.

Every stored splat property becomes one float point attribute of the same name (x, y, z
are the point positions); the source file's property order and extra types are kept in
the custom property ``gs_layout`` so that export after import is bit-exact. Display
attributes are added for viewing: ``Col`` (RGBA: the splat colour converted from sRGB to
scene-linear, and the opacity), ``alpha`` (opacity) and
``radius`` (the point size).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import bpy
import numpy as np

from ..splats import SH_C0, SplatData, SplatFormatError
from ..splats.data import SplatValueWarning, check_property_names, field_columns, sh_degree_from_rest_count
from ..splats.ply import PLY_TYPES, PlyTable, read_ply_table, write_ply_records
from ..splats.sky_rows import SKY_PROPERTY, split_sky, with_sky
from ..splats.table import fields_from_table, gather, rows_from_fields, table_from_fields, transpose_blocked
from ..splats.transform import bake_transform
from . import native_splats

LAYOUT_KEY = "gs_layout"
RESERVED = {"position", "radius", "Col", "alpha", "id", ".select_vert", ".selection"}
FLOAT32_MAX = float(np.finfo(np.float32).max)
RADIUS_FACTOR = 1.5  # display radius = 1.5 x the geometric mean standard deviation


class SplatObjectError(ValueError):
    """The object does not hold splat attributes (or cannot be exported as it is)."""


def _extra_attribute_name(name: str, index: int, reserved) -> str:
    """The property's own name where it is free for an attribute, else ``gs_extra_<index>``."""
    if reserved(name) or name.startswith(".") or len(name.encode()) > 63:
        return f"gs_extra_{index}"
    return name


def _set_float(attrs, name: str, values: np.ndarray) -> None:
    attr = attrs.get(name)
    if attr is None or attr.data_type != "FLOAT" or attr.domain != "POINT":  # a converted cloud has a radius
        attr = attrs.new(name, "FLOAT", "POINT")
    attr.data.foreach_set("value", np.ascontiguousarray(values, np.float32))


def display_values(data: SplatData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(colour RGBA [N, 4], alpha [N], radius [N]) for viewing."""
    return _display(data.sh_dc, data.opacity_logit, data.scales_log)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values (what splats are trained on) -> scene-linear values (what Blender shades)."""
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _display(sh_dc: np.ndarray, opacity_logit: np.ndarray, scales_log: np.ndarray):
    with np.errstate(over="ignore"):  # exp overflow of very negative logits is alpha 0
        alpha = (1.0 / (1.0 + np.exp(-opacity_logit))).astype(np.float32)
    col = np.empty((len(alpha), 4), np.float32)
    col[:, :3] = srgb_to_linear(np.clip(0.5 + SH_C0 * sh_dc, 0.0, 1.0))
    col[:, 3] = alpha
    radius = RADIUS_FACTOR * np.exp(scales_log.astype(np.float64).mean(axis=1))
    too_big = int((radius > FLOAT32_MAX).sum())
    if too_big:
        warnings.warn(SplatValueWarning(f"{too_big} splats are too large to display (a radius beyond what float32 "
                                        f"holds); their display radius is {FLOAT32_MAX:.3g}"), stacklevel=2)
    return col, alpha, np.minimum(radius, FLOAT32_MAX).astype(np.float32)


def object_from_splats(data: SplatData, name: str = "Splats", collection=None,
                       material: bool = True) -> bpy.types.Object:
    """Create a POINTCLOUD object holding ``data`` (all properties, losslessly) and link it.

    Where Blender has Gaussian-splat point clouds the object is one (Blender draws and
    renders it as splats); elsewhere a point cloud of discs with the splat display material.
    collection: where to link it (default: the active scene collection). material: add the
    splat display material (discs only). The new object becomes the selected, active one.
    Nothing is left behind if this fails.
    """
    extras = list(data.extra.items())
    source = _Source(layout=data.layout, comments=data.comments, k1=data.sh_rest.shape[1],
                     has_normals=data.normals is not None, extras=extras)
    if native_splats.has_native_splats():
        names = [p for props in field_columns(data).values() for p in props]
        return _build_object(name, collection, len(data), source, material, (table_from_fields(data, names), names))
    names, rows = rows_from_fields(data)
    source.means, source.columns, source.display = np.ascontiguousarray(data.means), zip(names, rows), \
        display_values(data)
    return _build_object(name, collection, len(data), source, material)


def object_from_ply_table(tbl: PlyTable, name: str = "Splats", collection=None,
                          material: bool = True) -> bpy.types.Object:
    """Like object_from_splats, straight from the rows of a PLY file (one transposition, less memory)."""
    pos = {n: i for i, n in enumerate(tbl.names)}
    table = tbl.table
    core = set(tbl.core_names())
    extras = []
    for n, _ in tbl.layout:
        if n in tbl.extra:
            extras.append((n, tbl.extra[n]))
        elif n not in core:
            extras.append((n, np.ascontiguousarray(table[:, pos[n]])))
    source = _Source(layout=tbl.layout, comments=tbl.comments, k1=tbl.k1, has_normals=tbl.has_normals,
                     extras=extras)
    if native_splats.has_native_splats():
        return _build_object(name, collection, len(table), source, material, (table, tbl.names))
    source.means = gather(table, [pos["x"], pos["y"], pos["z"]])
    d = gather(table, [pos[p] for p in ("f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2")])
    source.display = _display(d[:, 0:3], d[:, 3], d[:, 4:7])
    del d
    core_cols = [n for n in tbl.names if n in core and n not in ("x", "y", "z")]
    idx = [pos[n] for n in core_cols]
    contiguous = idx == list(range(idx[0], idx[0] + len(idx)))
    rows = np.empty((len(idx), len(table)), np.float32)  # one contiguous row per attribute
    for i in range(0, len(table), 4096):  # cache-sized blocks of file rows, transposed
        block = table[i:i + 4096]
        rows[:, i:i + 4096] = (block[:, idx[0]:idx[0] + len(idx)] if contiguous else block[:, idx]).T
    source.columns = zip(core_cols, rows)
    return _build_object(name, collection, len(table), source, material)


@dataclass
class _Source:
    """What an object is built from: the file's description, and its values for one kind of object."""

    layout: list | None
    comments: list
    k1: int
    has_normals: bool
    extras: list  # (property name, [N] values) in file order
    means: np.ndarray | None = None  # discs: positions [N, 3]
    columns: object = None  # discs: (property, [N] float32) of every core property but x, y, z
    display: tuple | None = None  # discs: (colour [N, 4], alpha [N], radius [N])


def _new_geometry(name: str, n: int, collection):
    """(ID with ``n`` points to fill, its object or None): a point cloud sized here where Blender can,
    else one converted from a mesh of bare points (no attributes yet: the conversion copies
    nothing), else (Blender 4.2) the mesh itself."""
    if native_splats.can_resize_pointclouds():
        pc = bpy.data.pointclouds.new(name)
        pc.resize(n)
        return pc, None
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(n)
    if not can_make_pointclouds():
        return mesh, None
    obj = bpy.data.objects.new(name, mesh)
    (collection or bpy.context.scene.collection).objects.link(obj)
    try:
        _convert_to_pointcloud(obj)
    except BaseException:
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)
        raise
    bpy.data.meshes.remove(mesh)
    return obj.data, obj


def _fill_discs(attrs, source: _Source) -> None:
    attrs["position"].data.foreach_set("vector", source.means.reshape(-1))
    for prop, row in source.columns:
        _set_float(attrs, prop, row)
    col, alpha, radius = source.display
    attrs.new("Col", "FLOAT_COLOR", "POINT").data.foreach_set("color", col.reshape(-1))
    _set_float(attrs, "alpha", alpha)
    _set_float(attrs, "radius", radius)


def _fill_extras(attrs, extras, reserved) -> dict[str, str]:
    """One point attribute per extra property -> {property: attribute name}."""
    extra_attrs = {}
    for i, (prop, values) in enumerate(extras):
        attr_name = _extra_attribute_name(prop, i, reserved)
        extra_attrs[prop] = attr_name
        if values.dtype.kind in "iu" and values.dtype.itemsize >= 4:
            attr = attrs.new(attr_name, "INT", "POINT")
            attr.data.foreach_set("value", np.ascontiguousarray(values, np.int32))
        else:
            _set_float(attrs, attr_name, values)
    return extra_attrs


def _build_object(name, collection, n: int, source: _Source, material: bool, native_table=None):
    """A point-cloud object of ``n`` splats: native splats from ``native_table`` ([N, P] float32 rows, their
    property names) when given, else discs from ``source``'s columns (see object_from_splats)."""
    geom, obj = _new_geometry(name, n, collection)
    try:
        if native_table is not None:
            native_splats.fill_native(geom, *native_table, source.k1, source.has_normals)
            extra_attrs = _fill_extras(geom.attributes, source.extras, native_splats.is_native_name)
        else:
            _fill_discs(geom.attributes, source)
            extra_attrs = _fill_extras(geom.attributes, source.extras, lambda a: a in RESERVED)
        if obj is None:
            obj = bpy.data.objects.new(name, geom)
            (collection or bpy.context.scene.collection).objects.link(obj)
        if geom.id_type == "MESH":  # Blender 4.2: a modifier draws the mesh's points
            from .viewing import add_mesh_points_modifier

            add_mesh_points_modifier(obj)
        geom = None
        if native_table is not None:
            obj.data.type = native_splats.NATIVE_TYPE
        obj.data[LAYOUT_KEY] = json.dumps({
            "layout": [list(p) for p in (source.layout or [])],
            "comments": list(source.comments or []),
            "extra_attributes": extra_attrs,
            "extra_types": {k: v.dtype.str for k, v in source.extras},
            "sh_degree": int(round((source.k1 + 1) ** 0.5)) - 1,
            "has_normals": source.has_normals,
        })
        if material and native_table is None:
            from .viewing import assign_point_material

            assign_point_material(obj)
        _select_only(obj)
        return obj
    except BaseException:
        _remove_partial(obj, geom)
        raise


def _remove_partial(obj, geom) -> None:
    if obj is not None:
        data = obj.data
        bpy.data.objects.remove(obj)
        geom = data
    if geom is None or geom.users:
        return
    if geom.id_type == "MESH":
        bpy.data.meshes.remove(geom)
    else:
        bpy.data.pointclouds.remove(geom)


def _select_only(obj) -> None:
    view_layer = bpy.context.view_layer
    for other in view_layer.objects:
        if other.select_get():
            other.select_set(False)
    obj.select_set(True)
    view_layer.objects.active = obj


def can_make_pointclouds() -> bool:
    """Whether this Blender converts meshes to point clouds (4.3 and later; 4.2 cannot)."""
    target = bpy.ops.object.convert.get_rna_type().properties["target"]
    return "POINTCLOUD" in target.enum_items.keys()


def _convert_to_pointcloud(obj) -> None:
    """Mesh object -> POINTCLOUD in place (point clouds cannot be resized from Python).

    The conversion works on the selection, so ``obj`` becomes the only selected, active object.
    """
    view_layer = bpy.context.view_layer
    _select_only(obj)
    with bpy.context.temp_override(object=obj, active_object=obj, selected_objects=[obj],
                                   selected_editable_objects=[obj], view_layer=view_layer):
        result = bpy.ops.object.convert(target="POINTCLOUD")
    if "FINISHED" not in result or obj.type != "POINTCLOUD":
        raise RuntimeError(f"could not convert {obj.name!r} to a point cloud")
    for name in (".select_vert",):  # the mesh's selection layer is meaningless on the points
        attr = obj.data.attributes.get(name)
        if attr is not None:
            obj.data.attributes.remove(attr)


def _point_count(obj) -> int:
    if obj.type == "POINTCLOUD":
        return len(obj.data.points)
    if obj.type == "MESH":
        return len(obj.data.vertices)
    raise SplatObjectError(f"object {obj.name!r} is a {obj.type}, not a point cloud of splats")


def splats_from_object(obj, apply_transform: bool = True) -> SplatData:
    """Read the splats of a POINTCLOUD (or MESH) object into SplatData.

    Any splat object: ours (discs or native splats) and Blender's own native splats (from
    its PLY and SPZ importers), whose file values are derived back from what Blender keeps.
    apply_transform: bake ``obj.matrix_world`` into positions, rotations, scales and SH
    (rotation, translation and scale along the object's axes; shear raises an error).
    Call it in Object mode (the export operator leaves Edit mode itself, so points
    deleted there are not exported).
    """
    if obj.mode == "EDIT":
        raise SplatObjectError(f"object {obj.name!r} is in Edit mode; switch to Object mode to read its splats")
    n = _point_count(obj)
    if n == 0:
        raise SplatObjectError(f"object {obj.name!r} has no points")
    info = json.loads(obj.data.get(LAYOUT_KEY, "{}"))
    if native_splats.is_native(obj) and not native_splats.holds_native_splats(obj):
        raise SplatObjectError(f"object {obj.name!r} is a splat point cloud without {native_splats.BASE!r}, scale "
                               "and rotation attributes")
    if native_splats.holds_native_splats(obj):
        fields = native_splats.native_fields(obj.data, bool(info.get("has_normals", False)))
        if sh_degree_from_rest_count(fields["sh_rest"].shape[1]) is None:
            raise SplatObjectError(f"object {obj.name!r} has {fields['sh_rest'].shape[1]} SH attributes per channel; "
                                   "3DGS files hold 0, 3, 8 or 15")
        reserved = native_splats.is_native_name
    else:
        fields = _disc_fields(obj, n)
        reserved = _is_disc_name
    extra = _extras(obj.data.attributes, info, n, reserved)
    layout = [tuple(p) for p in info.get("layout", [])] or None
    data = SplatData(**fields, extra=extra, layout=layout, comments=info.get("comments", []))
    if apply_transform:
        data = bake_transform(data, np.array(obj.matrix_world, dtype=np.float64))
    return data


def _is_disc_name(name: str) -> bool:
    """Attributes of a disc splat object that are not extra properties (core ones, display, Blender's)."""
    return name in RESERVED or name.startswith(".") or name in _CORE_NAMES or name in ("x", "y", "z")


_CORE_NAMES = set(field_columns(15, True)["sh_rest"]) | {p for f, ps in field_columns(0, True).items() for p in ps}


def _disc_fields(obj, n: int) -> dict[str, np.ndarray]:
    """SplatData fields of an object whose attributes are named like the 3DGS properties."""
    attrs = obj.data.attributes
    names = [a.name for a in attrs if a.domain == "POINT"]
    prop_names = ["x", "y", "z"] + [p for p in names if p not in RESERVED and not p.startswith(".")]
    try:
        k1, has_normals = check_property_names(prop_names, None)
    except SplatFormatError as exc:
        raise SplatObjectError(f"object {obj.name!r} has no splat attributes ({exc.reason})") from None
    core = [p for props in field_columns(k1, has_normals).values() for p in props if p not in ("x", "y", "z")]
    rows = np.empty((len(core), n), np.float32)  # one contiguous row per attribute
    pos = np.empty(3 * n, np.float32)
    attrs["position"].data.foreach_get("vector", pos)
    table = np.empty((n, 3 + len(core)), np.float32)
    table[:, :3] = pos.reshape(n, 3)
    del pos
    for i, prop in enumerate(core):
        attr = attrs[prop]
        if attr.data_type != "FLOAT":
            raise SplatObjectError(f"attribute {prop!r} of {obj.name!r} is {attr.data_type}, expected FLOAT")
        attr.data.foreach_get("value", rows[i])
    transpose_blocked(rows, out=table[:, 3:])
    del rows
    return fields_from_table(table, ["x", "y", "z"] + core, k1, has_normals)


def _extras(attrs, info: dict, n: int, reserved) -> dict[str, np.ndarray]:
    """Extra properties: those kept at import (their own types), then point attributes added since (float)."""
    extra = {}
    extra_attrs = info.get("extra_attributes", {})
    extra_types = info.get("extra_types", {})
    for prop, attr_name in extra_attrs.items():
        if attr_name in attrs:
            extra[prop] = _read_values(attrs[attr_name], n, np.dtype(extra_types.get(prop, "<f4")))
    known = set(extra_attrs.values())
    for attr in attrs:  # attributes added in Blender after import travel as float extras
        if attr.domain == "POINT" and attr.name not in known and not reserved(attr.name) \
                and attr.data_type in ("FLOAT", "INT") and attr.name not in extra:
            extra[attr.name] = _read_values(attr, n, np.dtype(np.float32))
    return extra


def _read_values(attr, n: int, dtype: np.dtype) -> np.ndarray:
    if attr.data_type == "INT":
        buf = np.empty(n, np.int32)
    else:
        buf = np.empty(n, np.float32)
    attr.data.foreach_get("value", buf)
    return buf.astype(dtype.newbyteorder("="))


SKY_OBJECT_KEY = "gs_sky_object"  # on a scene's splat object: the name of its sky's object


def read_into_object(path: str, name: str | None = None, collection=None, material: bool = True):
    """Read a splat file (any format of splats.io) into a new splat object -> (object, count, SH degree).

    PLY files go straight from the file's rows into the attributes (the fast path). A file with a
    trained sky (rows marked by the `sky` property) gives the scene's object, returned, and the
    sky's own object "<name> sky", hidden in the viewport and in renders.
    """
    import os

    from ..splats import read_splats
    from ..splats.io import find_format

    path = os.fspath(path)
    suffix = getattr(find_format(path), "suffix", None)
    base = os.path.basename(path)
    name = name or (base[:-len(suffix)] if suffix else os.path.splitext(base)[0]) or "Splats"
    if suffix == ".ply":  # the 3DGS layout (not .compressed.ply)
        src = read_ply_table(path)
        if SKY_PROPERTY not in src.names and SKY_PROPERTY not in src.extra:
            return object_from_ply_table(src, name, collection, material), len(src), src.sh_degree
        data = src.to_splats()
    else:
        data = read_splats(path)
    scene, sky = split_sky(data)
    if sky is not None:
        sky_obj = object_from_splats(sky, f"{name} sky", collection, material)
        sky_obj.hide_set(True)
        sky_obj.hide_render = True
    obj = object_from_splats(scene, name, collection, material)
    if sky is not None:
        obj[SKY_OBJECT_KEY] = sky_obj.name
    return obj, len(scene), scene.sh_degree


def rename_splats(obj, name: str) -> None:
    """Rename a splat object, and its sky object after it."""
    sky = sky_object_of(obj)
    obj.name = name
    if sky is not None:
        sky.name = f"{obj.name} sky"
        obj[SKY_OBJECT_KEY] = sky.name


def sky_object_of(obj):
    """The sky object imported with a scene's splat object, or None."""
    name = obj.get(SKY_OBJECT_KEY)
    return None if name is None else bpy.data.objects.get(name)


def write_from_object(obj, path: str, apply_transform: bool = True, sky: bool = True) -> int:
    """Write the splats of ``obj`` to a splat file (format by suffix) -> the splat count.

    An untransformed object imported from a PLY file is written straight from its
    attributes in the file's own layout (bit-exact, no intermediate copies); everything
    else goes through SplatData (transform baking, other layouts, .splat). With `sky`, the
    sky object imported beside it follows the scene's rows (marked), as the trainer wrote them.
    """
    import os

    from ..splats import write_splats
    from ..splats.io import find_format

    path = os.fspath(path)
    sky_obj = sky_object_of(obj) if sky else None
    if sky_obj is not None:
        data = with_sky(splats_from_object(obj, apply_transform=apply_transform),
                        splats_from_object(sky_obj, apply_transform=apply_transform))
        write_splats(path, data)
        return len(data)
    plain_ply = getattr(find_format(path), "suffix", None) == ".ply"
    if plain_ply and (not apply_transform or _is_identity(obj.matrix_world)):
        count = _write_ply_direct(obj, path)
        if count is not None:
            return count
    data = splats_from_object(obj, apply_transform=apply_transform)
    write_splats(path, data)
    return len(data)


def _is_identity(matrix) -> bool:
    return bool(np.array_equal(np.array(matrix, dtype=np.float64), np.eye(4)))


def _write_ply_direct(obj, path: str) -> int | None:
    """The fast PLY export, or None when the object does not qualify (then use SplatData)."""
    if obj.mode == "EDIT":
        raise SplatObjectError(f"object {obj.name!r} is in Edit mode; switch to Object mode to read its splats")
    info = json.loads(obj.data.get(LAYOUT_KEY, "{}"))
    layout = [tuple(p) for p in info.get("layout", [])]
    if not layout or any(PLY_TYPES.get(t) != "f4" for _, t in layout):
        return None
    attrs = obj.data.attributes
    extra_attrs = info.get("extra_attributes", {})
    attr_of = {n: extra_attrs.get(n, n) for n, _ in layout if n not in ("x", "y", "z")}
    if any(a not in attrs or attrs[a].data_type != "FLOAT" or attrs[a].domain != "POINT" for a in attr_of.values()):
        return None
    exported = {a.name for a in attrs if a.domain == "POINT" and a.name not in RESERVED and not a.name.startswith(".")}
    if exported != set(attr_of.values()):  # attributes added or removed since import
        return None
    n = _point_count(obj)
    if n == 0:
        raise SplatObjectError(f"object {obj.name!r} has no points")
    rows = np.empty((len(layout), n), np.float32)
    pos = np.empty(3 * n, np.float32)
    attrs["position"].data.foreach_get("vector", pos)
    pos = pos.reshape(n, 3)
    for j, (prop, _) in enumerate(layout):
        if prop in ("x", "y", "z"):
            rows[j] = pos[:, "xyz".index(prop)]
        else:
            attrs[attr_of[prop]].data.foreach_get("value", rows[j])
    del pos

    def records(block: int = 4096):  # file rows, transposed through one reused buffer
        buf = np.empty((block, len(layout)), "<f4")
        for i in range(0, n, block):
            b = min(block, n - i)
            buf[:b] = rows[:, i:i + b].T
            yield buf[:b]

    write_ply_records(path, layout, n, records(), info.get("comments", []))
    return n
