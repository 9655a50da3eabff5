"""The land beyond the terrain, out to the horizon: a ring of ever larger cells around the
terrain square whose inner edge is the terrain's own border (no seam) and whose heights
ease from that border into distant hills or mountain ranges of the biome's relief. Its
material is the terrain's, hazed with the distance (aerial perspective), so far ridges fade
into the sky instead of standing out crisp. On a coast the ring drops below the sea on the
sea's side."""
from __future__ import annotations

import numpy as np

from ..atmosphere.fog import not_a_light
from ..core.noise import Noise
from ..geometry.blender_mesh import enable_nodes, mesh_from_arrays, new_object
from .heightfield import Heightfield

FAR = 1800.0    # metres: where the land ends
GROWTH = 1.13   # each ring of cells is this much farther out than the last


def border(hf: Heightfield) -> np.ndarray:
    """The terrain's border vertices [B, 2] in order around it (counter-clockwise)."""
    c = hf.coords
    n = hf.n
    bottom = np.stack([c[:-1], np.full(n - 1, c[0])], 1)
    right = np.stack([np.full(n - 1, c[-1]), c[:-1]], 1)
    top = np.stack([c[::-1][:-1], np.full(n - 1, c[-1])], 1)
    left = np.stack([np.full(n - 1, c[0]), c[::-1][:-1]], 1)
    return np.concatenate([bottom, right, top, left])


def ring_heights(hf: Heightfield, xy: np.ndarray, scale: np.ndarray, relief: tuple[float, float],
                 rng: np.random.Generator, sea_direction=None) -> np.ndarray:
    """Heights [R, B] of ring points ``xy`` [R, B, 2]; ``scale`` [R] is each ring's distance
    factor (1 at the border). Border heights ease into ridged noise of the ``relief`` range."""
    noise = Noise(rng)
    lo, hi = relief
    base = float(np.median(hf.z))
    amp = rng.uniform(lo, hi)
    off = rng.uniform(-500, 500, 2)
    u, v = xy[..., 0] / 420.0 + off[0], xy[..., 1] / 420.0 + off[1]
    shape = 0.45 * (0.5 + 0.5 * noise.fbm2(u, v, octaves=5)) + 0.55 * noise.ridged2(u * 1.7, v * 1.7, 6)
    # The relief grows with the distance, so near land stays low and ranges rise far away.
    grow = np.clip((scale[:, None] - 1.0) / 8.0, 0, 1)
    far = base + amp * shape * grow
    edge = hf.height(xy[0, :, 0], xy[0, :, 1])[None]
    t = np.clip((scale[:, None] - 1.0) / 2.5, 0, 1)
    t = t * t * (3 - 2 * t)
    z = edge * (1 - t) + far * t
    if sea_direction is not None and hf.water_level is not None:
        s = xy[..., 0] * sea_direction[0] + xy[..., 1] * sea_direction[1]
        sea = np.clip(-s / (0.25 * hf.size), 0, 1) * t
        z = z * (1 - sea) + (hf.water_level - 15.0) * sea
    return z


def build_backdrop(hf: Heightfield, material, relief: tuple[float, float], rng: np.random.Generator,
                   sea_direction=None):
    """The ring object ``terrain_far`` (class terrain)."""
    edge = border(hf)
    half = hf.size / 2
    scales = [1.0]
    while half * scales[-1] < FAR:
        scales.append(scales[-1] * GROWTH if len(scales) > 3 else scales[-1] + 0.05 * len(scales))
    scale = np.array(scales)
    xy = edge[None] * scale[:, None, None]  # square rings: every border point pushed straight out
    z = ring_heights(hf, xy, scale, relief, rng, sea_direction)
    verts = np.concatenate([xy, z[..., None]], -1).reshape(-1, 3)
    b = len(edge)
    i = np.arange(len(scale) - 1)[:, None] * b
    j = np.arange(b)[None]
    quads = np.stack([i + j, i + (j + 1) % b, i + b + (j + 1) % b, i + b + j], -1).reshape(-1, 4)
    me = mesh_from_arrays("terrain_far", verts, quads, smooth=True)
    if material is not None:
        me.materials.append(material)
    return new_object("terrain_far", me, "terrain")


def hazed(material, name: str, colour: tuple, distance: float):
    """A copy of ``material`` that fades into ``colour`` (emitted) with the camera ray's length:
    amount 1 - exp(-length / distance)."""
    mat = material.copy()
    mat.name = name
    enable_nodes(mat)
    nt = mat.node_tree
    out = next(n for n in nt.nodes if n.type == "OUTPUT_MATERIAL")
    surface = out.inputs["Surface"].links[0].from_socket
    path = nt.nodes.new("ShaderNodeLightPath")
    fade = nt.nodes.new("ShaderNodeMath")
    fade.operation = "MULTIPLY"
    nt.links.new(path.outputs["Ray Length"], fade.inputs[0])
    fade.inputs[1].default_value = -1.0 / distance
    amount = nt.nodes.new("ShaderNodeMath")
    amount.operation = "EXPONENT"
    nt.links.new(fade.outputs[0], amount.inputs[0])
    inv = nt.nodes.new("ShaderNodeMath")
    inv.operation = "SUBTRACT"
    inv.inputs[0].default_value = 1.0
    nt.links.new(amount.outputs[0], inv.inputs[1])
    glow = nt.nodes.new("ShaderNodeEmission")
    glow.inputs["Color"].default_value = (*colour, 1.0)
    mix = nt.nodes.new("ShaderNodeMixShader")
    nt.links.new(inv.outputs[0], mix.inputs[0])
    nt.links.new(surface, mix.inputs[1])
    nt.links.new(glow.outputs["Emission"], mix.inputs[2])
    nt.links.new(mix.outputs["Shader"], out.inputs["Surface"])
    not_a_light(mat)
    return mat


def horizon_colour(sun_elevation: float, overcast: bool) -> tuple:
    """Radiance of the hazy air at the horizon, on the scale of the sky at its Background strength."""
    if overcast:
        return (0.32, 0.34, 0.37)
    warm = float(np.clip((20.0 - sun_elevation) / 20.0, 0, 1))
    day = 0.25 + 0.35 * np.sin(np.radians(max(sun_elevation, 2.0))) ** 0.5
    return (day * (0.8 + 0.25 * warm), day * (0.88 + 0.05 * warm), day * (1.0 - 0.2 * warm))
