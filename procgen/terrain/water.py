"""Water with moving waves: a grid over the terrain whose vertices a geometry-nodes modifier
lifts by a sum of travelling sine waves of the scene time, so Cycles sees the surface move
(its vector pass follows the vertices) and the ground truth follows the waves. An ocean
adds a flat, still plane out to the horizon around the grid; the waves fade to nothing at
the grid's edge so the two meet without a seam."""
from __future__ import annotations

import json
from functools import partial

import numpy as np

from ..geometry.blender_mesh import mesh_from_arrays, new_object
from ..geometry.node_groups import math_node, new_group
from . import surf
from .breakers import lip_lead, lip_offset, mark_breaking
from .heightfield import Heightfield
from .surf import BREAKER, CARRIED_ATTRIBUTE, FOAM_ATTRIBUTE, LIP, OCEAN_ATTRIBUTE, STEEPEN, WHITECAP, sigma
from .terrain_mesh import grid_faces

WAVES = {  # number of waves, amplitude range (m), wavelength range (m), grid cell (m)
    "ocean": (5, (0.06, 0.22), (3.0, 14.0), 0.4),
    "calm": (4, (0.01, 0.035), (0.8, 3.5), 0.25),
}
FAR = 2500.0  # metres: how far an ocean reaches
SURF_DEPTH = 0.6  # metres: water shallower than this foams at the shore
SHORE_ATTRIBUTE = "gs_shore"  # per vertex of the wave grid: 0 in deep water .. 1 at the shoreline


def wave_params(style: str, rng: np.random.Generator) -> list[list[float]]:
    """[[amplitude, kx, ky, omega, phase], ...]: deep-water waves (omega^2 = g k) from a main
    direction with some spread."""
    n, amp, wavelength, _ = WAVES[style]
    main = rng.uniform(0, 2 * np.pi)
    out = []
    for _ in range(n):
        lam = rng.uniform(*wavelength)
        k = 2 * np.pi / lam
        d = main + rng.normal(scale=0.5)
        out.append([float(rng.uniform(*amp) * (lam / wavelength[1]) ** 0.5), float(k * np.cos(d)),
                    float(k * np.sin(d)), float(np.sqrt(9.81 * k)), float(rng.uniform(0, 2 * np.pi))])
    return out


