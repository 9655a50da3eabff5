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

import bpy
import numpy as np

from ..splats import SH_C0, SplatData, SplatFormatError
from ..splats.data import check_property_names, field_columns
from ..splats.ply import PLY_TYPES, PlyTable, read_ply_table, write_ply_records
from ..splats.table import fields_from_table, gather, rows_from_fields, transpose_blocked
from ..splats.transform import bake_transform

LAYOUT_KEY = "gs_layout"
DISPLAY_ATTRIBUTES = ("Col", "alpha", "radius")
RESERVED = {"position", "radius", "Col", "alpha", "id", ".select_vert", ".selection"}
RADIUS_FACTOR = 1.5  # display radius = 1.5 x the geometric mean standard deviation


class SplatObjectError(ValueError):
    """The object does not hold splat attributes (or cannot be exported as it is)."""


def _extra_attribute_name(name: str, index: int) -> str:
    if name in RESERVED or name.startswith(".") or len(name.encode()) > 63:
        return f"gs_extra_{index}"
    return name


def _set_float(attrs, name: str, values: np.ndarray) -> None:
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
    radius = (RADIUS_FACTOR * np.exp(scales_log.mean(axis=1))).astype(np.float32)
    return col, alpha, radius


def object_from_splats(data: SplatData, name: str = "Splats", collection=None,
                       material: bool = True) -> bpy.types.Object:
    """Create a POINTCLOUD object holding ``data`` (all properties, losslessly) and link it.

    collection: where to link it (default: the active scene collection). material: add the
    splat display material. The new object becomes the selected, active one. Nothing is
    left behind if this fails.
    """
    names, rows = rows_from_fields(data)
    extras = list(data.extra.items())
    return _build_object(
        name, collection, np.ascontiguousarray(data.means), zip(names, rows), extras, display_values(data),
        layout=data.layout, comments=data.comments, sh_degree=data.sh_degree, has_normals=data.normals is not None,
        material=material)


def object_from_ply_table(tbl: PlyTable, name: str = "Splats", collection=None,
                          material: bool = True) -> bpy.types.Object:
    """Like object_from_splats, straight from the rows of a PLY file (one transposition, less memory)."""
    pos = {n: i for i, n in enumerate(tbl.names)}
    table = tbl.table
    means = gather(table, [pos["x"], pos["y"], pos["z"]])
    d = gather(table, [pos[p] for p in ("f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2")])
    display = _display(d[:, 0:3], d[:, 3], d[:, 4:7])
    del d
    core = set(tbl.core_names())
    float_cols = [n for n in tbl.names if n not in ("x", "y", "z")]
    table_extras = [n for n in float_cols if n not in core]
    core_cols = [n for n in float_cols if n in core]

    def columns():  # transpose 8 columns at a time into one reused buffer
        scratch = np.empty((8, len(table)), np.float32)
        for g in range(0, len(core_cols), 8):
            group = core_cols[g:g + 8]
            idx = [pos[n] for n in group]
            for i in range(0, len(table), 4096):
                scratch[:len(group), i:i + 4096] = gather(table[i:i + 4096], idx).T
            for j, n in enumerate(group):
                yield n, scratch[j]

    extras = []
    for n, _ in tbl.layout:
        if n in tbl.extra:
            extras.append((n, tbl.extra[n]))
        elif n in table_extras:
            extras.append((n, np.ascontiguousarray(table[:, pos[n]])))
    return _build_object(name, collection, means, columns(), extras, display, layout=tbl.layout,
                         comments=tbl.comments, sh_degree=tbl.sh_degree, has_normals=tbl.has_normals,
                         material=material)


