"""Building Blender meshes and objects from numpy arrays, and tagging them."""
from __future__ import annotations

import bpy
import numpy as np


def mesh_from_arrays(name: str, verts: np.ndarray, faces: np.ndarray | list, smooth: bool = False,
                     material_indices: np.ndarray | None = None) -> "bpy.types.Mesh":
    """A mesh from vertices [V, 3] and faces: an int array [F, k] (all k-gons) or a list of
    int arrays of mixed sizes. Uses foreach_set, so 100k faces take milliseconds."""
    verts = np.ascontiguousarray(verts, dtype=np.float32).reshape(-1, 3)
    if isinstance(faces, np.ndarray):
        faces = np.asarray(faces, dtype=np.int32)
        loops = faces.reshape(-1)
        sizes = np.full(len(faces), faces.shape[1], dtype=np.int32)
    else:
        loops = np.concatenate([np.asarray(f, dtype=np.int32) for f in faces]) if faces else np.zeros(0, np.int32)
        sizes = np.array([len(f) for f in faces], dtype=np.int32)
    starts = np.zeros(len(sizes), dtype=np.int32)
    if len(sizes):
        starts[1:] = np.cumsum(sizes)[:-1]
    me = bpy.data.meshes.new(name)
    me.vertices.add(len(verts))
    me.vertices.foreach_set("co", verts.ravel())
    me.loops.add(len(loops))
    me.loops.foreach_set("vertex_index", loops)
    me.polygons.add(len(sizes))
    me.polygons.foreach_set("loop_start", starts)
    if material_indices is not None:
        me.polygons.foreach_set("material_index", np.asarray(material_indices, dtype=np.int32))
    me.update(calc_edges=True)
    me.validate(clean_customdata=False)
    if smooth:
        me.polygons.foreach_set("use_smooth", np.ones(len(sizes), dtype=bool))
    return me


def mesh_from_geo(name: str, geo, materials=()) -> "bpy.types.Mesh":
    """A mesh from a ``mesh_arrays.Geo``: faces, material slots, per-face smooth shading and the
    per-vertex float attributes (readable in shaders through an Attribute node)."""
    me = bpy.data.meshes.new(name)
    me.vertices.add(geo.n_verts)
    me.vertices.foreach_set("co", np.ascontiguousarray(geo.verts, dtype=np.float32).ravel())
    me.loops.add(len(geo.loops))
    me.loops.foreach_set("vertex_index", np.ascontiguousarray(geo.loops, dtype=np.int32))
    me.polygons.add(geo.n_faces)
    starts = np.zeros(geo.n_faces, dtype=np.int32)
    if geo.n_faces:
        starts[1:] = np.cumsum(geo.sizes)[:-1]
    me.polygons.foreach_set("loop_start", starts)
    me.polygons.foreach_set("material_index", np.ascontiguousarray(geo.mat, dtype=np.int32))
    me.update(calc_edges=True)
    me.validate(clean_customdata=False)
    me.polygons.foreach_set("use_smooth", np.ascontiguousarray(geo.smooth, dtype=bool))
    for key, values in geo.attrs.items():
        me.attributes.new(key, "FLOAT", "POINT").data.foreach_set("value", np.ascontiguousarray(values, np.float32))
    for mat in materials:
        me.materials.append(mat)
    return me


def new_object(name: str, data, gs_class: str, collection=None) -> "bpy.types.Object":
    """An object linked into ``collection`` (default: the scene's), tagged with its semantic class."""
    ob = bpy.data.objects.new(name, data)
    (collection or bpy.context.scene.collection).objects.link(ob)
    ob["gs_class"] = gs_class
    return ob


def enable_nodes(idblock) -> None:
    """Give a material or world its node tree (always there from Blender 5.0, where the
    switch is deprecated)."""
    if bpy.app.version < (5, 0, 0) or idblock.node_tree is None:
        idblock.use_nodes = True


def get_collection(name: str, parent=None) -> "bpy.types.Collection":
    col = bpy.data.collections.get(name)
    if col is None:
        col = bpy.data.collections.new(name)
        (parent or bpy.context.scene.collection).children.link(col)
    return col
