"""Materials of living and dead plant matter, and of falling rain and snow.

- Foliage (leaves, needles, grass, fronds, fallen leaves): colours drawn in a hue range and
  varied per leaf ("Random Per Island": each blade is one island) and per copy (Object
  Info "Random", which each instance of a geometry-nodes carrier gets on its own); a little
  light passes through (a Translucent BSDF mixed in), which is what makes sunlit foliage
  read as leaves. Blades with a ``tip`` attribute are darker at the base.
- Bark: brown furrowed, birch white with dark lenticels, weathered grey dead wood, ringed palm,
  each over its relief (``bark_relief``), a true-scale bump.
- Waxy cactus (darker grooves between ribs, pale areoles of spines along the crests), mushroom
  caps, cattail heads, rain and snowflakes.
"""
from __future__ import annotations

import colorsys
from functools import partial

import bpy
import numpy as np

from ..geometry.node_groups import add_node
from . import bark_relief
from .surfaces import Layer, Tree, _jitter, _madd, _set_if


def _hsv(h: float, s: float, v: float) -> tuple:
    return colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))


def foliage_material(name: str, rng: np.random.Generator, hue: tuple[float, float], sat=(0.55, 0.85),
                     val=(0.08, 0.22), translucency: float = 0.3, tip: bool = False,
                     roughness: float = 0.55) -> "bpy.types.Material":
    """Leaves, needles or blades with per-leaf and per-copy colour variation."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    stops = []
    for k in range(3):
        h = rng.uniform(*hue)
        stops.append((k / 2, _hsv(h, rng.uniform(*sat), rng.uniform(*val))))
    geo = t.add("ShaderNodeNewGeometry")
    island = _output(geo, "Random Per Island")
    per_copy = t.add("ShaderNodeObjectInfo").outputs["Random"]
    fac = t.math("ADD", t.math("MULTIPLY", island, 0.7), t.math("MULTIPLY", per_copy, 0.3))
    col = t.ramp(fac, stops)
    if tip:
        along = t.add("ShaderNodeAttribute", attribute_name="tip").outputs["Fac"]
        dark = t.add("ShaderNodeMix", {"Factor_Float": 0.6, "A_Color": col, "B_Color": (0.0, 0.0, 0.0, 1.0)},
                     data_type="RGBA")
        bright = _hsv(np.mean(hue) - 0.02, np.mean(sat) * 0.8, min(1.0, np.mean(val) * 2.2))
        up = t.mix_color(t.map_range(along, 0.0, 0.6), _output(dark, "Result_Color"), col)
        col = t.mix_color(t.map_range(along, 0.6, 1.0), up, (*bright, 1.0))
    bsdf = t.add("ShaderNodeBsdfPrincipled", {"Base Color": col, "Roughness": roughness})
    _set_if(bsdf, ("Specular IOR Level", "Specular"), 0.35)
    shader = bsdf.outputs["BSDF"]
    if translucency > 0:
        through = t.add("ShaderNodeBsdfTranslucent", {"Color": col})
        mix = t.add("ShaderNodeMixShader", {0: translucency})
        t.link(shader, mix.inputs[1])
        t.link(through.outputs["BSDF"], mix.inputs[2])
        shader = mix.outputs["Shader"]
    out = t.add("ShaderNodeOutputMaterial")
    t.link(shader, out.inputs["Surface"])
    mat.use_backface_culling = False
    mat["gs_family"] = "foliage"
    mat.diffuse_color = (*stops[1][1], 1.0)
    return mat


def _output(node, identifier: str):
    return next(s for s in node.outputs if s.identifier == identifier or s.name == identifier)


BARKS = {  # dark, light colours; stretch of the texture (x, y, z); marks
    "bark": ((0.045, 0.03, 0.02), (0.17, 0.12, 0.08), (14.0, 14.0, 1.2), None),
    "birch": ((0.55, 0.53, 0.5), (0.78, 0.76, 0.72), (3.0, 3.0, 1.5), (0.02, 0.02, 0.02)),
    "deadwood": ((0.12, 0.11, 0.1), (0.36, 0.33, 0.3), (12.0, 12.0, 1.0), None),
    "palm": ((0.12, 0.09, 0.06), (0.3, 0.25, 0.19), (4.0, 4.0, 6.0), None),
}


def bark_material(name: str, rng: np.random.Generator, style: str = "bark",
                  variation: float = 1.0) -> "bpy.types.Material":
    """Bark of one style: its colour noise over the relief of ``bark_relief`` (a true-scale
    bump in object metres), darker in the furrows; birch's lenticels dark grooves."""
    dark, light, stretch, marks = BARKS[style]
    # The relief's sizes come from a child stream, so the draws of ``rng`` (and every material
    # drawn after this one) are those they were before the relief existed.
    relief = bark_relief.draw_relief(style, rng.spawn(1)[0])
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    s = t.scale_vec(co, tuple(v * rng.uniform(0.8, 1.25) for v in stretch))
    n = t.noise(s, 1.0, detail=6, roughness=0.65)
    cells = t.voronoi(s, 1.5)
    col = t.ramp(n, [(0.35, _jitter(rng, dark, variation)), (0.65, _jitter(rng, light, variation))])
    height = _relief_height(t, co, relief)
    groove = t.map_range(height, 0.6 * relief.depth, 0.0)  # 1 at a groove's bottom
    if marks is not None:  # birch: short dark bands across the trunk, and the lenticels dark
        bands = t.noise(t.scale_vec(co, (2.5, 2.5, 28.0)), 1.0, detail=2)
        col = t.mix_color(t.math("MAXIMUM", t.map_range(bands, 0.62, 0.68), groove), col, (*marks, 1.0))
    else:
        col = t.mix_color(t.math("MULTIPLY", groove, 0.6), col, tuple(c * 0.3 for c in dark))
    grain = t.math("MULTIPLY", t.math("ADD", n, t.math("MULTIPLY", cells, 0.5)), 0.1 * relief.depth)
    t.finish(Layer(col, t.value(0.85), t.math("ADD", height, grain)), bump_strength=1.0, bump_distance=1.0)
    mat["gs_family"] = "bark"
    mat.diffuse_color = (*light, 1.0)
    return mat


