"""Clouds painted into the world shader: fractal noise projected onto a flat cloud deck.

Each view direction d (d_z > 0) meets a plane high above at (d_x / d_z, d_y / d_z); noise
there, thresholded by the cloud cover, gives the clouds. They thin out towards the horizon,
are brighter and warmer towards the sun, and darker underneath where they are thick. Being
part of the world, they light the scene like the sky does and add no geometry, so the
ground truth (depth, ids) of the sky stays "no surface".

The deck's pattern (:class:`Deck`, drawn once) and its cover (``cover``) are shared with the
cloud volume of ``volumes``, whose shadows thus fall where these clouds are seen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _input(node, key):
    """An input socket by index, identifier (``A_Color``) or name."""
    if isinstance(key, int):
        return node.inputs[key]
    for sock in node.inputs:
        if sock.identifier == key:
            return sock
    return node.inputs[key]


def _output(node, identifier: str):
    return next(s for s in node.outputs if s.identifier == identifier)


class Nodes:
    """Small helper to add world nodes and link them."""

    def __init__(self, nt):
        self.nt = nt

    def add(self, kind: str, inputs: dict | None = None, **props):
        node = self.nt.nodes.new(kind)
        for k, v in props.items():
            setattr(node, k, v)
        for k, v in (inputs or {}).items():
            sock = _input(node, k)
            if hasattr(v, "is_output"):
                self.nt.links.new(v, sock)
            else:
                sock.default_value = v
        return node

    def math(self, op: str, a, b=0.0, clamp: bool = False):
        return self.add("ShaderNodeMath", {0: a, 1: b}, operation=op, use_clamp=clamp).outputs[0]

    def smooth(self, value, lo: float, hi: float):
        return self.add("ShaderNodeMapRange", {"Value": value, "From Min": lo, "From Max": hi},
                        interpolation_type="SMOOTHSTEP", clamp=True).outputs["Result"]


def cloud_colour(elevation: float, overcast: bool) -> tuple[tuple, tuple]:
    """Lit top and shaded underside colours (linear RGB, before strength) for a sun at ``elevation``."""
    warm = float(np.clip((20.0 - elevation) / 20.0, 0.0, 1.0))
    lit = (1.0, 0.93 - 0.25 * warm, 0.85 - 0.45 * warm)
    if overcast:
        return (0.62, 0.64, 0.67), (0.4, 0.42, 0.45)
    return lit, tuple(0.55 * c for c in (0.85, 0.87, 0.92))


@dataclass(frozen=True)
class Deck:
    """The cloud deck's pattern: the noise at (x * scale + offset[0], y * scale + offset[1],
    offset[2]) on the plane z = 1 above the viewer, in units of the deck's height."""
    scale: float
    offset: tuple[float, float, float]
    distortion: float

    @staticmethod
    def draw(rng: np.random.Generator) -> "Deck":
        scale = float(rng.uniform(1.2, 2.2))
        offset = tuple(float(v) for v in rng.uniform(-100, 100, 3))
        return Deck(scale, offset, float(rng.uniform(0.0, 0.6)))

    def noise(self, n: "Nodes", x, y):
        """The pattern's noise (Fac socket) at deck coordinates ``x``, ``y`` (sockets)."""
        px = n.math("ADD", n.math("MULTIPLY", x, self.scale), self.offset[0])
        py = n.math("ADD", n.math("MULTIPLY", y, self.scale), self.offset[1])
        plane = n.add("ShaderNodeCombineXYZ", {"X": px, "Y": py, "Z": self.offset[2]}).outputs[0]
        return n.add("ShaderNodeTexNoise", {"Vector": plane, "Scale": 1.0, "Detail": 8.0, "Roughness": 0.6,
                                            "Distortion": self.distortion}).outputs["Fac"]


def cover(n: "Nodes", noise, clouds: float):
    """(cloud, thick): where the deck's ``noise`` is cloud at cover ``clouds`` (0..1), and where
    that cloud is thick, each 0..1."""
    c = float(np.clip(clouds, 0.0, 1.0))
    threshold = 0.66 - 0.4 * c
    return n.smooth(noise, threshold, threshold + 0.1 + 0.1 * c), n.smooth(noise, threshold + 0.1, threshold + 0.35)


def add_cloud_layer(nt, sky_shader, weather, sun_dir: np.ndarray, strength: float, deck: Deck):
    """Mix clouds of ``deck`` over ``sky_shader`` (a Background shader socket); returns the new shader socket."""
    n = Nodes(nt)
    d = n.add("ShaderNodeTexCoord").outputs["Generated"]  # in a world: the view direction
    sep = n.add("ShaderNodeSeparateXYZ", {"Vector": d})
    zc = n.math("MAXIMUM", sep.outputs["Z"], 0.04)
    noise = deck.noise(n, n.math("DIVIDE", sep.outputs["X"], zc), n.math("DIVIDE", sep.outputs["Y"], zc))
    cloud, thick = cover(n, noise, weather.clouds)
    horizon = n.smooth(sep.outputs["Z"], 0.0, 0.18)
    amount = n.math("MULTIPLY", cloud, horizon)
    if weather.overcast:
        amount = n.math("MAXIMUM", amount, n.math("MULTIPLY", horizon, 0.93))
    # Thick cloud is darker underneath; the side towards the sun is brighter.
    lit, shade = cloud_colour(weather.sun_elevation, weather.overcast)
    body = _output(n.add("ShaderNodeMix", {"Factor_Float": thick, "A_Color": (*lit, 1.0), "B_Color": (*shade, 1.0)},
                         data_type="RGBA"), "Result_Color")
    toward = n.add("ShaderNodeVectorMath", {0: d, 1: tuple(float(c) for c in sun_dir)},
                   operation="DOT_PRODUCT").outputs["Value"]
    glow = n.math("ADD", 0.75, n.math("MULTIPLY", n.math("POWER", n.math("MAXIMUM", toward, 0.0), 8.0), 1.2))
    bright = _cloud_brightness(weather.sun_elevation, weather.overcast) * strength
    bg = n.add("ShaderNodeBackground", {"Color": body, "Strength": 1.0})
    lum = n.math("MULTIPLY", glow, bright)
    nt.links.new(lum, bg.inputs["Strength"])
    mix = n.add("ShaderNodeMixShader")
    nt.links.new(amount, mix.inputs[0])
    nt.links.new(sky_shader, mix.inputs[1])
    nt.links.new(bg.outputs["Background"], mix.inputs[2])
    return mix.outputs["Shader"]


def _cloud_brightness(elevation: float, overcast: bool) -> float:
    """Radiance of a lit cloud, on the scale of the sky model at its Background strength."""
    day = 0.2 + 0.8 * math.sin(math.radians(max(elevation, 2.0))) ** 0.6
    return (0.45 if overcast else 0.9) * day
