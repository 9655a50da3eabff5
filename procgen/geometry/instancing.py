"""Many copies as one object: a point per copy and a geometry-nodes modifier that puts the
copy's mesh on it. The renderer gives the whole object one instance id (geometry-node
instances take their carrier's ``pass_index``), so a kind placed this way is "stuff" in
the segmentation (one id for all grass, say) and costs one object instead of thousands."""
from __future__ import annotations

import bpy
import numpy as np

from .blender_mesh import mesh_from_arrays, new_object
from .node_groups import new_group


def instance_on_points(name: str, meshes: list, poses, gs_class: str, collection) -> "bpy.types.Object":
    """The carrier object ``name`` holding ``poses`` (``scatter.Poses``: location, XYZ Euler
    rotation and scale [K, 3], variant [K]) of ``meshes``.

    Each mesh gets a source object that does not render by itself; the carrier instances
    the sources' geometry at the copies' points with their rotation and scale."""
    loc = np.asarray(poses.location, dtype=np.float64).reshape(-1, 3)
    rot = np.asarray(poses.rotation, dtype=np.float32).reshape(-1, 3)
    scale = np.asarray(poses.scale, dtype=np.float32).reshape(-1, 3)
    variant = np.asarray(poses.variant, dtype=np.int64)
    me = mesh_from_arrays(f"{name}_points", loc, [])
    for attr, values in (("rotation", rot), ("scale", scale)):
        me.attributes.new(attr, "FLOAT_VECTOR", "POINT").data.foreach_set("vector", values.ravel())
    sources = []
    for i, mesh in enumerate(meshes):
        me.attributes.new(f"variant_{i}", "BOOLEAN", "POINT").data.foreach_set("value", variant == i)
        src = new_object(f"{name}_source_{i:02d}", mesh, gs_class, collection)
        src.hide_render = True  # renders only through the carrier
        src.hide_set(True)
        sources.append(src)
    carrier = new_object(name, me, gs_class, collection)
    carrier["gs_instances"] = len(loc)
    carrier.modifiers.new("instances", "NODES").node_group = _node_group(f"{name}_instances", sources)
    return carrier


def _node_group(name: str, sources: list) -> "bpy.types.GeometryNodeTree":
    """Points in; for each source i, its geometry on the points whose ``variant_i`` is set."""
    ng, gin, gout = new_group(name, "Geometry")
    nodes, link = ng.nodes, ng.links.new
    join = nodes.new("GeometryNodeJoinGeometry")
    rotation = nodes.new("FunctionNodeEulerToRotation")
    link(_attribute(nodes, "rotation", "FLOAT_VECTOR"), rotation.inputs[0])
    scale = _attribute(nodes, "scale", "FLOAT_VECTOR")
    for i, src in enumerate(sources):
        info, iop = nodes.new("GeometryNodeObjectInfo"), nodes.new("GeometryNodeInstanceOnPoints")
        info.inputs["Object"].default_value = src
        link(gin.outputs[0], iop.inputs["Points"])
        link(_attribute(nodes, f"variant_{i}", "BOOLEAN"), iop.inputs["Selection"])
        link(info.outputs["Geometry"], iop.inputs["Instance"])
        link(rotation.outputs[0], iop.inputs["Rotation"])
        link(scale, iop.inputs["Scale"])
        link(iop.outputs["Instances"], join.inputs[0])
    link(join.outputs[0], gout.inputs[0])
    return ng


def _attribute(nodes, name: str, data_type: str):
    node = nodes.new("GeometryNodeInputNamedAttribute")
    node.data_type = data_type
    node.inputs["Name"].default_value = name
    return node.outputs["Attribute"]
