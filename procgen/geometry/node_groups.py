"""Node groups built from Python: a group with one socket in and one out, Math nodes on
sockets or numbers, and any node with its inputs linked or set."""
from __future__ import annotations

import bpy

_TREES = {"Shader": "ShaderNodeTree", "Geometry": "GeometryNodeTree"}


def new_group(name: str, kind: str) -> tuple["bpy.types.NodeTree", "bpy.types.Node", "bpy.types.Node"]:
    """A new node group with one ``kind`` socket ("Shader" or "Geometry") in and one out:
    (the group, its Group Input node, its Group Output node)."""
    ng = bpy.data.node_groups.new(name, _TREES[kind])
    for side in ("INPUT", "OUTPUT"):
        ng.interface.new_socket(kind, in_out=side, socket_type=f"NodeSocket{kind}")
    return ng, ng.nodes.new("NodeGroupInput"), ng.nodes.new("NodeGroupOutput")


def math_node(ng: "bpy.types.NodeTree", op: str, a, b=0.0) -> "bpy.types.NodeSocket":
    """The output of a new Math node ``op`` in ``ng`` of a and b, each a socket or a number."""
    m = ng.nodes.new("ShaderNodeMath")
    m.operation = op
    for i, v in enumerate((a, b)):
        if hasattr(v, "is_output"):
            ng.links.new(v, m.inputs[i])
        else:
            m.inputs[i].default_value = float(v)
    return m.outputs[0]


def add_node(nt: "bpy.types.NodeTree", kind: str, inputs: dict, output=0, **props) -> "bpy.types.NodeSocket":
    """Output ``output`` (index or name) of a new ``kind`` node in ``nt`` with attributes ``props``; each
    of ``inputs`` (socket name or index -> socket or value) linked or set."""
    n = nt.nodes.new(kind)
    for k, v in props.items():
        setattr(n, k, v)
    for k, v in inputs.items():
        if hasattr(v, "is_output"):
            nt.links.new(v, n.inputs[k])
        else:
            n.inputs[k].default_value = v
    return n.outputs[output]


def set_modifier_input(mod, identifier: str, value) -> None:
    """Set a geometry-nodes modifier's input (the group socket ``identifier``): an ID property of the
    modifier up to 4.x, ``mod.properties.inputs`` from 5.x."""
    socket = getattr(getattr(getattr(mod, "properties", None), "inputs", None), identifier, None)
    if socket is not None and hasattr(socket, "value"):
        socket.value = value
    else:
        mod[identifier] = value
