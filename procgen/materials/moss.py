"""Moss on rocks and fallen logs of moist biomes: patches on the faces that look up (and a
little more on those facing north, +y, where they dry slowest), with a fuzzy bump of their own.

``cover`` is the share of moss in numpy (for tests); ``moss_cover`` builds the same mix from
nodes over a material's surface, which it keeps underneath, so the moss is a layer of shading
only: the geometry, and so every ground-truth pass but colour, stays as it was.
"""
from __future__ import annotations

from functools import partial

import numpy as np

MOIST_BIOMES = ("broadleaf_forest", "conifer_forest", "autumn_forest", "wetland", "river")
MOSS_UP = (0.35, 0.65)  # normal.z + NORTH * normal.y over which moss fades in
NORTH = 0.25            # how much facing north (+y) counts as facing up
PATCHES = (0.4, 0.5)    # patch noise values over which a patch fades in
FUZZ = 0.0015           # metres of fuzz in the moss's own bump


def facing(normal: np.ndarray) -> np.ndarray:
    """0 .. 1: how much a surface of unit ``normal`` [..., 3] faces up (and north) for moss."""
    f = np.clip((normal[..., 2] + NORTH * normal[..., 1] - MOSS_UP[0]) / (MOSS_UP[1] - MOSS_UP[0]), 0.0, 1.0)
    return f * f * (3.0 - 2.0 * f)


def moss_cover(mat, rng: np.random.Generator) -> None:
    """Lay moss over ``mat``'s surface where ``facing`` and a patch noise allow, drawn from ``rng``."""
    nt = mat.node_tree
    out = next(n for n in nt.nodes if n.type == "OUTPUT_MATERIAL")
    surface = out.inputs["Surface"].links[0].from_socket

    from ..geometry.node_groups import add_node  # bpy: imported here so the numpy part stays bpy-free

    node = partial(add_node, nt)

    def smooth(value, lo, hi):
        return node("ShaderNodeMapRange", {"Value": value, "From Min": lo, "From Max": hi},
                    interpolation_type="SMOOTHSTEP", clamp=True)

    normal = node("ShaderNodeNewGeometry", {}, output="Normal")
    xyz = node("ShaderNodeSeparateXYZ", {"Vector": normal}).node.outputs
    up = node("ShaderNodeMath", {0: xyz["Y"], 1: NORTH, 2: xyz["Z"]}, operation="MULTIPLY_ADD")
    co = node("ShaderNodeTexCoord", {}, output="Object")
    patches = node("ShaderNodeTexNoise", {"Vector": co, "Scale": rng.uniform(2.5, 4.5), "Detail": 6.0,
                                          "Roughness": 0.65})  # frayed edges
    cover = node("ShaderNodeMath", {0: smooth(up, *MOSS_UP), 1: smooth(patches, *PATCHES)}, operation="MULTIPLY")
    tufts = node("ShaderNodeTexNoise", {"Vector": co, "Scale": rng.uniform(200.0, 300.0), "Detail": 3.0})
    fuzz = node("ShaderNodeBump", {"Strength": 1.0, "Distance": 1.0,
                                   "Height": node("ShaderNodeMath", {0: tufts, 1: FUZZ}, operation="MULTIPLY")})
    fuzz.node.label = "moss_fuzz"
    tone = node("ShaderNodeTexNoise", {"Vector": co, "Scale": rng.uniform(8.0, 14.0), "Detail": 2.0})
    colour = node("ShaderNodeValToRGB", {"Fac": tone})
    ramp = colour.node.color_ramp
    ramp.elements[0].position, ramp.elements[1].position = 0.35, 0.65
    ramp.elements[0].color = (0.035 * rng.uniform(0.8, 1.2), 0.06 * rng.uniform(0.85, 1.15), 0.015, 1.0)
    ramp.elements[1].color = (0.1 * rng.uniform(0.8, 1.2), 0.13 * rng.uniform(0.85, 1.15), 0.035, 1.0)
    moss = node("ShaderNodeBsdfPrincipled", {"Base Color": colour, "Roughness": 0.95, "Normal": fuzz})
    mix = node("ShaderNodeMixShader", {0: cover})
    nt.links.new(surface, mix.node.inputs[1])
    nt.links.new(moss, mix.node.inputs[2])
    nt.links.new(mix, out.inputs["Surface"])
    mat["gs_moss"] = True
