"""Procedural shader node-tree materials with randomised parameters.

Each family (soil, grass, rock, sand, snow, bark, leaf, water, petal) is a *layer*
function that adds texture nodes to a tree and returns colour, roughness and bump
height sockets. A plain material wires one layer into a Principled BSDF; the terrain
material mixes several layers by slope (Geometry normal) and height (Geometry
position), so it needs no geometry nodes and works the same in Blender 4.2 to 5.0.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import bpy
import numpy as np

from ..geometry.blender_mesh import enable_nodes
from ..terrain import ripples as sand_ripples

FAMILIES = ("soil", "grass", "rock", "sand", "snow", "bark", "leaf", "water", "petal", "forest", "needles", "dry",
            "mud", "strata", "cliff", "cliff_face")


@dataclass
class Layer:
    color: object       # NodeSocket (colour)
    roughness: object   # NodeSocket (float)
    height: object      # NodeSocket (float), bump height


def _sock(sockets, identifier: str):
    for s in sockets:
        if s.identifier == identifier:
            return s
    raise KeyError(identifier)


class Tree:
    """Thin helper over a material's node tree: add nodes with inputs, link sockets."""

    def __init__(self, mat, shared_coords=None):
        enable_nodes(mat)
        self.nt = mat.node_tree
        self.nt.nodes.clear()
        self._x = 0
        # With shared coordinates, texture nodes are pooled by kind and scale band, so a
        # material mixing many layers evaluates a handful of textures (render time).
        self.shared = shared_coords
        self._pool: dict = {}

    def _pooled(self, key, make):
        if self.shared is None:
            return make()
        if key not in self._pool:
            self._pool[key] = make()
        return self._pool[key]

    @staticmethod
    def _band(scale) -> int:
        return int(np.clip(np.round(np.log2(max(float(scale), 1e-3)) / 1.5), -3, 3))

    def add(self, kind: str, inputs: dict | None = None, **props):
        node = self.nt.nodes.new(kind)
        node.location = (self._x, 0)
        self._x -= 40
        for k, v in props.items():
            setattr(node, k, v)
        for k, v in (inputs or {}).items():
            sock = node.inputs[k] if isinstance(k, int) or k in node.inputs else _sock(node.inputs, k)
            if hasattr(v, "is_output"):  # a socket
                self.nt.links.new(v, sock)
            elif sock.type == "RGBA" and len(v) == 3:
                sock.default_value = (*v, 1.0)
            else:
                sock.default_value = v
        return node

    def link(self, a, b):
        self.nt.links.new(a, b)

    # small building blocks -------------------------------------------------
    def coords(self, space: str = "Object"):
        return self.add("ShaderNodeTexCoord").outputs[space]

    def noise(self, vector, scale, detail=4.0, roughness=0.55, distortion=0.0):
        if self.shared is not None:
            vector, detail = self.shared, min(detail, 3.0)
            scale = 2.0 ** (1.5 * self._band(scale))
        return self._pooled(("noise", self._band(scale)), lambda: self.add(
            "ShaderNodeTexNoise", {"Vector": vector, "Scale": scale, "Detail": detail,
                                   "Roughness": roughness, "Distortion": distortion}).outputs["Fac"])

    def voronoi(self, vector, scale, randomness=1.0, output="Distance"):
        if self.shared is not None:
            vector, scale = self.shared, 2.0 ** (1.5 * self._band(scale))
        return self._pooled(("voronoi", self._band(scale), output), lambda: self.add(
            "ShaderNodeTexVoronoi", {"Vector": vector, "Scale": scale, "Randomness": randomness}).outputs[output])

    def wave(self, vector, scale, distortion, detail, **props):
        if self.shared is not None:
            vector = self.shared
        return self._pooled(("wave", props.get("bands_direction", "X"), self._band(scale)), lambda: self.add(
            "ShaderNodeTexWave", {"Vector": vector, "Scale": scale, "Distortion": distortion, "Detail": detail},
            wave_type="BANDS", **props).outputs["Fac"])

    def ramp(self, fac, stops: list[tuple[float, tuple]], interpolation: str = "LINEAR"):
        n = self.add("ShaderNodeValToRGB", {"Fac": fac})
        n.color_ramp.interpolation = interpolation
        els = n.color_ramp.elements
        while len(els) < len(stops):
            els.new(0.5)
        for el, (pos, col) in zip(els, stops):
            el.position = pos
            el.color = (*col[:3], 1.0)
        return n.outputs["Color"]

    def math(self, op: str, a, b=0.0, clamp=False):
        n = self.add("ShaderNodeMath", {0: a, 1: b}, operation=op, use_clamp=clamp)
        return n.outputs[0]

    def map_range(self, value, lo, hi, to_lo=0.0, to_hi=1.0):
        n = self.add("ShaderNodeMapRange", {"Value": value, "From Min": lo, "From Max": hi,
                                            "To Min": to_lo, "To Max": to_hi},
                     interpolation_type="SMOOTHSTEP", clamp=True)
        return n.outputs["Result"]

    def mix_color(self, fac, a, b):
        n = self.add("ShaderNodeMix", {"Factor_Float": fac, "A_Color": a, "B_Color": b}, data_type="RGBA")
        return _sock(n.outputs, "Result_Color")

    def mix_float(self, fac, a, b):
        n = self.add("ShaderNodeMix", {"Factor_Float": fac, "A_Float": a, "B_Float": b}, data_type="FLOAT")
        return _sock(n.outputs, "Result_Float")

    def value(self, v: float):
        n = self.add("ShaderNodeValue")
        n.outputs[0].default_value = v
        return n.outputs[0]

    def scale_vec(self, vector, s):
        n = self.add("ShaderNodeVectorMath", {0: vector, 1: s}, operation="MULTIPLY")
        return n.outputs[0]

    def finish(self, layer: Layer, bump_strength: float = 0.4, bump_distance: float = 0.05,
               **principled) -> "bpy.types.Node":
        bsdf = self.add("ShaderNodeBsdfPrincipled", {"Base Color": layer.color, "Roughness": layer.roughness})
        for k, v in principled.items():
            bsdf.inputs[k].default_value = v
        if layer.height is not None and bump_strength > 0:
            bump = self.add("ShaderNodeBump", {"Strength": bump_strength, "Distance": bump_distance,
                                               "Height": layer.height})
            self.link(bump.outputs["Normal"], bsdf.inputs["Normal"])
        out = self.add("ShaderNodeOutputMaterial")
        self.link(bsdf.outputs["BSDF"], out.inputs["Surface"])
        return bsdf


