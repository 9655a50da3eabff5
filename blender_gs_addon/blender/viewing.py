"""How splats look in the viewport and in renders (EEVEE and Cycles).

* Points: a material reading the ``Col`` colour, faded by ``alpha``; Blender sizes
  point-cloud points by the ``radius`` attribute.
* Ellipsoids: a geometry-nodes modifier instancing an oriented, scaled sphere per
  splat whose opacity is at least a threshold.
"""
from __future__ import annotations

import bpy

from procgen.geometry.node_groups import set_modifier_input

POINT_MATERIAL = "GS Splat Points"
ELLIPSOID_MATERIAL = "GS Splat Ellipsoids"
ELLIPSOID_GROUP = "GS Splat Ellipsoids"
ELLIPSOID_MODIFIER = "GS Ellipsoids"
ELLIPSOID_SIGMAS = 2.0  # ellipsoid half-axes = 2 standard deviations


def _set_blended(mat) -> None:
    if hasattr(mat, "surface_render_method"):  # EEVEE Next (4.2+)
        mat.surface_render_method = "BLENDED"
    elif hasattr(mat, "blend_method"):
        mat.blend_method = "BLEND"


def _splat_material(name: str, attribute_type: str):
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):  # always node-based from 5.0 on
        mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    col = nt.nodes.new("ShaderNodeAttribute")
    col.attribute_name, col.attribute_type = "Col", attribute_type
    alpha = nt.nodes.new("ShaderNodeAttribute")
    alpha.attribute_name, alpha.attribute_type = "alpha", attribute_type
    emit = nt.nodes.new("ShaderNodeEmission")  # splat colours are final radiance: no shading
    transparent = nt.nodes.new("ShaderNodeBsdfTransparent")
    mix = nt.nodes.new("ShaderNodeMixShader")
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    nt.links.new(col.outputs["Color"], emit.inputs["Color"])
    nt.links.new(alpha.outputs["Fac"], mix.inputs["Fac"])
    nt.links.new(transparent.outputs[0], mix.inputs[1])
    nt.links.new(emit.outputs[0], mix.inputs[2])
    nt.links.new(mix.outputs[0], out.inputs["Surface"])
    for i, node in enumerate((col, alpha, emit, transparent, mix, out)):
        node.location = (200 * i - 600, 0)
    _set_blended(mat)
    return mat


def assign_point_material(obj) -> None:
    mat = _splat_material(POINT_MATERIAL, "GEOMETRY")
    if mat.name not in obj.data.materials:
        obj.data.materials.append(mat)


MESH_POINTS_GROUP = "GS Mesh to Points"
MESH_POINTS_MODIFIER = "GS Points"


def add_mesh_points_modifier(obj) -> None:
    """Draw the vertices of a splat mesh as points sized by ``radius`` (Blender 4.2 fallback)."""
    ng = bpy.data.node_groups.get(MESH_POINTS_GROUP)
    if ng is None:
        ng = bpy.data.node_groups.new(MESH_POINTS_GROUP, "GeometryNodeTree")
        ng.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
        ng.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
        gin, gout = ng.nodes.new("NodeGroupInput"), ng.nodes.new("NodeGroupOutput")
        radius = ng.nodes.new("GeometryNodeInputNamedAttribute")
        radius.data_type = "FLOAT"
        radius.inputs["Name"].default_value = "radius"
        to_points = ng.nodes.new("GeometryNodeMeshToPoints")
        setmat = ng.nodes.new("GeometryNodeSetMaterial")
        setmat.inputs["Material"].default_value = _splat_material(POINT_MATERIAL, "GEOMETRY")
        ng.links.new(gin.outputs["Geometry"], to_points.inputs["Mesh"])
        ng.links.new(radius.outputs["Attribute"], to_points.inputs["Radius"])
        ng.links.new(to_points.outputs["Points"], setmat.inputs["Geometry"])
        ng.links.new(setmat.outputs["Geometry"], gout.inputs["Geometry"])
    mod = obj.modifiers.new(MESH_POINTS_MODIFIER, "NODES")
    mod.node_group = ng