def build_water(hf: Heightfield, material, rng: np.random.Generator, style: str, resolution_scale: float = 1.0,
                foam: bool = False):
    """The water objects at ``hf.water_level`` (none when there is no water): the wave grid,
    and for an ocean the still plane around it; with ``foam`` the grid carries the waves'
    moving foam (``surf.foam``). Returns the list of objects."""
    if hf.water_level is None:
        return []
    cell = WAVES[style][3] / max(resolution_scale, 1e-3)
    half = hf.size / 2
    n = max(int(np.ceil(hf.size / cell)) + 1, 8)
    c = np.linspace(-half, half, n)
    x, y = np.meshgrid(c, c)
    verts = np.stack([x, y, np.zeros_like(x)], -1).reshape(-1, 3)
    me = mesh_from_arrays("water", verts, grid_faces(n))
    _mark_shore(me, hf, verts)
    me.materials.append(material)
    ob = new_object("water", me, "water")
    ob.location.z = hf.water_level
    params = wave_params(style, rng)
    fade = (0.8 * half, 0.98 * half)
    ob["gs_waves"] = json.dumps({"params": params, "fade": list(fade)})
    ob["gs_moving"] = True
    if foam:
        me.attributes.new(OCEAN_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set("value", np.ones(len(verts), np.float32))
        mark_breaking(me, hf, verts)
    ob.modifiers.new("waves", "NODES").node_group = wave_nodes("water_waves", params, fade, foam)
    out = [ob]
    if style == "ocean":
        out.append(_far_plane(hf, material, half))
    return out


def _mark_shore(me, hf: Heightfield, verts: np.ndarray) -> None:
    """How close each vertex [N, 3] (local = world x, y) is to the shore, for the surf's foam."""
    depth = hf.water_level - hf.height(verts[:, 0], verts[:, 1])
    shore = np.clip(1.0 - depth / SURF_DEPTH, 0.0, 1.0).astype(np.float32)
    me.attributes.new(SHORE_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set("value", shore)


def _far_plane(hf: Heightfield, material, half: float):
    """A flat square ring from the grid's edge to the horizon."""
    r = FAR
    verts = np.array([[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0],
                      [-r, -r, 0], [r, -r, 0], [r, r, 0], [-r, r, 0]], dtype=np.float64)
    faces = np.array([[4, 5, 1, 0], [5, 6, 2, 1], [6, 7, 3, 2], [7, 4, 0, 3]])
    me = mesh_from_arrays("water_far", verts, faces)
    me.materials.append(material)
    ob = new_object("water_far", me, "water")
    ob.location.z = hf.water_level
    return ob


def wave_nodes(name: str, params: list, fade: tuple[float, float], foam: bool = False):
    """Set Position with offset z = fade(x, y) * sum of a * sin(kx x + ky y - w t + phase)
    (``surf.wave_height``); with ``foam`` the crests peak in the shallows (``surf.steepen``) and
    pitch forward towards the shore (``surf.lead``, ``breakers``), and the grid stores
    ``surf.foam`` of that height plus the lip's ``surf.whitewater`` per vertex, and the foam
    texture's ``surf.carried_coords``."""
    ng, gin, gout = new_group(name, "Geometry")
    nodes, link, math = ng.nodes, ng.links.new, partial(math_node, ng)
    sep = nodes.new("ShaderNodeSeparateXYZ")
    link(nodes.new("GeometryNodeInputPosition").outputs[0], sep.inputs[0])
    time = nodes.new("GeometryNodeInputSceneTime").outputs["Seconds"]
    offset = nodes.new("ShaderNodeCombineXYZ")
    height = _surface_height(ng, sep, time, params, fade, foam)
    geometry = gin.outputs[0]
    if foam:
        lead = lip_lead(ng, height, params)
        ahead = lip_offset(ng, lead, params)
        link(ahead[0], offset.inputs["X"])
        link(ahead[1], offset.inputs["Y"])
        # the lip's lead a moment ago, for the whitewater it leaves behind (``surf.whitewater``)
        leads = [lead] + [lip_lead(ng, _surface_height(ng, sep, math("SUBTRACT", time, ago), params, fade, True),
                                   params) for ago, _ in surf.WHITEWATER[1:]]
        # the foam is stored before the move: its fields read the rest positions, as the offset does
        geometry = _store_foam(ng, geometry, height, leads, params)
        geometry = _store(ng, geometry, CARRIED_ATTRIBUTE, _carried_coords(ng, sep, time, params), "FLOAT_VECTOR")
    link(height, offset.inputs["Z"])
    setp = nodes.new("GeometryNodeSetPosition")
    link(geometry, setp.inputs["Geometry"])
    link(offset.outputs[0], setp.inputs["Offset"])
    link(setp.outputs[0], gout.inputs[0])
    return ng


def _surface_height(ng, sep, time, params: list, fade: tuple[float, float], peaked: bool):
    """The socket of ``surf.wave_height`` at the rest x, y (``sep``) and ``time`` (sockets), with
    ``peaked`` steepened in the shallows as ``surf.steepen``."""
    math = partial(math_node, ng)
    total = None
    for a, kx, ky, w, ph in params:
        arg = math("ADD", math("ADD", math("MULTIPLY", sep.outputs["X"], kx), math("MULTIPLY", sep.outputs["Y"], ky)),
                   math("ADD", math("MULTIPLY", time, -w), ph))
        term = math("MULTIPLY", math("SINE", arg), a)
        total = term if total is None else math("ADD", total, term)
    edge = math("MAXIMUM", math("ABSOLUTE", sep.outputs["X"]), math("ABSOLUTE", sep.outputs["Y"]))
    t = math("MINIMUM", math("MAXIMUM", math("DIVIDE", math("SUBTRACT", edge, fade[0]), fade[1] - fade[0]), 0.0), 1.0)
    smooth = math("MULTIPLY", math("MULTIPLY", t, t), math("SUBTRACT", 3.0, math("MULTIPLY", t, 2.0)))
    height = math("MULTIPLY", total, math("SUBTRACT", 1.0, smooth))
    if not peaked:
        return height
    peak = math("MAXIMUM", height, 0.0)
    lift = math("MULTIPLY", math("MULTIPLY", peak, peak), STEEPEN / sigma(params))
    return math("ADD", height, math("MULTIPLY", lift, _shore(ng)))


def _carried_coords(ng, sep, time, params: list):
    """The vector socket of ``surf.carried_coords`` at the rest x, y (``sep``) and ``time``."""
    math, (dx, dy) = partial(math_node, ng), surf.travel(params)
    x, y = sep.outputs["X"], sep.outputs["Y"]
    along = math("ADD", math("ADD", math("MULTIPLY", x, float(dx)), math("MULTIPLY", y, float(dy))),
                 math("MULTIPLY", time, -surf.drift(params)))
    across = math("ADD", math("MULTIPLY", x, -float(dy)), math("MULTIPLY", y, float(dx)))
    co = ng.nodes.new("ShaderNodeCombineXYZ")
    ng.links.new(along, co.inputs["X"])
    ng.links.new(across, co.inputs["Y"])
    return co.outputs[0]


def _shore(ng):
    """The SHORE_ATTRIBUTE field of the grid (a socket)."""
    shore = ng.nodes.new("GeometryNodeInputNamedAttribute")
    shore.data_type = "FLOAT"
    shore.inputs["Name"].default_value = SHORE_ATTRIBUTE
    return shore.outputs["Attribute"]


def _store_foam(ng, geometry, height, leads: list, params: list):
    """Store ``surf.foam`` of the wave height plus ``surf.whitewater`` of the lip's leads (sockets)
    as FOAM_ATTRIBUTE; the geometry out."""
    math, sig = partial(math_node, ng), sigma(params)
    u = math("DIVIDE", height, sig)

    def ramp(start, width):
        return math("MINIMUM", math("MAXIMUM", math("DIVIDE", math("SUBTRACT", u, start), width), 0.0), 1.0)

    open_sea = math("MULTIPLY", ramp(*WHITECAP[:2]), WHITECAP[2])
    breaking = math("MULTIPLY", ramp(*BREAKER), _shore(ng))
    white = None
    for (_, weight), lead in zip(surf.WHITEWATER, leads):
        term = math("MULTIPLY", lead, weight / (LIP[2] * sig))
        white = term if white is None else math("MAXIMUM", white, term)
    return _store(ng, geometry, FOAM_ATTRIBUTE, math("MINIMUM", math("ADD", math("ADD", open_sea, breaking), white),
                                                      1.0), "FLOAT")


def _store(ng, geometry, name: str, value, data_type: str):
    """Store the field ``value`` (a socket) per point as ``name``; the geometry out."""
    store = ng.nodes.new("GeometryNodeStoreNamedAttribute")
    store.data_type, store.domain = data_type, "POINT"
    store.inputs["Name"].default_value = name
    ng.links.new(geometry, store.inputs["Geometry"])
    ng.links.new(value, store.inputs["Value"])
    return store.outputs[0]