def _relief_height(t: Tree, co, r: bark_relief.Relief):
    """Nodes of ``bark_relief.relief_height`` at the object coordinates ``co`` (metres); the
    last node is labelled ``bark_relief`` so tests can read it."""
    xyz = t.add("ShaderNodeSeparateXYZ", {"Vector": co})
    x, y, z = (xyz.outputs[k] for k in "XYZ")
    h = None
    for g in r.sets:
        ph = _sines3(t, x, y, z, g.bends, 0.0)
        for c, axis in zip((x, y, z), g.axis):
            ph = _madd(t, c, axis / g.spacing, ph)
        p = t.add("ShaderNodeMath", {0: t.math("ABSOLUTE", _madd(t, t.math("FRACT", ph), 2.0, -1.0)),
                                     1: 1.0 / g.width}, operation="MULTIPLY", use_clamp=True).outputs[0]
        cut = _madd(t, t.math("MULTIPLY", p, p), _madd(t, p, 2.0, -3.0), 1.0)  # 1 - smoothstep
        if g.breaks:
            dash = t.add("ShaderNodeMath", {0: _sines3(t, x, y, z, g.breaks, 0.5), 1: 1.8, 2: -0.2},
                         operation="MULTIPLY_ADD", use_clamp=True).outputs[0]
            cut = t.math("MULTIPLY", cut, dash)
        keep = _madd(t, cut, -1.0, 1.0)
        h = keep if h is None else t.math("MULTIPLY", h, keep)
    out = t.add("ShaderNodeMath", {0: h, 1: r.depth}, operation="MULTIPLY")
    out.label = "bark_relief"
    return out.outputs[0]


def _sines3(t: Tree, x, y, z, terms, start):
    """``start`` + sum of w * sin(kx * x + ky * y + kz * z + phase) over ``terms``."""
    acc = start
    for kx, ky, kz, w, ph in terms:
        acc = _madd(t, t.math("SINE", _madd(t, x, kx, _madd(t, y, ky, _madd(t, z, kz, ph)))), w, acc)
    return acc