def _ellipsoid_group():
    ng = bpy.data.node_groups.get(ELLIPSOID_GROUP)
    if ng is not None:
        return ng
    ng = bpy.data.node_groups.new(ELLIPSOID_GROUP, "GeometryNodeTree")
    ng.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    thr = ng.interface.new_socket("Opacity Threshold", in_out="INPUT", socket_type="NodeSocketFloat")
    thr.default_value, thr.min_value, thr.max_value = 0.5, 0.0, 1.0
    ng.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    N = ng.nodes
    L = ng.links
    gin, gout = N.new("NodeGroupInput"), N.new("NodeGroupOutput")

    def named(name):
        node = N.new("GeometryNodeInputNamedAttribute")
        node.data_type = "FLOAT"
        node.inputs["Name"].default_value = name
        return node.outputs["Attribute"]

    cmp = N.new("FunctionNodeCompare")
    cmp.data_type, cmp.operation = "FLOAT", "GREATER_EQUAL"
    L.new(named("alpha"), cmp.inputs[0])
    L.new(gin.outputs["Opacity Threshold"], cmp.inputs[1])
    rot = N.new("FunctionNodeQuaternionToRotation")
    for i, sock in enumerate(("W", "X", "Y", "Z")):
        L.new(named(f"rot_{i}"), rot.inputs[sock])
    scale = N.new("ShaderNodeCombineXYZ")
    for i, sock in enumerate(("X", "Y", "Z")):
        exp = N.new("ShaderNodeMath")
        exp.operation = "EXPONENT"
        L.new(named(f"scale_{i}"), exp.inputs[0])
        mul = N.new("ShaderNodeMath")
        mul.operation = "MULTIPLY"
        mul.inputs[1].default_value = ELLIPSOID_SIGMAS
        L.new(exp.outputs[0], mul.inputs[0])
        L.new(mul.outputs[0], scale.inputs[sock])
    sphere = N.new("GeometryNodeMeshIcoSphere")
    sphere.inputs["Radius"].default_value = 1.0
    sphere.inputs["Subdivisions"].default_value = 1
    setmat = N.new("GeometryNodeSetMaterial")
    setmat.inputs["Material"].default_value = _splat_material(ELLIPSOID_MATERIAL, "INSTANCER")
    L.new(sphere.outputs["Mesh"], setmat.inputs["Geometry"])
    inst = N.new("GeometryNodeInstanceOnPoints")
    L.new(gin.outputs["Geometry"], inst.inputs["Points"])
    L.new(cmp.outputs["Result"], inst.inputs["Selection"])
    L.new(setmat.outputs["Geometry"], inst.inputs["Instance"])
    L.new(rot.outputs["Rotation"], inst.inputs["Rotation"])
    L.new(scale.outputs["Vector"], inst.inputs["Scale"])
    L.new(inst.outputs["Instances"], gout.inputs["Geometry"])
    return ng


def set_ellipsoids(obj, enabled: bool, threshold: float = 0.5) -> None:
    """Show the splats of ``obj`` as oriented ellipsoids (opacity >= threshold), or as points again."""
    mod = obj.modifiers.get(ELLIPSOID_MODIFIER)
    if not enabled:
        if mod is not None:
            obj.modifiers.remove(mod)
        return
    if mod is None:
        mod = obj.modifiers.new(ELLIPSOID_MODIFIER, "NODES")
        mod.node_group = _ellipsoid_group()
    ident = next(s.identifier for s in mod.node_group.interface.items_tree
                 if getattr(s, "in_out", None) == "INPUT" and s.name == "Opacity Threshold")
    set_modifier_input(mod, ident, float(threshold))
    obj.update_tag()


