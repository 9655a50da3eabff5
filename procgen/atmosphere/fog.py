"""Height fog as a shading effect: every surface fades into the colour of the lit air by the
fog it is seen through, with no volume to render.

The fog's density falls off with height: density(z) = d0 * exp(-(z - ground) / H). Along a
ray of length L from height zc to a surface at height zp its optical depth is

    tau = d0 * L * exp(-(zc - ground) / H) * (1 - exp(-x)) / x,   x = (zp - zc) / H,

and the surface is seen as mix(surface, fog colour, 1 - exp(-tau)). One shader node group
computes this from the Geometry node (the point and the direction back along the ray) and
the Light Path node (the ray's length); ``apply_fog`` splices it in front of every
material's output. Scattered volumes cost a quarter of a dense frame's render time; this
costs a handful of math nodes per shading point. The ground truth is untouched (fog is
colour only); the sky itself stays clear, as it does above ground fog.
"""
from __future__ import annotations

from functools import partial

import bpy

from ..geometry.blender_mesh import enable_nodes
from ..geometry.node_groups import math_node, new_group

GROUP = "gs_height_fog"


def fog_group(density: float, height: float, ground: float, colour: tuple) -> "bpy.types.ShaderNodeTree":
    """The node group: Shader in, Shader out, with the fog's parameters baked in."""
    ng, gin, gout = new_group(GROUP, "Shader")
    n, link, math = ng.nodes, ng.links.new, partial(math_node, ng)
    geo, path = n.new("ShaderNodeNewGeometry"), n.new("ShaderNodeLightPath")

    zp = n.new("ShaderNodeSeparateXYZ")
    link(geo.outputs["Position"], zp.inputs[0])
    towards = n.new("ShaderNodeSeparateXYZ")  # "Incoming" points back along the ray
    link(geo.outputs["Incoming"], towards.inputs[0])
    length = path.outputs["Ray Length"]
    zc = math("ADD", zp.outputs["Z"], math("MULTIPLY", length, towards.outputs["Z"]))
    x = math("DIVIDE", math("SUBTRACT", zp.outputs["Z"], zc), height)
    x = math("ADD", x, math("MULTIPLY", math("SIGN", x), 1e-4))  # keep clear of 0
    x = math("ADD", x, math("MULTIPLY", math("COMPARE", x, 0.0), 1e-4))  # x == 0 exactly
    ratio = math("DIVIDE", math("SUBTRACT", 1.0, math("EXPONENT", math("MULTIPLY", x, -1.0))), x)
    start = math("EXPONENT", math("DIVIDE", math("SUBTRACT", zc, ground), -height))
    tau = math("MULTIPLY", math("MULTIPLY", math("MULTIPLY", length, density), start), ratio)
    amount = math("SUBTRACT", 1.0, math("EXPONENT", math("MULTIPLY", tau, -1.0)))
    air = n.new("ShaderNodeEmission")
    air.inputs["Color"].default_value = (*colour, 1.0)
    mix = n.new("ShaderNodeMixShader")
    link(math("MINIMUM", math("MAXIMUM", amount, 0.0), 1.0), mix.inputs[0])
    link(gin.outputs[0], mix.inputs[1])
    link(air.outputs[0], mix.inputs[2])
    link(mix.outputs[0], gout.inputs[0])
    return ng


def apply_fog(materials, group) -> int:
    """Put ``group`` between each material's surface shader and its output; returns how many."""
    done = 0
    for mat in materials:
        if mat is None:
            continue
        enable_nodes(mat)
        nt = mat.node_tree
        for out in [nd for nd in nt.nodes if nd.type == "OUTPUT_MATERIAL"]:
            surface = out.inputs["Surface"]
            if not surface.is_linked:
                continue
            src = surface.links[0].from_socket
            node = nt.nodes.new("ShaderNodeGroup")
            node.node_tree = group
            nt.links.new(src, node.inputs[0])
            nt.links.new(node.outputs[0], surface)
            done += 1
        not_a_light(mat)
    return done


def not_a_light(mat) -> None:
    """The glow of fogged air lights nothing by itself: without this, Cycles would treat every
    triangle of every fogged mesh as a light to sample (gigabytes, and minutes per frame)."""
    cycles = getattr(mat, "cycles", None)
    if cycles is not None and hasattr(cycles, "emission_sampling"):
        cycles.emission_sampling = "NONE"
