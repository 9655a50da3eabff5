"""Physical sky, a matching sun lamp, and optional ground fog.

The sky model is picked from the ones the running Blender offers (the scattering
model was renamed between 4.x and 5.0), so no version numbers are hard-coded.
"""
from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Vector

from .config import SkyConfig
from .meshutil import enable_nodes, new_object

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


def build_sky(cfg: SkyConfig, rng: np.random.Generator, extent: float = 120.0, top: float = 40.0) -> dict:
    """World sky and sun for the current scene; returns what was chosen."""
    elevation = cfg.sun_elevation if cfg.sun_elevation >= 0 else float(rng.uniform(12.0, 65.0))
    azimuth = cfg.sun_azimuth if cfg.sun_azimuth >= 0 else float(rng.uniform(0.0, 360.0))
    haze = float(rng.uniform(0.2, 1.2))
    scene = bpy.context.scene
    world = bpy.data.worlds.new("sky")
    scene.world = world
    enable_nodes(world)
    nt = world.node_tree
    nt.nodes.clear()
    sky = nt.nodes.new("ShaderNodeTexSky")
    types = available_sky_types()
    sky_type = next(t for t in SKY_PREFERENCE if t in types)
    sky.sky_type = sky_type
    d = sun_direction(elevation, azimuth)
    if sky_type in ("HOSEK_WILKIE", "PREETHAM"):
        sky.sun_direction = d.tolist()
        sky.turbidity = 2.0 + haze
        strength = 0.035
    else:
        _set(sky, "sun_disc", False)  # the sun lamp below lights the scene and casts the shadows
        _set(sky, "sun_elevation", math.radians(elevation))
        _set(sky, "sun_rotation", math.radians(azimuth))
        _set(sky, "altitude", 200.0)
        _set(sky, "air_density", 1.0)
        _set(sky, "dust_density", haze)
        _set(sky, "aerosol_density", haze)
        _set(sky, "ozone_density", 1.0)
        strength = 0.07
    # The sky is smooth and the sun is a lamp: a small importance map is plenty and
    # saves about a second of set-up per rendered frame against the default 1024.
    wc = getattr(world, "cycles", None)
    if wc is not None and hasattr(wc, "sampling_method"):
        wc.sampling_method = "MANUAL"
        wc.sample_map_resolution = 256
    bg = nt.nodes.new("ShaderNodeBackground")
    bg.inputs["Strength"].default_value = strength * cfg.strength
    out = nt.nodes.new("ShaderNodeOutputWorld")
    nt.links.new(sky.outputs["Color"], bg.inputs["Color"])
    nt.links.new(bg.outputs["Background"], out.inputs["Surface"])

    light = bpy.data.lights.new("sun", "SUN")
    # Low sun: warmer and weaker, as the light crosses more air.
    warm = float(np.clip((25.0 - elevation) / 25.0, 0.0, 1.0))
    light.color = (1.0, 0.95 - 0.15 * warm, 0.88 - 0.3 * warm)
    light.energy = cfg.sun_strength * (0.6 + 0.4 * math.sin(math.radians(max(elevation, 5.0))) ** 0.5)
    light.angle = math.radians(rng.uniform(0.6, 2.0))
    sun = new_object("sun", light, "light")
    sun.rotation_mode = "QUATERNION"
    sun.rotation_quaternion = Vector(d.tolist()).to_track_quat("Z", "Y")
    sun.location = (0.0, 0.0, top + 10.0)

    fog = None
    if cfg.fog > 0:
        fog = _build_fog(cfg.fog, extent, top)
    return {"sky_type": sky_type, "sun_elevation_deg": elevation, "sun_azimuth_deg": azimuth,
            "haze": haze, "fog": fog is not None}


def _build_fog(density: float, extent: float, top: float):
    """A box of thin scattering volume over the terrain (a world volume would fog the sky too)."""
    from .meshutil import mesh_from_arrays

    s, z0, z1 = extent / 2, -5.0, top
    v = np.array([[x, y, z] for z in (z0, z1) for y in (-s, s) for x in (-s, s)], dtype=np.float32)
    f = np.array([[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]])
    me = mesh_from_arrays("fog", v, f)
    mat = bpy.data.materials.new("fog")
    enable_nodes(mat)
    nt = mat.node_tree
    nt.nodes.clear()
    vol = nt.nodes.new("ShaderNodeVolumePrincipled")
    vol.inputs["Density"].default_value = density
    vol.inputs["Color"].default_value = (0.85, 0.88, 0.92, 1.0)
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    nt.links.new(vol.outputs["Volume"], out.inputs["Volume"])
    me.materials.append(mat)
    ob = new_object("fog", me, "fog")
    ob.visible_shadow = False
    return ob