def cactus_material(name: str, rng: np.random.Generator, colour: tuple,
                    variation: float = 1.0) -> "bpy.types.Material":
    """Waxy cactus skin, darker in the grooves between ribs, with areoles (small pale tufts of
    spines) scattered along the crests: where the mesh's ``rib`` attribute is near 1."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    base = _jitter(rng, colour, variation)
    col = t.ramp(t.noise(co, rng.uniform(4.0, 9.0), detail=3), [(0.2, tuple(c * 0.7 for c in base)), (0.8, base)])
    rib = t.add("ShaderNodeAttribute", attribute_name="rib").outputs["Fac"]
    col = t.mix_color(t.map_range(rib, 0.8, 0.2, 0.0, 0.6), col, tuple(c * 0.35 for c in base))
    spots = t.map_range(t.voronoi(co, rng.uniform(30.0, 45.0)), 0.2, 0.1)  # about 3 cm apart
    areoles = t.math("MULTIPLY", spots, t.map_range(rib, 0.85, 0.97))
    col = t.mix_color(areoles, col, _jitter(rng, (0.62, 0.58, 0.45), variation))
    t.finish(Layer(col, t.mix_float(areoles, 0.45, 0.85), None), bump_strength=0.0)
    mat["gs_family"] = "cactus"
    mat.diffuse_color = (*base, 1.0)
    return mat


SNOW_UP = (0.55, 0.85)  # normal.z over which snow covers a surface (in clumps: about half the noise's)


def snow_cover(mat) -> None:
    """Lay snow on ``mat`` where its surface faces up: on the tops of branches and needles
    (the Geometry node's normal faces the viewer, so a needle seen from below shows none),
    in clumps (where a noise is high) with dark foliage between them, rather than a frosting."""
    nt = mat.node_tree
    out = next(n for n in nt.nodes if n.type == "OUTPUT_MATERIAL")
    surface = out.inputs["Surface"].links[0].from_socket

    node = partial(add_node, nt)

    normal = node("ShaderNodeNewGeometry", {}).node.outputs["Normal"]
    up = node("ShaderNodeSeparateXYZ", {"Vector": normal}).node.outputs["Z"]
    patches = node("ShaderNodeTexNoise", {"Vector": node("ShaderNodeTexCoord", {}).node.outputs["Object"],
                                          "Scale": 4.0, "Detail": 2.0})
    facing = node("ShaderNodeMapRange", {"Value": up, "From Min": SNOW_UP[0], "From Max": SNOW_UP[1]},
                  interpolation_type="SMOOTHSTEP")
    clumps = node("ShaderNodeMapRange", {"Value": patches, "From Min": 0.42, "From Max": 0.58},
                  interpolation_type="SMOOTHSTEP")
    cover = node("ShaderNodeMath", {0: facing, 1: clumps}, operation="MULTIPLY")
    snow = node("ShaderNodeBsdfPrincipled", {"Base Color": (0.86, 0.89, 0.93, 1.0), "Roughness": 0.55})
    mix = node("ShaderNodeMixShader", {0: cover})
    nt.links.new(surface, mix.node.inputs[1])
    nt.links.new(snow, mix.node.inputs[2])
    nt.links.new(mix, out.inputs["Surface"])
    mat["gs_snow_cover"] = True


def plain_material(name: str, rng: np.random.Generator, colour: tuple, roughness: float = 0.6,
                   spots: tuple | None = None, variation: float = 1.0, emission: float = 0.0) -> "bpy.types.Material":
    """A simple material: a noisy colour, optionally with round spots of another (mushroom caps)."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    base = _jitter(rng, colour, variation)
    n = t.noise(co, rng.uniform(4.0, 9.0), detail=3)
    col = t.ramp(n, [(0.2, tuple(c * 0.7 for c in base)), (0.8, base)])
    if spots is not None:
        cells = t.voronoi(co, rng.uniform(25.0, 45.0))
        col = t.mix_color(t.map_range(cells, 0.18, 0.12), col, (*spots, 1.0))
    bsdf = t.finish(Layer(col, t.value(roughness), None), bump_strength=0.0)
    if emission > 0:
        _set_if(bsdf, ("Emission Strength",), emission)
        if "Emission Color" in bsdf.inputs:
            bsdf.inputs["Emission Color"].default_value = (*base, 1.0)
    mat["gs_family"] = "plain"
    mat.diffuse_color = (*base, 1.0)
    return mat
