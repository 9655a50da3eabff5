"""Geometry nodes that move plants in the wind (``assembly.wind`` has the formulas), on the
scene time, so every evaluated mesh, Blender's ray casts and Cycles' vector pass see the same
deformed surfaces:

- ``bend_group``: the modifier of a plant with its own object (tree, bush, kelp): a point at
  height h bends downwind by theta(t, s) h^2 / H, and flutters by a fraction of ``flutter``
  that grows with height (and, for a crown, with the distance from the trunk);
- ``flutter_group``: the modifier of a mesh that many copies share (a grass clump, a fern):
  the flutter alone, in no particular direction, so copies turned every way look alike;
- ``add_instance_shear``: in a carrier's instancing nodes, each copy sheared downwind by
  theta(t, s) times the height above its base, s from the copy's own position.
"""
from __future__ import annotations

from functools import partial

import bpy
import numpy as np

from ..geometry.node_groups import add_node, math_node, new_group, set_modifier_input
from .wind import Sway, Wind

# fixed directions over which the flutter's phase turns: leaves and blades in different places
# flutter out of step
_Q1 = (0.8, 0.6, 0.5)
_Q2 = (-0.6, 0.8, -0.3)


def _seconds(ng):
    return ng.nodes.new("GeometryNodeInputSceneTime").outputs["Seconds"]


def bend_angle(ng, wind: Wind, sway: Sway, phase) -> "bpy.types.NodeSocket":
    """theta = strength (lean + gust g) with g's argument w t + ``phase`` (a socket: -w s / c)."""
    m = partial(math_node, ng)
    a = m("ADD", m("MULTIPLY", _seconds(ng), wind.omega), phase)
    g = m("ADD", m("SINE", a), m("MULTIPLY", m("SINE", m("ADD", m("MULTIPLY", a, 2.7), 1.3)), 0.4))
    return m("MULTIPLY", m("ADD", m("MULTIPLY", g, sway.gust), sway.lean), wind.strength)


def _flutter(ng, position, weight, sway: Sway, wind: Wind, along, across, phase=0.0):
    """strength * flutter * weight * (sin(a1) along + sin(a2) across), a1 and a2 turning with the
    position (``along``, ``across``: direction sockets or tuples)."""
    m, vec = partial(math_node, ng), partial(add_node, ng, "ShaderNodeVectorMath")
    t = _seconds(ng)
    out = None
    for q, hz, axis in ((_Q1, 1.0, along), (_Q2, 1.37, across)):
        dot = vec({0: position, 1: q}, "Value", operation="DOT_PRODUCT")
        arg = m("ADD", m("MULTIPLY", t, 2 * np.pi * sway.flutter_hz * hz),
                m("ADD", m("MULTIPLY", dot, sway.flutter_scale), phase))
        amount = m("MULTIPLY", m("MULTIPLY", m("SINE", arg), weight), sway.flutter * wind.strength)
        if not hasattr(axis, "is_output"):
            axis = add_node(ng, "ShaderNodeCombineXYZ", dict(zip("XYZ", axis)))
        term = vec({0: axis, "Scale": amount}, operation="SCALE")
        out = term if out is None else vec({0: out, 1: term}, operation="ADD")
    return out


def _set_position(ng, gin, gout, offset) -> None:
    setp = ng.nodes.new("GeometryNodeSetPosition")
    ng.links.new(gin.outputs[0], setp.inputs["Geometry"])
    ng.links.new(offset, setp.inputs["Offset"])
    ng.links.new(setp.outputs[0], gout.inputs[0])


def bend_group(name: str, wind: Wind, sway: Sway, crown: bool) -> "bpy.types.GeometryNodeTree":
    """The modifier of one plant object, with inputs set per object (``set_bend_inputs``):
    Direction (the downwind unit vector in the object's axes, over its scale), Phase (-w s / c)
    and Height (the plant's height in its own units). ``crown``: the flutter also grows with
    the distance from the trunk's axis (leaves at the branch tips, not the trunk)."""
    ng, gin, gout = new_group(name, "Geometry")
    direction = ng.interface.new_socket("Direction", in_out="INPUT", socket_type="NodeSocketVector")
    ng.interface.new_socket("Phase", in_out="INPUT", socket_type="NodeSocketFloat")
    height = ng.interface.new_socket("Height", in_out="INPUT", socket_type="NodeSocketFloat")
    height.default_value, direction.default_value = 1.0, (1.0, 0.0, 0.0)
    m, vec = partial(math_node, ng), partial(add_node, ng, "ShaderNodeVectorMath")
    position = ng.nodes.new("GeometryNodeInputPosition").outputs[0]
    sep = ng.nodes.new("ShaderNodeSeparateXYZ")
    ng.links.new(position, sep.inputs[0])
    d, ph, top = gin.outputs["Direction"], gin.outputs["Phase"], gin.outputs["Height"]
    h = m("MAXIMUM", sep.outputs["Z"], 0.0)
    bend = vec({0: d, "Scale": m("MULTIPLY", bend_angle(ng, wind, sway, ph), m("DIVIDE", m("MULTIPLY", h, h), top))},
               operation="SCALE")
    weight = m("MINIMUM", m("DIVIDE", h, top), 1.0)
    if crown:
        flat = add_node(ng, "ShaderNodeCombineXYZ", {"X": sep.outputs["X"], "Y": sep.outputs["Y"], "Z": 0.0})
        r = vec({0: flat}, "Value", operation="LENGTH")
        weight = m("MULTIPLY", weight, m("MINIMUM", m("DIVIDE", r, m("MULTIPLY", top, 0.25)), 1.0))
    dsep = ng.nodes.new("ShaderNodeSeparateXYZ")
    ng.links.new(d, dsep.inputs[0])
    flip = m("MULTIPLY", dsep.outputs["Y"], -1.0)
    across = add_node(ng, "ShaderNodeCombineXYZ", {"X": flip, "Y": dsep.outputs["X"], "Z": 0.0})
    flutter = _flutter(ng, position, weight, sway, wind, (0.0, 0.0, 0.7), across)
    _set_position(ng, gin, gout, vec({0: bend, 1: flutter}, operation="ADD"))
    return ng