def _jitter(rng: np.random.Generator, rgb, amount: float) -> tuple:
    """``rgb`` with hue, saturation and value nudged by up to ``amount``."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h = (h + rng.uniform(-0.04, 0.04) * amount) % 1.0
    s = float(np.clip(s * (1 + rng.uniform(-0.2, 0.2) * amount), 0, 1))
    v = float(np.clip(v * (1 + rng.uniform(-0.25, 0.25) * amount), 0, 1))
    return colorsys.hsv_to_rgb(h, s, v)


# --- layer families ---------------------------------------------------------------

def soil_layer(t: Tree, rng, co, var=1.0) -> Layer:
    dark, light = _jitter(rng, (0.09, 0.06, 0.035), var), _jitter(rng, (0.22, 0.16, 0.1), var)
    n = t.noise(co, rng.uniform(0.4, 0.9), detail=6)
    clumps = t.voronoi(co, rng.uniform(6, 12))
    col = t.ramp(n, [(0.35, dark), (0.7, light)])
    h = t.math("ADD", t.math("MULTIPLY", clumps, 0.3), n)
    return Layer(col, t.value(rng.uniform(0.85, 1.0)), h)


def grass_layer(t: Tree, rng, co, var=1.0) -> Layer:
    base = _jitter(rng, (0.06, 0.11, 0.03), var)
    dry = _jitter(rng, (0.2, 0.18, 0.07), var)
    deep = _jitter(rng, (0.03, 0.06, 0.018), var)
    patches = t.noise(co, rng.uniform(0.08, 0.18), detail=5)
    fine = t.noise(co, rng.uniform(2.5, 5.0), detail=3)
    col = t.ramp(patches, [(0.3, deep), (0.55, base), (0.8, dry)])
    col = t.mix_color(t.math("MULTIPLY", fine, 0.35), col, t.ramp(fine, [(0.3, deep), (0.7, base)]))
    streak = t.noise(t.scale_vec(co, (30.0, 30.0, 3.0)), 1.0, detail=2)
    return Layer(col, t.value(rng.uniform(0.75, 0.95)), streak)


def rock_layer(t: Tree, rng, co, var=1.0, tint=None, strata: float = 0.15) -> Layer:
    """Bare rock: fractal noise through dark, light and pale tones, dark cracks, and ``strata``
    (the share of level bands in the pattern; 0 for massive rock such as granite)."""
    base = tint or (0.19, 0.18, 0.165)
    dark, light = _jitter(rng, tuple(c * 0.35 for c in base), var), _jitter(rng, base, var)
    pale = _jitter(rng, tuple(min(1.0, c * 1.5) for c in base), var)
    n = t.noise(co, rng.uniform(0.3, 0.8), detail=5, roughness=0.6)
    cracks = t.voronoi(co, rng.uniform(1.5, 3.5), output="Distance")
    bands = rng.uniform(0.15, 0.35)
    mixed = n if strata <= 0 else t.math("ADD", t.math("MULTIPLY", n, 1.0 - strata), t.math(
        "MULTIPLY", t.wave(co, bands, 8.0, 2.0, bands_direction="Z"), strata))
    col = t.ramp(mixed, [(0.3, dark), (0.55, light), (0.8, pale)])
    crack_mask = t.map_range(cracks, 0.02, 0.12)
    col = t.mix_color(crack_mask, t.ramp(n, [(0.0, dark), (1.0, dark)]), col)
    h = t.math("ADD", t.math("MULTIPLY", crack_mask, 0.5), n)
    return Layer(col, t.value(rng.uniform(0.7, 0.9)), h)


def sand_layer(t: Tree, rng, co, var=1.0) -> Layer:
    a, b = _jitter(rng, (0.4, 0.3, 0.17), var), _jitter(rng, (0.55, 0.43, 0.26), var)
    n = t.noise(co, rng.uniform(0.2, 0.5), detail=4)
    ripples = t.wave(co, rng.uniform(1.5, 3.0), 6.0, 2.0)
    col = t.ramp(n, [(0.3, a), (0.7, b)])
    return Layer(col, t.value(rng.uniform(0.8, 0.95)), t.math("MULTIPLY", ripples, 0.4))


def snow_layer(t: Tree, rng, co, var=1.0) -> Layer:
    n = t.noise(co, rng.uniform(0.5, 1.5), detail=4)
    col = t.ramp(n, [(0.3, _jitter(rng, (0.72, 0.76, 0.82), 0.3 * var)), (0.7, (0.9, 0.92, 0.95))])
    return Layer(col, t.value(rng.uniform(0.4, 0.6)), t.math("MULTIPLY", n, 0.3))


def bark_layer(t: Tree, rng, co, var=1.0) -> Layer:
    dark, light = _jitter(rng, (0.045, 0.03, 0.02), var), _jitter(rng, (0.17, 0.12, 0.08), var)
    stretched = t.scale_vec(co, (rng.uniform(10, 18), rng.uniform(10, 18), rng.uniform(0.8, 1.6)))
    n = t.noise(stretched, 1.0, detail=6, roughness=0.65)
    cells = t.voronoi(stretched, 1.5)
    col = t.ramp(n, [(0.35, dark), (0.65, light)])
    return Layer(col, t.value(0.9), t.math("ADD", n, t.math("MULTIPLY", cells, 0.5)))


def leaf_layer(t: Tree, rng, co, var=1.0, hue=None, bright=1.0) -> Layer:
    hue = rng.uniform(0.2, 0.33) if hue is None else hue
    base = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 0.85), min(1.0, bright * rng.uniform(0.12, 0.22)))
    other = colorsys.hsv_to_rgb(hue + rng.uniform(-0.06, 0.03), rng.uniform(0.5, 0.8),
                                min(1.0, bright * rng.uniform(0.1, 0.3)))
    per_object = t.add("ShaderNodeObjectInfo").outputs["Random"]
    n = t.noise(co, rng.uniform(1.0, 3.0), detail=2)
    fac = t.math("ADD", t.math("MULTIPLY", per_object, 0.6), t.math("MULTIPLY", n, 0.4))
    col = t.ramp(fac, [(0.2, base), (0.8, other)])
    return Layer(col, t.value(rng.uniform(0.45, 0.65)), None)


def petal_layer(t: Tree, rng, co, var=1.0) -> Layer:
    palette = [(0.8, 0.75, 0.1), (0.85, 0.85, 0.85), (0.6, 0.1, 0.5), (0.85, 0.3, 0.05), (0.3, 0.3, 0.85)]
    base = _jitter(rng, palette[int(rng.integers(len(palette)))], var)
    return Layer(t.ramp(t.value(0.5), [(0.0, base), (1.0, base)]), t.value(0.5), None)


def water_layer(t: Tree, rng, co, var=1.0) -> Layer:
    col = _jitter(rng, (0.008, 0.028, 0.034), 0.5 * var)
    waves = t.noise(t.scale_vec(co, (1.0, 1.8, 1.0)), rng.uniform(2.5, 4.0), detail=3)
    # Surf: foam in broken streaks where the water thins towards the shore ("gs_shore", set
    # per vertex by the water builder; 0, so no foam, on surfaces without it).
    shore = t.add("ShaderNodeAttribute", attribute_name="gs_shore").outputs["Fac"]
    streaks = t.noise(co, rng.uniform(1.2, 2.0), detail=4)
    # (none in the last few centimetres: puddles on the beach stay water, not white blots)
    foam = t.math("MULTIPLY", t.map_range(t.math("ADD", streaks, t.math("MULTIPLY", shore, 0.6)), 1.0, 1.08),
                  t.map_range(shore, 0.97, 0.85))
    foam = _moving_foam(t, foam, shore)
    colour = t.mix_color(foam, t.ramp(t.value(0.5), [(0.0, col), (1.0, col)]), (0.72, 0.75, 0.77))
    # Rough enough that the sky's clouds blur in it instead of drawing marble on the swell.
    roughness = t.mix_float(foam, rng.uniform(0.07, 0.12), 0.6)
    return Layer(colour, roughness, waves)


def _moving_foam(t: Tree, still, shore):
    """On an ocean's wave grid ("gs_ocean"), the foam the waves carry ("gs_foam", stored per vertex
    by the grid's geometry nodes from the scene time) drawn as lace that rides with the waves
    ("gs_foam_co": along their travel minus their drift, across it), over a trace of the still
    streaks; elsewhere the still foam unchanged. No random draws: other water keeps its look."""
    ocean = t.add("ShaderNodeAttribute", attribute_name="gs_ocean").outputs["Fac"]
    carried = t.add("ShaderNodeAttribute", attribute_name="gs_foam").outputs["Fac"]
    # the last few centimetres of water (the swash) carry thin lines of foam, not a white sheet
    carried = t.math("MULTIPLY", carried, t.map_range(shore, 0.98, 0.6, 0.3, 1.0))
    riding = t.add("ShaderNodeAttribute", attribute_name="gs_foam_co").outputs["Vector"]
    lace = _foam_lace(t, t.scale_vec(riding, (0.8, 1.0, 0.0)), carried)
    # clear water between patches of lace, fewer of them as the foam thins behind the crest
    patches = t.map_range(t.math("ADD", t.noise(riding, 0.35, detail=3), t.math("MULTIPLY", carried, 0.25)),
                          0.45, 0.6)
    moving = t.math("MULTIPLY", t.math("MULTIPLY", lace, patches), t.map_range(carried, 0.02, 0.35))
    moving = t.math("MAXIMUM", moving, t.math("MULTIPLY", still, 0.3))
    return t.mix_float(ocean, still, moving)


def _foam_lace(t: Tree, co, amount):
    """Sea foam's net of thin white lines around clear cells (bubbles clump along the cells'
    edges), at two scales, warped by noise so no cell is a polygon; the lines widen with
    ``amount`` (0..1) until the cells close: white on the crest, lace in its trail."""
    warp = t.add("ShaderNodeTexNoise", {"Vector": co, "Scale": 1.3, "Detail": 3.0}).outputs["Color"]
    warped = t.add("ShaderNodeVectorMath", {0: co, 1: t.scale_vec(warp, (0.6, 0.6, 0.0))}, operation="ADD").outputs[0]
    # bubbles clump: the lines thicken and thin along their length
    clumps = t.map_range(t.noise(co, 2.5, detail=2), 0.35, 0.65, 0.4, 1.6)
    lace = None
    for scale, thin, weight in ((3.0, 0.02, 1.0), (8.0, 0.015, 0.7)):
        edge = t.add("ShaderNodeTexVoronoi", {"Vector": warped, "Scale": scale},
                     feature="DISTANCE_TO_EDGE").outputs["Distance"]
        width = t.math("MULTIPLY", t.math("ADD", thin, t.math("MULTIPLY", t.math("POWER", amount, 2.0), 0.15)), clumps)
        lines = t.math("MULTIPLY", t.map_range(t.math("SUBTRACT", width, edge), -0.015, 0.015), weight)
        lace = lines if lace is None else t.math("MAXIMUM", lace, lines)
    return lace


def dry_grass_layer(t: Tree, rng, co, var=1.0) -> Layer:
    """Straw-coloured dry grass with bare dusty soil between."""
    straw, pale = _jitter(rng, (0.36, 0.27, 0.1), var), _jitter(rng, (0.5, 0.4, 0.2), var)
    dust = _jitter(rng, (0.3, 0.2, 0.12), var)
    fine = t.noise(co, rng.uniform(2.5, 5.0), detail=3)
    patches = t.noise(co, rng.uniform(0.08, 0.2), detail=4)
    col = t.ramp(patches, [(0.3, dust), (0.5, straw), (0.75, pale)])
    col = t.mix_color(t.math("MULTIPLY", fine, 0.3), col, straw)
    return Layer(col, t.value(rng.uniform(0.8, 0.95)), fine)


@dataclass(frozen=True)
class PatchyFloor:
    """Ground whose fine noise runs through a colour ramp, overgrown in larger noise patches."""

    colours: tuple  # base colours, jittered in this order; the last one overgrows the patches
    stops: tuple  # (ramp position, index into colours) over the fine noise
    fine: tuple[float, float]  # noise scale range of the fine grain (its bump too)
    patches: tuple[float, float]  # noise scale range of the patches
    patch_detail: int
    edges: tuple[float, float]  # patch noise values over which the overgrowth fades in
    roughness: tuple[float, float]


FLOORS = {
    # dark soil under brown and ochre leaf litter with patches of moss
    "forest": PatchyFloor(((0.05, 0.035, 0.022), (0.2, 0.11, 0.045), (0.3, 0.19, 0.07), (0.06, 0.1, 0.02)),
                          stops=((0.3, 0), (0.5, 1), (0.7, 2)), fine=(3.0, 6.0), patches=(0.15, 0.3),
                          patch_detail=4, edges=(0.55, 0.68), roughness=(0.8, 0.95)),
    # rust-brown fallen needles over dark soil, with moss
    "needles": PatchyFloor(((0.045, 0.028, 0.018), (0.22, 0.1, 0.045), (0.07, 0.1, 0.025)),
                           stops=((0.35, 0), (0.65, 1)), fine=(4.0, 8.0), patches=(0.1, 0.25),
                           patch_detail=3, edges=(0.6, 0.7), roughness=(0.8, 0.95)),
    # dark wet soil with lush grass patches (river banks, wetland)
    "mud": PatchyFloor(((0.07, 0.055, 0.035), (0.035, 0.028, 0.02), (0.05, 0.13, 0.025)),
                       stops=((0.3, 1), (0.7, 0)), fine=(2.0, 4.0), patches=(0.1, 0.2),
                       patch_detail=4, edges=(0.45, 0.6), roughness=(0.55, 0.8)),
}


def patchy_floor_layer(t: Tree, rng, co, var: float, floor: PatchyFloor) -> Layer:
    cols = [_jitter(rng, c, var) for c in floor.colours]
    fine = t.noise(co, rng.uniform(*floor.fine), detail=4)
    patches = t.noise(co, rng.uniform(*floor.patches), detail=floor.patch_detail)
    col = t.ramp(fine, [(pos, cols[i]) for pos, i in floor.stops])
    col = t.mix_color(t.map_range(patches, *floor.edges), col, cols[-1])
    return Layer(col, t.value(rng.uniform(*floor.roughness)), fine)


def _floor_family(name: str):
    return lambda t, rng, co, var=1.0: patchy_floor_layer(t, rng, co, var, FLOORS[name])


STRATA = {  # palettes of sedimentary layers
    "red": [(0.3, 0.14, 0.07), (0.36, 0.19, 0.1), (0.42, 0.3, 0.2), (0.26, 0.12, 0.06), (0.38, 0.24, 0.14)],
    "grey": [(0.24, 0.23, 0.21), (0.3, 0.28, 0.25), (0.35, 0.32, 0.27), (0.2, 0.19, 0.18), (0.28, 0.25, 0.21)],
}


def strata_layer(t: Tree, rng, co, var=1.0, palette: str = "red") -> Layer:
    """Sedimentary rock: layers of uneven thickness (a 1D noise of height picks each one's
    colour, so no two repeat at a fixed spacing), gently dipping, finely laminated, and
    streaked dark downwards where water runs over the face."""
    colours = STRATA[palette]
    z = t.add("ShaderNodeSeparateXYZ", {"Vector": co}).outputs["Z"]
    dip = t.math("MULTIPLY", t.math("SUBTRACT", t.noise(co, rng.uniform(0.02, 0.04), detail=2), 0.5),
                 rng.uniform(4.0, 8.0))
    depth = t.math("ADD", z, dip)
    offset = float(rng.uniform(0.0, 100.0))
    formation = _noise_1d(t, t.math("ADD", depth, offset), rng.uniform(0.1, 0.18), detail=3)
    cuts = np.sort(rng.uniform(0.3, 0.7, len(colours) - 1))
    order = rng.permutation(len(colours))
    stops = [(0.0, _jitter(rng, colours[order[0]], var))] + [
        (float(c), _jitter(rng, colours[order[k + 1]], var)) for k, c in enumerate(cuts)]
    col = t.ramp(formation, stops, interpolation="CONSTANT")  # sharp boundaries between layers
    lamination = _noise_1d(t, t.math("ADD", depth, offset + 7.0), rng.uniform(1.5, 3.0), detail=1)
    col = t.mix_color(t.map_range(lamination, 0.35, 0.65, 0.0, 0.35), col,
                      tuple(0.6 * c for c in colours[order[0]]))
    streaks = t.add("ShaderNodeTexNoise", {"Vector": t.scale_vec(co, (1.0, 1.0, 0.06)),  # long and vertical:
                                           "Scale": rng.uniform(1.5, 3.0), "Detail": 2.0}).outputs["Fac"]  # unpooled
    col = t.mix_color(t.map_range(streaks, 0.55, 0.7, 0.0, 0.55), col, (0.06, 0.04, 0.03))
    grain = t.noise(co, rng.uniform(1.0, 2.5), detail=4)
    return Layer(col, t.value(rng.uniform(0.75, 0.9)), grain)


def cliff_face_layer(t: Tree, rng, co, var=1.0, weathering: np.random.Generator | None = None) -> Layer:
    """A cliff's face: grey strata (drawn from ``rng``) weathered in patches tens of metres
    across, warm where iron stains it and pale where rock fell fresh, with spots of lichen
    (drawn from ``weathering``, so the strata stay those of ``rng``)."""
    layer = strata_layer(t, rng, co, var, palette="grey")
    w = weathering if weathering is not None else rng
    patches = t.noise(co, w.uniform(0.04, 0.08), detail=3)
    col = t.mix_color(t.map_range(patches, 0.5, 0.62, 0.0, 0.7), layer.color, _jitter(w, (0.36, 0.25, 0.15), var))
    col = t.mix_color(t.map_range(patches, 0.46, 0.36, 0.0, 0.55), col, _jitter(w, (0.45, 0.44, 0.41), var))
    lichen = t.map_range(t.noise(co, w.uniform(0.8, 1.5), detail=4), 0.56, 0.61, 0.0, 0.85)
    col = t.mix_color(lichen, col, _jitter(w, (0.34, 0.33, 0.17), var))
    return Layer(col, layer.roughness, layer.height)


def _noise_1d(t: Tree, w, scale: float, detail: float):
    """Noise of one coordinate ``w`` (0..1): bands that run level whatever the shape cut through them."""
    return t.add("ShaderNodeTexNoise", {"W": w, "Scale": scale, "Detail": detail, "Roughness": 0.5},
                 noise_dimensions="1D").outputs["Fac"]


LAYERS = {"soil": soil_layer, "grass": grass_layer, "rock": rock_layer, "sand": sand_layer,
          "snow": snow_layer, "bark": bark_layer, "leaf": leaf_layer, "water": water_layer,
          "petal": petal_layer, "forest": _floor_family("forest"),
          "needles": _floor_family("needles"), "dry": dry_grass_layer, "mud": _floor_family("mud"),
          "strata": strata_layer,
          "cliff": lambda t, rng, co, var=1.0: strata_layer(t, rng, co, var, palette="grey"),
          "cliff_face": cliff_face_layer}


def make_material(family: str, name: str, rng: np.random.Generator, variation: float = 1.0,
                  **layer_kwargs) -> "bpy.types.Material":
    """A material of one family with parameters drawn from ``rng``."""
    if family not in LAYERS:
        raise ValueError(f"unknown material family {family!r}; choose one of {FAMILIES}")
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    layer = LAYERS[family](t, rng, co, variation, **layer_kwargs)
    if family == "water":
        t.finish(layer, bump_strength=0.06, bump_distance=0.02)
    elif family in ("leaf", "petal"):
        bsdf = t.finish(layer, bump_strength=0.0)
        # Thin leaves let light through: a little translucency reads as foliage against the sun.
        _set_if(bsdf, ("Subsurface Weight", "Subsurface"), 0.0)
        mat.use_backface_culling = False
    else:
        t.finish(layer, bump_strength=0.5 if family in ("rock", "bark", "cliff", "cliff_face") else 0.3)
    mat["gs_family"] = family
    mat.diffuse_color = (*_preview_color(family), 1.0)
    return mat


def _set_if(node, names, value):
    for n in names:
        if n in node.inputs:
            node.inputs[n].default_value = value
            return


def _preview_color(family: str) -> tuple:
    return {"soil": (0.2, 0.14, 0.08), "grass": (0.1, 0.25, 0.05), "rock": (0.3, 0.3, 0.3),
            "sand": (0.7, 0.6, 0.4), "snow": (0.9, 0.9, 0.95), "bark": (0.15, 0.1, 0.06),
            "leaf": (0.1, 0.3, 0.05), "water": (0.02, 0.05, 0.08), "petal": (0.8, 0.7, 0.1),
            "forest": (0.15, 0.09, 0.04), "needles": (0.18, 0.09, 0.04), "dry": (0.4, 0.3, 0.12),
            "mud": (0.06, 0.05, 0.03), "strata": (0.45, 0.22, 0.1)}.get(family, (0.5, 0.5, 0.5))


GRAVEL_ATTRIBUTE = "gs_gravel"  # per terrain vertex: 0 .. 1 bare gravel (a cliff's scree apron)


@dataclass
class TerrainShading:
    """Where the terrain material switches layers (world units)."""
    base: str = "grass"          # the base layer family (grass, forest, needles, dry, sand, strata, snow, mud)
    rock_slope: float = 0.22     # 1 - normal.z where rock takes over (about 39 degrees)
    snow_line: float | None = None
    beach_level: float | None = None  # sand below this height (shore of the water)
    rock_tint: tuple | None = None    # colour of the bare rock (None: grey)
    tree_line: float | None = None    # no tree grows above this height
    rock_strata: float = 0.15         # share of level bands in the bare rock (0: massive rock)
    ripples: sand_ripples.Ripples | None = None  # wind ripples on the sand (a bump), or none
    gravel: bool = False              # bare gravel where the mesh's GRAVEL_ATTRIBUTE says (a cliff's scree)


def terrain_shading_for(ground, z: np.ndarray, water_level, snow: str, rng) -> TerrainShading:
    """Layer thresholds of a biome's ``ground`` (``biomes.GroundLook``) that fit the heights ``z``.
    ``snow``: "auto" (the biome's snow line), "on" (snow caps) or "off"."""
    snow_q = ground.snow_line if snow == "auto" else ((0.72, 0.88) if snow == "on" else None)
    snow_line = None if snow_q is None else float(np.quantile(z, rng.uniform(*snow_q)))
    beach = None if water_level is None or not ground.beach else water_level + rng.uniform(0.15, 0.35)
    rock_slope = ground.rock_slope * rng.uniform(0.85, 1.15)
    trees = None if ground.tree_line is None else float(np.quantile(z, rng.uniform(*ground.tree_line)))
    return TerrainShading(base=ground.base, rock_slope=rock_slope, snow_line=snow_line, beach_level=beach,
                          rock_tint=ground.rock_tint, tree_line=trees, rock_strata=ground.rock_strata)


def _base_layer(t: Tree, rng, co, shading: TerrainShading, slope, wobble, var: float) -> Layer:
    """The terrain's base: the ground look's own layer, with soil or sand where it thins out."""
    if shading.base in ("sand", "snow"):
        return LAYERS[shading.base](t, rng, co, var)
    if shading.base == "strata":
        floor = sand_layer(t, rng, co, var)
        flat = t.map_range(t.math("ADD", slope, t.math("MULTIPLY", wobble, 0.06)), 0.08, 0.03)
        return _mix_layers(t, flat, strata_layer(t, rng, co, var), floor)
    top = LAYERS[shading.base](t, rng, co, var)
    soil = soil_layer(t, rng, co, var)
    if shading.base == "grass":
        patches = t.map_range(t.noise(co, rng.uniform(0.05, 0.1), detail=3), 0.55, 0.65)
        top = _mix_layers(t, patches, top, soil)
    # Bare soil on moderate slopes before the rock takes over.
    return _mix_layers(t, t.map_range(slope, 0.6 * shading.rock_slope, shading.rock_slope), top, soil)


def make_terrain_material(name: str, shading: TerrainShading, rng: np.random.Generator,
                          variation: float = 1.0) -> "bpy.types.Material":
    """Terrain: a base layer, sand near the water, rock on steep slopes, snow above the
    snow line on gentle slopes. Slope and height come from the Geometry node."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    t.shared = co
    geo = t.add("ShaderNodeNewGeometry")
    sep_n = t.add("ShaderNodeSeparateXYZ", {"Vector": geo.outputs["Normal"]})
    sep_p = t.add("ShaderNodeSeparateXYZ", {"Vector": geo.outputs["Position"]})
    slope = t.math("SUBTRACT", 1.0, sep_n.outputs["Z"])
    height = sep_p.outputs["Z"]
    wobble = t.math("SUBTRACT", t.noise(co, 0.15, detail=4), 0.5)  # breaks up straight layer borders
    layer = _base_layer(t, rng, co, shading, slope, wobble, variation)
    if shading.beach_level is not None:
        beach = t.map_range(t.math("ADD", height, t.math("MULTIPLY", wobble, 0.3)),
                            shading.beach_level, shading.beach_level - 0.25)
        layer = _mix_layers(t, beach, layer, sand_layer(t, rng, co, variation))
    if shading.gravel:  # a cliff's scree apron: bare grey gravel where the terrain says so
        gravel = t.add("ShaderNodeAttribute", attribute_name=GRAVEL_ATTRIBUTE).outputs["Fac"]
        grit = rock_layer(t, rng, co, variation, tint=shading.rock_tint, strata=0.0)
        layer = _mix_layers(t, t.math("MULTIPLY", gravel, t.map_range(wobble, -0.3, 0.1)), layer, grit)
    # Layered ground shows its layers where it is steep; other ground shows bare rock.
    rock = (strata_layer(t, rng, co, variation) if shading.base == "strata"
            else rock_layer(t, rng, co, variation, tint=shading.rock_tint, strata=shading.rock_strata))
    rock_mask = t.map_range(t.math("ADD", slope, t.math("MULTIPLY", wobble, 0.1)),
                            shading.rock_slope, shading.rock_slope + 0.06)
    layer = _mix_layers(t, rock_mask, layer, rock)
    if shading.snow_line is not None and shading.base != "snow":
        snow = snow_layer(t, rng, co, variation)
        above = t.map_range(t.math("ADD", height, t.math("MULTIPLY", wobble, 6.0)),
                            shading.snow_line, shading.snow_line + 1.5)
        gentle = t.map_range(slope, shading.rock_slope + 0.25, shading.rock_slope + 0.05)
        layer = _mix_layers(t, t.math("MULTIPLY", above, gentle), layer, snow)
    # No bump map of the layers' textures: on the terrain, which fills most pixels, it cost
    # about 40 % of the render time; the mesh and the colour texture carry the detail instead.
    # Sand's wind ripples are the exception: a few math nodes, too small for any mesh.
    colour, bump = layer.color, None
    if shading.ripples is not None:
        colour, bump = _ripple_bump(t, co, shading.ripples, slope, colour)
    bsdf = t.finish(Layer(colour, layer.roughness, None), bump_strength=0.0)
    if bump is not None:
        t.link(bump.outputs["Normal"], bsdf.inputs["Normal"])
    mat["gs_family"] = "terrain"
    mat["gs_rock_slope"] = shading.rock_slope
    if shading.snow_line is not None:
        mat["gs_snow_line"] = shading.snow_line
    mat.diffuse_color = (0.2, 0.25, 0.1, 1.0)
    return mat


def _madd(t: Tree, a, b, c):
    """a * b + c."""
    return t.add("ShaderNodeMath", {0: a, 1: b, 2: c}, operation="MULTIPLY_ADD").outputs[0]


def _sines(t: Tree, x, y, terms, start):
    """``start`` + sum of w * sin(kx * x + ky * y + phase) over ``terms`` (kx, ky, w, phase)."""
    acc = start
    for kx, ky, w, ph in terms:
        acc = _madd(t, t.math("SINE", _madd(t, x, kx, _madd(t, y, ky, ph))), w, acc)
    return acc


def _ripple_height(t: Tree, co, r: sand_ripples.Ripples, slope):
    """Nodes of ``ripples.ripple_height`` at the object coordinates ``co``: (height in metres,
    crest form 0..1 before the slope fade)."""
    xyz = t.add("ShaderNodeSeparateXYZ", {"Vector": co})
    x, y = xyz.outputs["X"], xyz.outputs["Y"]
    ph = _madd(t, x, r.wind[0] / r.wavelength, _madd(t, y, r.wind[1] / r.wavelength, _sines(t, x, y, r.bends, 0.0)))
    fr = t.math("FRACT", ph)
    lee = sand_ripples.LEE
    p = t.math("MINIMUM", t.math("MULTIPLY", fr, 1.0 / lee), _madd(t, fr, -1.0 / (1.0 - lee), 1.0 / (1.0 - lee)))
    prof = t.math("MULTIPLY", t.math("MULTIPLY", p, p), _madd(t, p, -2.0, 3.0))
    strong = t.add("ShaderNodeMath", {0: _sines(t, x, y, r.breaks, 0.5), 1: 1.8, 2: -0.2},
                   operation="MULTIPLY_ADD", use_clamp=True).outputs[0]
    form = t.math("MULTIPLY", prof, strong)
    fade = t.map_range(slope, sand_ripples.FADE[1], sand_ripples.FADE[0])
    return t.math("MULTIPLY", t.math("MULTIPLY", form, fade), r.height), form


def _ripple_bump(t: Tree, co, r: sand_ripples.Ripples, slope, colour):
    """The ripples as a true-scale bump (height in metres, distance 1) and the sand ``colour``
    a little darker in their troughs, where finer grains settle."""
    height, form = _ripple_height(t, co, r, slope)
    shade = t.add("ShaderNodeMix", {"Factor_Float": t.map_range(form, 0.6, 0.0, 0.0, 0.45), "A_Color": colour,
                                    "B_Color": (0.75, 0.72, 0.7)}, data_type="RGBA", blend_type="MULTIPLY")
    bump = t.add("ShaderNodeBump", {"Strength": 1.0, "Distance": 1.0, "Height": height})
    return _sock(shade.outputs, "Result_Color"), bump


def _mix_layers(t: Tree, fac, a: Layer, b: Layer) -> Layer:
    """``b`` where ``fac`` is 1, ``a`` where it is 0."""
    h = None
    if a.height is not None and b.height is not None:
        h = t.mix_float(fac, a.height, b.height)
    else:
        h = a.height or b.height
    return Layer(t.mix_color(fac, a.color, b.color), t.mix_float(fac, a.roughness, b.roughness), h)