def _build_object(name, collection, means, columns, extras, display, layout, comments, sh_degree, has_normals,
                  material):
    """Mesh with every attribute set, converted to a point cloud (see object_from_splats)."""
    n = len(means)
    mesh = bpy.data.meshes.new(name)
    obj = None
    try:
        mesh.vertices.add(n)
        attrs = mesh.attributes
        attrs["position"].data.foreach_set("vector", means.reshape(-1))
        for prop, row in columns:
            _set_float(attrs, prop, row)
        extra_attrs = {}
        for i, (prop, values) in enumerate(extras):
            attr_name = _extra_attribute_name(prop, i)
            extra_attrs[prop] = attr_name
            if values.dtype.kind in "iu" and values.dtype.itemsize >= 4:
                attr = attrs.new(attr_name, "INT", "POINT")
                attr.data.foreach_set("value", np.ascontiguousarray(values, np.int32))
            else:
                _set_float(attrs, attr_name, values)
        col, alpha, radius = display
        attrs.new("Col", "FLOAT_COLOR", "POINT").data.foreach_set("color", col.reshape(-1))
        _set_float(attrs, "alpha", alpha)
        _set_float(attrs, "radius", radius)

        obj = bpy.data.objects.new(name, mesh)
        (collection or bpy.context.scene.collection).objects.link(obj)
        if can_make_pointclouds():
            _convert_to_pointcloud(obj)
            bpy.data.meshes.remove(mesh)
        else:  # Blender 4.2: the splats stay mesh vertices, drawn as points by a modifier
            from .viewing import add_mesh_points_modifier

            add_mesh_points_modifier(obj)
            _select_only(obj)
        mesh = None
        obj.data[LAYOUT_KEY] = json.dumps({
            "layout": [list(p) for p in (layout or [])],
            "comments": list(comments or []),
            "extra_attributes": extra_attrs,
            "extra_types": {k: v.dtype.str for k, v in extras},
            "sh_degree": sh_degree,
            "has_normals": has_normals,
        })
        if material:
            from .viewing import assign_point_material

            assign_point_material(obj)
        return obj
    except BaseException:
        if obj is not None:
            other = obj.data if obj.type == "POINTCLOUD" else None
            bpy.data.objects.remove(obj)
            if other is not None:
                bpy.data.pointclouds.remove(other)
        if mesh is not None:
            bpy.data.meshes.remove(mesh)
        raise


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
    attrs = obj.data.attributes
    info = json.loads(obj.data.get(LAYOUT_KEY, "{}"))
    names = [a.name for a in attrs if a.domain == "POINT"]
    layout = [tuple(p) for p in info.get("layout", [])] or None
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
    fields = fields_from_table(table, ["x", "y", "z"] + core, k1, has_normals)
    del table
    extra = {}
    extra_attrs = info.get("extra_attributes", {})
    extra_types = info.get("extra_types", {})
    known = set(core) | {a for a in extra_attrs.values()}
    for prop, attr_name in extra_attrs.items():
        if attr_name in attrs:
            extra[prop] = _read_values(attrs[attr_name], n, np.dtype(extra_types.get(prop, "<f4")))
    for prop in names:  # attributes added in Blender after import travel as float extras
        if prop not in known and prop not in RESERVED and not prop.startswith(".") and prop not in ("x", "y", "z") \
                and attrs[prop].data_type in ("FLOAT", "INT"):
            extra[prop] = _read_values(attrs[prop], n, np.dtype(np.float32))
    data = SplatData(**fields, extra=extra, layout=layout, comments=info.get("comments", []))
    if apply_transform:
        data = bake_transform(data, np.array(obj.matrix_world, dtype=np.float64))
    return data


def _read_values(attr, n: int, dtype: np.dtype) -> np.ndarray:
    if attr.data_type == "INT":
        buf = np.empty(n, np.int32)
    else:
        buf = np.empty(n, np.float32)
    attr.data.foreach_get("value", buf)
    return buf.astype(dtype.newbyteorder("="))


def read_into_object(path: str, name: str | None = None, collection=None, material: bool = True):
    """Read a splat file (any format of splats.io) into a new splat object -> (object, count, SH degree).

    PLY files go straight from the file's rows into the attributes (the fast path).
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
        return object_from_ply_table(src, name, collection, material), len(src), src.sh_degree
    data = read_splats(path)
    return object_from_splats(data, name, collection, material), len(data), data.sh_degree


def write_from_object(obj, path: str, apply_transform: bool = True) -> int:
    """Write the splats of ``obj`` to a splat file (format by suffix) -> the splat count.

    An untransformed object imported from a PLY file is written straight from its
    attributes in the file's own layout (bit-exact, no intermediate copies); everything
    else goes through SplatData (transform baking, other layouts, .splat).
    """
    import os

    from ..splats import write_splats
    from ..splats.io import find_format

    path = os.fspath(path)
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
