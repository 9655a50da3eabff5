"""Physical sky with a cloud layer, a matching sun lamp, and height fog (``fog``).

The sky model is picked from the ones the running Blender offers (the scattering
model was renamed between 4.x and 5.0), so no version numbers are hard-coded.
"""
from __future__ import annotations

import dataclasses
import math

import bpy
import numpy as np
from mathutils import Vector

from ..assembly.biomes import Weather
from ..assembly.config import SkyConfig
from ..geometry.blender_mesh import enable_nodes, new_object
from ..terrain.backdrop import horizon_colour
from . import clouds, volumes
from .fog import apply_fog, fog_group

# Best first: physically based atmospheres, then the analytic models every version has.
SKY_PREFERENCE = ("MULTIPLE_SCATTERING", "NISHITA", "SINGLE_SCATTERING", "HOSEK_WILKIE", "PREETHAM")


def available_sky_types() -> list[str]:
    return [e.identifier for e in bpy.types.ShaderNodeTexSky.bl_rna.properties["sky_type"].enum_items]


def sun_direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector towards the sun, in the convention of the sky texture's
    ``sun_elevation``/``sun_rotation`` (rotation 0 puts the sun towards +y)."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([-math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


def _set(node, name: str, value) -> None:
    if hasattr(node, name):
        setattr(node, name, value)


def resolve_weather(cfg: SkyConfig, drawn: Weather) -> Weather:
    """The biome's draw with the config's explicit settings (>= 0, or not "auto") on top."""
    clouds = cfg.clouds if cfg.clouds >= 0 else drawn.clouds
    return dataclasses.replace(
        drawn, sun_elevation=cfg.sun_elevation if cfg.sun_elevation >= 0 else drawn.sun_elevation,
        clouds=float(clouds), overcast=drawn.overcast if cfg.clouds < 0 else clouds >= 0.95,
        fog_density=cfg.fog if cfg.fog >= 0 else drawn.fog_density,
        precipitation=drawn.precipitation if cfg.weather == "auto" else cfg.weather)


def build_sky(cfg: SkyConfig, weather: Weather, rng: np.random.Generator, top: float = 40.0,
              ground: float = 0.0, shade: float = 0.0) -> dict:
    """World sky with clouds, the sun lamp and the height fog (on every material made so far)
    for the current scene; returns what was chosen. ``rng`` draws the sun's azimuth and angle
    and the clouds' pattern. ``shade`` > 0: the clouds also stand as a volume over the land
    within that many metres of the centre, shadowing the sun (``volumes.cloud_shadows``)."""
    elevation = weather.sun_elevation
    azimuth = cfg.sun_azimuth if cfg.sun_azimuth >= 0 else float(rng.uniform(0.0, 360.0))
    scene = bpy.context.scene
    world = bpy.data.worlds.new("sky")
    scene.world = world
    enable_nodes(world)
    nt = world.node_tree
    nt.nodes.clear()
    sky_type, strength, sky_color = _sky_texture(nt, elevation, azimuth, weather.haze)
    # The sky is smooth and the sun is a lamp: a small importance map is plenty and
    # saves about a second of set-up per rendered frame against the default 1024.
    wc = getattr(world, "cycles", None)
    if wc is not None and hasattr(wc, "sampling_method"):
        wc.sampling_method = "MANUAL"
        wc.sample_map_resolution = 256
    bg = nt.nodes.new("ShaderNodeBackground")
    bg.inputs["Strength"].default_value = strength * cfg.strength
    nt.links.new(sky_color, bg.inputs["Color"])
    out = nt.nodes.new("ShaderNodeOutputWorld")
    shader = bg.outputs["Background"]
    deck = clouds.Deck.draw(rng) if weather.clouds > 0.01 else None
    if deck is not None:
        shader = clouds.add_cloud_layer(nt, shader, weather, sun_direction(elevation, azimuth), cfg.strength, deck)
    nt.links.new(shader, out.inputs["Surface"])
    sun = _sun_lamp(cfg, weather, elevation, sun_direction(elevation, azimuth), top, rng)
    shadows = None
    if deck is not None and shade > 0 and volumes.casts_cloud_shadows(weather):
        shadows = volumes.cloud_shadows(deck, weather, sun_direction(elevation, azimuth), ground, top, shade)
    fogged = 0
    if weather.fog_density > 0:
        air = weather.fog_colour or horizon_colour(elevation, weather.overcast)
        group = fog_group(weather.fog_density, weather.fog_height, ground, air)
        fogged = apply_fog(list(bpy.data.materials), group)
    return {"sky_type": sky_type, "sun_elevation_deg": elevation, "sun_azimuth_deg": azimuth,
            "haze": weather.haze, "clouds": weather.clouds, "overcast": weather.overcast,
            "fog": weather.fog_density, "fog_height": weather.fog_height if fogged else 0.0,
            "fogged_materials": fogged, "cloud_shadows": shadows,
            "precipitation": weather.precipitation, "sun_strength": sun.data.energy}


def _sky_texture(nt, elevation: float, azimuth: float, haze: float):
    """The best sky model this Blender offers; returns its name, the Background strength that
    suits it, and its colour socket."""
    sky = nt.nodes.new("ShaderNodeTexSky")
    types = available_sky_types()
    sky_type = next(t for t in SKY_PREFERENCE if t in types)
    sky.sky_type = sky_type
    d = sun_direction(elevation, azimuth)
    if sky_type in ("HOSEK_WILKIE", "PREETHAM"):
        sky.sun_direction = d.tolist()
        sky.turbidity = 2.0 + haze
        return sky_type, 0.035, sky.outputs["Color"]
    _set(sky, "sun_disc", False)  # the sun lamp lights the scene and casts the shadows
    _set(sky, "sun_elevation", math.radians(max(elevation, 0.5)))
    _set(sky, "sun_rotation", math.radians(azimuth))
    _set(sky, "altitude", 200.0)
    _set(sky, "air_density", 1.0)
    _set(sky, "dust_density", haze)
    _set(sky, "aerosol_density", haze)
    _set(sky, "ozone_density", 1.0)
    return sky_type, 0.07, sky.outputs["Color"]


def _sun_lamp(cfg: SkyConfig, weather: Weather, elevation: float, d: np.ndarray, top: float,
              rng: np.random.Generator):
    """The sun: warmer and weaker when low (its light crosses more air); under an overcast
    sky weak and soft."""
    light = bpy.data.lights.new("sun", "SUN")
    warm = float(np.clip((25.0 - elevation) / 25.0, 0.0, 1.0))
    light.color = (1.0, 0.95 - 0.2 * warm, 0.88 - 0.4 * warm)
    dim = 0.12 if weather.overcast else 1.0 - 0.45 * max(weather.clouds - 0.4, 0.0)
    light.energy = cfg.sun_strength * dim * (0.55 + 0.45 * math.sin(math.radians(max(elevation, 3.0))) ** 0.5)
    spread = rng.uniform(0.6, 2.0)
    light.angle = math.radians(spread * (8.0 if weather.overcast else 1.0))
    sun = new_object("sun", light, "light")
    sun.rotation_mode = "QUATERNION"
    sun.rotation_quaternion = Vector(d.tolist()).to_track_quat("Z", "Y")
    sun.location = (0.0, 0.0, top + 10.0)
    return sun
