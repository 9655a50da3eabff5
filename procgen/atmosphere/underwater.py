"""Under the sea: the water surface as seen from below, and a world that camera rays see
as open water.

From below, the surface shows the sky only inside a cone about the vertical (the window
that refraction opens, half-angle about 49 degrees); beyond it the surface reflects the
dim water and floor back down. The material draws that with an emission over the wave
grid's own normals (bent further by fine ripples), so the window shimmers as the waves
move; the height fog tints it with distance like everything else. The surface casts no
shadow and is not seen by diffuse rays: sunlight and skylight reach the floor as if the
water let them through, at no render cost. The waves' caustics are a shading effect like
the fog: a net of bright lines added to every surface that faces up.
"""
from __future__ import annotations

from functools import partial

import bpy
import numpy as np

from ..geometry.node_groups import math_node, new_group
from ..materials.surfaces import Tree
from .fog import not_a_light

ABSORPTION = (0.2, 0.055, 0.045)  # per metre of sea water, red, green, blue: red light dies first
WINDOW = 0.66  # cos(49 deg): rays closer than this to the vertical see the sky through the surface


def surface_material(name: str, rng: np.random.Generator, water: tuple) -> "bpy.types.Material":
    """The underside of the surface: bright sky light inside the window, ``water`` colour outside."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    ripples = t.noise(t.scale_vec(co, (1.0, 1.6, 1.0)), rng.uniform(1.5, 3.0), detail=3)
    bump = t.add("ShaderNodeBump", {"Strength": rng.uniform(0.25, 0.4), "Distance": 0.1, "Height": ripples})
    facing = t.add("ShaderNodeLayerWeight", {"Blend": 0.5, "Normal": bump.outputs["Normal"]}).outputs["Facing"]
    # Facing is 1 - |cos|: 0 looking straight up, 1 at grazing angles.
    inside = t.map_range(facing, 1.0 - WINDOW - 0.08, 1.0 - WINDOW + 0.04, 1.0, 0.0)
    sky = (0.55 * rng.uniform(0.9, 1.1), 0.85, 0.9)
    # Outside the window the surface mirrors the water below: a little lighter than it, rippled.
    below = t.mix_color(ripples, tuple(1.3 * c for c in water), tuple(2.6 * c for c in water))
    col = t.mix_color(inside, below, (*sky, 1.0))
    glow = t.add("ShaderNodeEmission", {"Color": col, "Strength": rng.uniform(1.6, 2.2)})
    out = t.add("ShaderNodeOutputMaterial")
    t.link(glow.outputs["Emission"], out.inputs["Surface"])
    mat.use_backface_culling = False
    mat["gs_family"] = "water"
    mat.diffuse_color = (*water, 1.0)
    not_a_light(mat)
    return mat


def filter_sunlight(lamp, depth: float, elevation_deg: float) -> None:
    """Tint the sun ``lamp`` (light data) by what the water takes from its light on the way
    down ``depth`` metres at the sun's elevation (Beer-Lambert per colour channel)."""
    path = depth / max(np.sin(np.radians(elevation_deg)), 0.3)
    lamp.color = tuple(float(c * np.exp(-k * path)) for c, k in zip(lamp.color, ABSORPTION))


def let_light_through(objects) -> None:
    """The surface neither shadows the floor nor hides the sky from it."""
    for ob in objects:
        for attr in ("visible_shadow", "visible_diffuse"):
            if hasattr(ob, attr):
                setattr(ob, attr, False)


def open_water_world(world, colour: tuple) -> None:
    """Camera rays that meet nothing see ``colour`` (the water far away), other rays the sky."""
    nt = world.node_tree
    out = next(n for n in nt.nodes if n.type == "OUTPUT_WORLD")
    sky = out.inputs["Surface"].links[0].from_socket
    water = nt.nodes.new("ShaderNodeBackground")
    water.inputs["Color"].default_value = (*colour, 1.0)
    mix = nt.nodes.new("ShaderNodeMixShader")
    nt.links.new(nt.nodes.new("ShaderNodeLightPath").outputs["Is Camera Ray"], mix.inputs[0])
    nt.links.new(sky, mix.inputs[1])
    nt.links.new(water.outputs["Background"], mix.inputs[2])
    nt.links.new(mix.outputs["Shader"], out.inputs["Surface"])


def caustics_group(colour: tuple, rng: np.random.Generator) -> "bpy.types.ShaderNodeTree":
    """Shader in, Shader out: the shader plus glowing lines of ``colour`` where the waves focus
    the sunlight (the edges of a warped cell pattern), on surfaces as far as they face up."""
    ng, gin, gout = new_group("gs_caustics", "Shader")
    n, link, math = ng.nodes, ng.links.new, partial(math_node, ng)
    geo = n.new("ShaderNodeNewGeometry")
    warp = n.new("ShaderNodeTexNoise")
    warp.inputs["Scale"].default_value = rng.uniform(0.8, 1.2)
    link(geo.outputs["Position"], warp.inputs["Vector"])
    bent = n.new("ShaderNodeVectorMath")
    bent.operation = "MULTIPLY_ADD"
    link(warp.outputs["Color"], bent.inputs[0])
    bent.inputs[1].default_value = (0.3, 0.3, 0.3)
    link(geo.outputs["Position"], bent.inputs[2])
    cells = n.new("ShaderNodeTexVoronoi")
    cells.feature = "DISTANCE_TO_EDGE"
    cells.inputs["Scale"].default_value = rng.uniform(2.0, 2.8)
    link(bent.outputs["Vector"], cells.inputs["Vector"])
    line = math("POWER", math("MAXIMUM", math("SUBTRACT", 1.0, math("DIVIDE", cells.outputs["Distance"], 0.09)), 0.0),
                2.0)
    up = n.new("ShaderNodeSeparateXYZ")
    link(geo.outputs["Normal"], up.inputs[0])
    glow = n.new("ShaderNodeEmission")
    glow.inputs["Color"].default_value = (*colour, 1.0)
    # Brighter and dimmer patches, as the swell above focuses more light in some places.
    patches = math("MAXIMUM", math("SUBTRACT", math("MULTIPLY", warp.outputs["Fac"], 2.5), 0.75), 0.0)
    link(math("MULTIPLY", math("MULTIPLY", line, patches), math("MAXIMUM", up.outputs["Z"], 0.0)),
         glow.inputs["Strength"])
    add = n.new("ShaderNodeAddShader")
    link(gin.outputs[0], add.inputs[0])
    link(glow.outputs[0], add.inputs[1])
    link(add.outputs[0], gout.inputs[0])
    return ng