def set_bend_inputs(modifier, ob, wind: Wind, height: float) -> None:
    """Direction, Phase and Height of ``bend_group``'s modifier on ``ob`` from its world matrix."""
    m = np.array(ob.matrix_world, np.float64)[:3, :3]
    d = np.linalg.solve(m, np.array([*wind.vector, 0.0]))  # world downwind -> the object's axes
    base = np.array(ob.matrix_world.translation[:2], np.float64)
    values = {"Direction": tuple(float(v) for v in d), "Height": float(max(height, 1e-3)),
              "Phase": float(-wind.omega * (base @ wind.vector) / wind.gust_speed)}
    ng = modifier.node_group
    for item in ng.interface.items_tree:
        if getattr(item, "in_out", None) == "INPUT" and item.name in values:
            set_modifier_input(modifier, item.identifier, values[item.name])


def flutter_group(name: str, wind: Wind, sway: Sway, height: float, phase: float) -> "bpy.types.GeometryNodeTree":
    """The modifier of a mesh many copies share: the flutter alone, growing as (h / height)^2."""
    ng, gin, gout = new_group(name, "Geometry")
    m = partial(math_node, ng)
    position = ng.nodes.new("GeometryNodeInputPosition").outputs[0]
    sep = ng.nodes.new("ShaderNodeSeparateXYZ")
    ng.links.new(position, sep.inputs[0])
    u = m("MINIMUM", m("DIVIDE", m("MAXIMUM", sep.outputs["Z"], 0.0), max(height, 1e-3)), 1.0)
    flutter = _flutter(ng, position, m("MULTIPLY", u, u), sway, wind, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), phase)
    _set_position(ng, gin, gout, flutter)
    return ng


def add_instance_shear(ng: "bpy.types.GeometryNodeTree", wind: Wind, sway: Sway, selection: str) -> None:
    """Shear the instances that reach ``ng``'s output with the boolean attribute ``selection`` set
    downwind about their base: x -> x + theta(t, s) (z - base z) d, with s = base . d (the
    carrier's axes are the world's)."""
    gout = next(n for n in ng.nodes if n.type == "GROUP_OUTPUT")
    source = gout.inputs[0].links[0].from_socket
    nodes, link = ng.nodes, ng.links.new
    m, vec = partial(math_node, ng), partial(add_node, ng, "ShaderNodeVectorMath")
    transform = nodes.new("GeometryNodeInstanceTransform").outputs[0]
    split = nodes.new("FunctionNodeSeparateTransform")
    link(transform, split.inputs[0])
    base = split.outputs["Translation"]
    dx, dy = (float(v) for v in wind.vector)
    s = vec({0: base, 1: (dx, dy, 0.0)}, "Value", operation="DOT_PRODUCT")
    theta = bend_angle(ng, wind, sway, m("MULTIPLY", s, -wind.omega / wind.gust_speed))
    shear = nodes.new("FunctionNodeCombineMatrix")  # identity but column 3 (z) rows 1-2: theta d
    link(m("MULTIPLY", theta, dx), shear.inputs["Column 3 Row 1"])
    link(m("MULTIPLY", theta, dy), shear.inputs["Column 3 Row 2"])
    to_base, from_base = nodes.new("FunctionNodeCombineTransform"), nodes.new("FunctionNodeCombineTransform")
    link(base, to_base.inputs["Translation"])
    link(vec({0: base, "Scale": -1.0}, operation="SCALE"), from_base.inputs["Translation"])
    product = transform
    for left in (from_base.outputs[0], shear.outputs[0], to_base.outputs[0]):  # T(b) H T(-b) M
        mul = nodes.new("FunctionNodeMatrixMultiply")
        link(left, mul.inputs[0])
        link(product, mul.inputs[1])
        product = mul.outputs[0]
    setm = nodes.new("GeometryNodeSetInstanceTransform")
    link(source, setm.inputs["Instances"])
    link(product, setm.inputs["Transform"])
    chosen = nodes.new("GeometryNodeInputNamedAttribute")
    chosen.data_type = "BOOLEAN"
    chosen.inputs["Name"].default_value = selection
    link(chosen.outputs["Attribute"], setm.inputs["Selection"])
    link(setm.outputs[0], gout.inputs[0])
