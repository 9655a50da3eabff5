"""Breaking waves on an ocean's wave grid: in the shallows the wave grid's geometry nodes push
the top of every crest forward, along the waves' main direction of travel, by ``surf.lead`` of
its height, so the crest pitches over its own front face and the surface folds over (it is no
longer a height field there). The push is per vertex of the same
grid, so Cycles' vector pass, the depth and every ray cast follow the lip as they follow the
rest of the waves."""
from __future__ import annotations

from functools import partial

import numpy as np

from ..geometry.node_groups import math_node
from .heightfield import Heightfield
from .surf import LIP, sigma, travel

BREAK_ATTRIBUTE = "gs_breaking"  # per vertex of an ocean's wave grid: 0 beyond BREAK_DEPTH .. 1 at the shoreline
BREAK_DEPTH = 1.6  # metres: waves start to pitch over where the water is this shallow


def breaking(hf: Heightfield, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far into the breaking zone world x, y [N] lie: 0 in water deeper than BREAK_DEPTH,
    rising (smoothly) to 1 at the shoreline and on land."""
    s = np.clip(1.0 - (hf.water_level - hf.height(x, y)) / BREAK_DEPTH, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def mark_breaking(me, hf: Heightfield, verts: np.ndarray) -> None:
    """Store ``breaking`` of each vertex [N, 3] (local = world x, y) as BREAK_ATTRIBUTE."""
    b = breaking(hf, verts[:, 0], verts[:, 1]).astype(np.float32)
    me.attributes.new(BREAK_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set("value", b)


def lip_lead(ng, height, params: list):
    """The socket of ``surf.lead`` (m) of the wave height (a socket) and BREAK_ATTRIBUTE."""
    math = partial(math_node, ng)
    attr = ng.nodes.new("GeometryNodeInputNamedAttribute")
    attr.data_type = "FLOAT"
    attr.inputs["Name"].default_value = BREAK_ATTRIBUTE
    shore = attr.outputs["Attribute"]
    sig = sigma(params)
    u = math("DIVIDE", math("SUBTRACT", math("DIVIDE", height, sig), LIP[0]), LIP[1])
    t = math("MINIMUM", math("MAXIMUM", u, 0.0), 1.0)
    smooth = math("MULTIPLY", math("MULTIPLY", t, t), math("SUBTRACT", 3.0, math("MULTIPLY", t, 2.0)))
    return math("MULTIPLY", math("MULTIPLY", smooth, LIP[2] * sig), shore)


def lip_offset(ng, lead, params: list):
    """Sockets (x, y) of the crest's push forward in the shallows: ``travel`` times the lead (a socket)."""
    math, (dx, dy) = partial(math_node, ng), travel(params)
    return math("MULTIPLY", lead, float(dx)), math("MULTIPLY", lead, float(dy))
