"""Animals in Blender: countershaded materials, the part-motion node group, and one keyframed
object per animal.

Every animal is one mesh object (its own instance id) whose geometry-nodes modifier moves its
parts with the scene time (``bodies``' rule), and whose location and rotation are keyframed
once per frame along its ``paths.Track``. Cycles' vector pass therefore sees both the body's
motion and the parts' (as it sees the water's waves), and the segmentation's per-frame boxes
are those of the evaluated, moving geometry.
"""
from __future__ import annotations

from functools import partial

import bpy
import numpy as np
from mathutils import Euler, Vector

from ..atmosphere.weather import _fcurves
from ..geometry.blender_mesh import mesh_from_geo, new_object
from ..geometry.node_groups import math_node, new_group, set_modifier_input
from ..materials.surfaces import Layer, Tree, _jitter
from .bodies import Body
from .paths import Track

MOTION_GROUP = "gs_animal_motion"
VECTOR_ATTRIBUTES = ("pivot", "axis", "wave")  # per-vertex vectors, stored as gs_<name>


def animal_material(name: str, rng: np.random.Generator, back: tuple, belly: tuple, roughness: float,
                    variation: float = 1.0) -> "bpy.types.Material":
    """Dark above, pale below (the ``gs_belly`` attribute), with a mottled noise and per-animal
    brightness (Object Info "Random")."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    shade = t.add("ShaderNodeAttribute", attribute_name="gs_belly").outputs["Fac"]
    mottle = t.noise(t.coords("Object"), rng.uniform(6.0, 12.0), detail=3)
    fac = t.math("ADD", shade, t.math("MULTIPLY", t.math("SUBTRACT", mottle, 0.5), 0.3))
    top, bottom = _jitter(rng, back, variation), _jitter(rng, belly, variation)
    col = t.ramp(fac, [(0.4, top), (0.7, bottom)])
    per_animal = t.add("ShaderNodeObjectInfo").outputs["Random"]
    col = t.mix_color(t.math("MULTIPLY", per_animal, 0.35), col, (0.0, 0.0, 0.0, 1.0))
    t.finish(Layer(col, t.value(roughness), mottle), bump_strength=0.15, bump_distance=0.01)
    mat["gs_family"] = "animal"
    mat.diffuse_color = (*top, 1.0)
    return mat


def motion_group() -> "bpy.types.NodeTree":
    """The scene's one part-motion group (made on first use): Set Position of each vertex by
    ``bodies``' rule, with the animal's frequency (Hz) and phase (rad) as modifier inputs."""
    ng = bpy.data.node_groups.get(MOTION_GROUP)
    if ng is not None:
        return ng
    ng, gin, gout = new_group(MOTION_GROUP, "Geometry")
    for label in ("Frequency", "Phase"):
        ng.interface.new_socket(label, in_out="INPUT", socket_type="NodeSocketFloat")
    nodes, link, math = ng.nodes, ng.links.new, partial(math_node, ng)

    def attribute(name: str, kind: str):
        node = nodes.new("GeometryNodeInputNamedAttribute")
        node.data_type = kind
        node.inputs["Name"].default_value = name
        return node.outputs["Attribute"]

    seconds = nodes.new("GeometryNodeInputSceneTime").outputs["Seconds"]
    cycle = math("MULTIPLY", math("MULTIPLY", seconds, gin.outputs["Frequency"]), 2 * np.pi)
    wave = math("SINE", math("ADD", math("ADD", cycle, gin.outputs["Phase"]), attribute("gs_phase", "FLOAT")))
    rot = nodes.new("ShaderNodeVectorRotate")
    rot.rotation_type = "AXIS_ANGLE"
    link(nodes.new("GeometryNodeInputPosition").outputs[0], rot.inputs["Vector"])
    link(attribute("gs_pivot", "FLOAT_VECTOR"), rot.inputs["Center"])
    link(attribute("gs_axis", "FLOAT_VECTOR"), rot.inputs["Axis"])
    link(math("MULTIPLY", attribute("gs_swing", "FLOAT"), wave), rot.inputs["Angle"])
    offset = nodes.new("ShaderNodeVectorMath")
    offset.operation = "SCALE"
    link(attribute("gs_wave", "FLOAT_VECTOR"), offset.inputs[0])
    link(wave, offset.inputs["Scale"])
    moved = nodes.new("ShaderNodeVectorMath")
    moved.operation = "ADD"
    link(rot.outputs[0], moved.inputs[0])
    link(offset.outputs[0], moved.inputs[1])
    setp = nodes.new("GeometryNodeSetPosition")
    link(gin.outputs[0], setp.inputs["Geometry"])
    link(moved.outputs[0], setp.inputs["Position"])
    link(setp.outputs[0], gout.inputs[0])
    return ng


def body_mesh(name: str, body: Body, material) -> "bpy.types.Mesh":
    """A mesh of ``body`` with its motion attributes (gs_swing, gs_phase, gs_pivot, gs_axis, gs_wave)."""
    geo = body.geo
    geo.attrs.update(gs_swing=body.swing.astype(np.float32), gs_phase=body.phase.astype(np.float32))
    me = mesh_from_geo(name, geo, [material])
    for key in VECTOR_ATTRIBUTES:
        values = np.ascontiguousarray(getattr(body, key), np.float32).ravel()
        me.attributes.new(f"gs_{key}", "FLOAT_VECTOR", "POINT").data.foreach_set("vector", values)
    me["gs_radius"] = body.radius
    return me


def animal_object(name: str, mesh, gs_class: str, track: Track, collection) -> "bpy.types.Object":
    """One animal: ``mesh`` moved by the part-motion modifier and keyframed along ``track`` at
    frames 1..F (linear between frames, as the camera is)."""
    ob = new_object(name, mesh, gs_class, collection)
    ob["gs_moving"] = True
    ob.scale = (track.scale,) * 3
    mod = ob.modifiers.new("motion", "NODES")
    mod.node_group = motion_group()
    inputs = {s.name: s.identifier for s in mod.node_group.interface.items_tree
              if getattr(s, "in_out", None) == "INPUT" and s.name in ("Frequency", "Phase")}
    set_modifier_input(mod, inputs["Frequency"], track.frequency)
    set_modifier_input(mod, inputs["Phase"], track.phase)
    prefs = bpy.context.preferences.edit
    old = prefs.keyframe_new_interpolation_type
    prefs.keyframe_new_interpolation_type = "LINEAR"
    try:
        for f, (p, yaw, pitch) in enumerate(zip(track.position, track.yaw, track.pitch)):
            ob.location = tuple(float(v) for v in p)
            ob.rotation_euler = (0.0, float(-pitch), float(yaw))  # nose up is a negative turn about y
            ob.keyframe_insert("location", frame=f + 1)
            ob.keyframe_insert("rotation_euler", frame=f + 1)
    finally:
        prefs.keyframe_new_interpolation_type = old
    return ob


def camera_views(cam, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions [F, 3], viewing directions [F, 3]) of the keyframed camera at frames 1..F, read
    from its F-curves (no frame change, which would evaluate the whole scene)."""
    curves = {(fc.data_path, fc.array_index): fc for fc in _fcurves(cam.animation_data.action)}
    pos, look = np.zeros((frames, 3)), np.zeros((frames, 3))
    def value(path: str, i: int, frame: int) -> float:
        return curves[(path, i)].evaluate(frame) if (path, i) in curves else 0.0

    for f in range(frames):
        pos[f] = [value("location", i, f + 1) for i in range(3)]
        rot = Euler([value("rotation_euler", i, f + 1) for i in range(3)], "XYZ")
        look[f] = rot.to_matrix() @ Vector((0.0, 0.0, -1.0))
    return pos, look
