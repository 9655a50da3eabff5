"""Rock at arm's length: cracks, pits and grain a few centimetres and millimetres across.

The rock material's own bump is lumps tens of centimetres across, which at half a metre reads
as smooth plastic. This adds a second bump, in true metres, under it (its normal feeds the
first bump's), so the rock's look from a distance, its colour and its lumps stay as they were:

- cracks: the edges of cells ``CRACK_CELL`` metres across, a few millimetres wide and deep,
  broken off where a noise is low, and darker inside;
- pits: small round hollows in a fifth or so of cells about 2-3 cm apart;
- grain: a millimetre of fine noise.
"""
from __future__ import annotations

import numpy as np

from .surfaces import _sock

CRACK_CELL = (0.12, 0.25)  # metres across a crack's cell
CRACK = (0.003, 0.006)  # metres: width and depth of a crack
PIT_CELL = (0.02, 0.035)  # metres between pits' centres
PIT_DEPTH = 0.002  # metres
GRAIN = 0.001  # metres of fine grain, peak to peak about twice this


class _Nodes:
    def __init__(self, mat):
        self.nt = mat.node_tree

    def __call__(self, kind: str, inputs: dict, output=0, **props):
        n = self.nt.nodes.new(kind)
        for k, v in props.items():
            setattr(n, k, v)
        for k, v in inputs.items():
            if hasattr(v, "is_output"):
                self.nt.links.new(v, n.inputs[k])
            else:
                n.inputs[k].default_value = v
        return n.outputs[output]

    def math(self, op: str, a, b=0.0):
        return self("ShaderNodeMath", {0: a, 1: b}, operation=op)

    def ramp(self, value, lo: float, hi: float):
        return self("ShaderNodeMapRange", {"Value": value, "From Min": lo, "From Max": hi},
                    interpolation_type="SMOOTHSTEP", clamp=True)


def micro_height(mat, rng: np.random.Generator):
    """Nodes of the micro-relief's height (metres) in ``mat`` and its dark share (0..1, the
    bottoms of cracks and pits), drawn from ``rng``."""
    n = _Nodes(mat)
    co = n("ShaderNodeTexCoord", {}, output="Object")
    cell = rng.uniform(*CRACK_CELL)
    # (cells warped by a noise of their own size, so cracks wander instead of drawing polygons)
    wobble = n("ShaderNodeTexNoise", {"Vector": co, "Scale": 1.5 / cell, "Detail": 2.0}, output="Color")
    wobble = n("ShaderNodeVectorMath", {0: wobble, 1: (0.5, 0.5, 0.5)}, operation="SUBTRACT")
    warped = n("ShaderNodeVectorMath", {0: wobble, 1: (0.5 * cell,) * 3, 2: co}, operation="MULTIPLY_ADD")
    edge = n("ShaderNodeTexVoronoi", {"Vector": warped, "Scale": 1.0 / cell, "Randomness": 1.0},
             output="Distance", feature="DISTANCE_TO_EDGE")
    width, depth = rng.uniform(*CRACK), rng.uniform(*CRACK)
    where = n.ramp(n("ShaderNodeTexNoise", {"Vector": co, "Scale": rng.uniform(2.0, 4.0), "Detail": 2.0}),
                   0.5, 0.58)  # cracks run on in some places and stop in others
    crack = n.math("MULTIPLY", n.ramp(edge, 0.5 * width / cell, 0.0), where)
    pits = n("ShaderNodeTexVoronoi", {"Vector": co, "Scale": 1.0 / rng.uniform(*PIT_CELL), "Randomness": 1.0},
             output="Distance")
    chosen = n.ramp(n("ShaderNodeTexNoise", {"Vector": co, "Scale": rng.uniform(25.0, 40.0), "Detail": 1.0}),
                    0.55, 0.62)
    pit = n.math("MULTIPLY", n.ramp(pits, 0.3, 0.1), chosen)
    grain = n("ShaderNodeTexNoise", {"Vector": co, "Scale": rng.uniform(120.0, 180.0), "Detail": 2.0})
    height = n.math("SUBTRACT", n.math("MULTIPLY", grain, 2.0 * GRAIN),
                    n.math("ADD", n.math("MULTIPLY", crack, depth), n.math("MULTIPLY", pit, PIT_DEPTH)))
    return height, n.math("MAXIMUM", crack, n.math("MULTIPLY", pit, 0.6))


def add_micro_relief(mat, rng: np.random.Generator) -> None:
    """Put the micro-relief under ``mat``'s bump and darken its cracks and pits a little."""
    nt = mat.node_tree
    bump = next(b for b in nt.nodes if b.type == "BUMP")
    bsdf = next(b for b in nt.nodes if b.type == "BSDF_PRINCIPLED")
    height, dark = micro_height(mat, rng)
    n = _Nodes(mat)
    fine = n("ShaderNodeBump", {"Strength": 1.0, "Distance": 1.0, "Height": height})
    fine.node.label = "rock_micro_relief"
    nt.links.new(fine, bump.inputs["Normal"])
    colour = bsdf.inputs["Base Color"].links[0].from_socket
    shade = nt.nodes.new("ShaderNodeMix")
    shade.data_type, shade.blend_type = "RGBA", "MULTIPLY"
    nt.links.new(n.math("MULTIPLY", dark, 0.6), _sock(shade.inputs, "Factor_Float"))
    nt.links.new(colour, _sock(shade.inputs, "A_Color"))
    _sock(shade.inputs, "B_Color").default_value = (0.25, 0.24, 0.23, 1.0)
    nt.links.new(_sock(shade.outputs, "Result_Color"), bsdf.inputs["Base Color"])
    mat["gs_micro_relief"] = True

