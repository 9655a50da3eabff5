"""Volumes that shade and light the scene: the clouds' shadows, and thin air that shows the sun's shafts.

- ``cloud_shadows``: a flat box at the cloud deck's height over the land whose density is the
  painted deck's own pattern (``clouds.Deck``, ``clouds.cover``), so a cloud seen in the sky
  casts its shadow where the sun's light through it lands. Only rays towards the sun meet it:
  the painted clouds already are the sky's light from their directions, which the box would
  otherwise block a second time.
- ``light_shafts``: a box of thin scattering air over the terrain (``SkyLook.shafts``, its
  density), lit by the sun wherever leaves or kelp let the light through, so the shafts between
  them show; under water denser in columns along the sun's light (where the waves focus it).

Every domain is a mesh whose material shades only a volume, of class ``fog``. The ground-truth
render hides such objects (``render.passes.volume_only_objects``), so depth, normals, flow, ids
and the point cloud never see them; and they are disabled in the viewport, so the viewport's
depsgraph, which ray casts and the segmentation's list of objects read, does not hold them.
Renders follow ``hide_render`` and show them.
"""
from __future__ import annotations

import math

import bpy
import numpy as np

from ..geometry.blender_mesh import enable_nodes, get_collection, mesh_from_arrays, new_object
from .clouds import Deck, Nodes, cover

DECK_HEIGHT = 150.0     # metres from the lowest ground to the deck's base (above the peaks where they are higher)
DECK_THICKNESS = 40.0   # metres
CORE_TRANSMITTANCE = 0.12  # of the sun's light straight down through a thick cloud's core
SUN_CONE = (4.0, 2.0)   # degrees off the sun's direction where the clouds fade in for a ray
CANOPY = 30.0           # metres of air above the highest ground that the shafts fill (over land)
# Ray-marching budget: shadow rays cross the thin deck in one step, the shafts' columns in a
# few; a cap on the steps keeps a long ray through the shafts from costing more.
STEP_RATE, MAX_STEPS = 1.0, 48
SHAFT_STEP_RATE = 0.5   # the columns' material: steps of 1/20 of the box's mean side
# The box faces, outward, over corners numbered x + 2y + 4z.
_BOX_FACES = np.array([(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)])
CLASS = "fog"


def casts_cloud_shadows(weather) -> bool:
    """Broken cloud under a direct sun; an overcast sky already dims and softens the sun."""
    return weather.clouds > 0.02 and not weather.overcast


def cloud_shadows(deck: Deck, weather, sun_dir: np.ndarray, ground: float, top: float, reach: float) -> dict:
    """The cloud volume over the land within ``reach`` metres of the centre (ground from height
    ``ground`` up to ``top``); returns its record."""
    base = max(ground + DECK_HEIGHT, top + 30.0)
    height = base - ground  # the deck's unit: the painted pattern is seen from the ground
    s = np.asarray(sun_dir, float)
    lean = s[:2] / max(s[2], 0.05)  # horizontal shift of the sun's ray per metre of rise
    mid = lean * (base + DECK_THICKNESS / 2 - ground)
    half = reach + DECK_THICKNESS * float(np.linalg.norm(lean))
    lo = np.array([mid[0] - half, mid[1] - half, base])
    hi = np.array([mid[0] + half, mid[1] + half, base + DECK_THICKNESS])
    mat = bpy.data.materials.new("cloud_volume")
    n = _volume_tree(mat)
    geo = n.add("ShaderNodeNewGeometry")
    pos = n.add("ShaderNodeSeparateXYZ", {"Vector": geo.outputs["Position"]})
    noise = deck.noise(n, n.math("DIVIDE", pos.outputs["X"], height), n.math("DIVIDE", pos.outputs["Y"], height))
    cloud, thick = cover(n, noise, weather.clouds)
    body = n.math("ADD", n.math("MULTIPLY", cloud, 0.35), n.math("MULTIPLY", thick, 0.65))
    sigma = -math.log(CORE_TRANSMITTANCE) / DECK_THICKNESS
    towards = n.add("ShaderNodeVectorMath", {0: geo.outputs["Incoming"], 1: tuple(float(c) for c in s)},
                    operation="DOT_PRODUCT").outputs["Value"]
    cone = n.smooth(n.math("ABSOLUTE", towards), *(math.cos(math.radians(a)) for a in SUN_CONE))
    _principled(n, mat, n.math("MULTIPLY", n.math("MULTIPLY", body, cone), sigma), anisotropy=0.0)
    ob = _domain("cloud_volume", lo, hi, mat)
    for attr in ("visible_camera", "visible_diffuse", "visible_glossy", "visible_transmission",
                 "visible_volume_scatter"):
        setattr(ob, attr, False)  # a shadow only: the sky's clouds are what is seen
    return {"base": float(base), "thickness": DECK_THICKNESS, "half_size": float(half),
            "core_transmittance": CORE_TRANSMITTANCE}


def light_shafts(density: float, lo, hi, sun_dir: np.ndarray, rng: np.random.Generator, columns: bool) -> dict:
    """Thin scattering air of ``density`` (1/m) in the box ``lo`` [3] .. ``hi`` [3]; with
    ``columns``, thicker along the sun's light in patches (the waves' focus); returns its record."""
    mat = bpy.data.materials.new("shaft_air")
    n = _volume_tree(mat)
    amount = density
    if columns:  # the point carried along the sun's ray to the top of the box: one value per column
        s = np.asarray(sun_dir, float)
        geo = n.add("ShaderNodeNewGeometry")
        pos = n.add("ShaderNodeSeparateXYZ", {"Vector": geo.outputs["Position"]})
        rise = n.math("DIVIDE", n.math("SUBTRACT", float(hi[2]), pos.outputs["Z"]), float(s[2]))
        top = n.add("ShaderNodeVectorMath", {0: tuple(float(c) for c in s), 1: rise, 2: geo.outputs["Position"]},
                    operation="MULTIPLY_ADD").outputs["Vector"]
        flat = n.add("ShaderNodeVectorMath", {0: top, 1: (1.0, 1.0, 0.0)}, operation="MULTIPLY").outputs["Vector"]
        noise = n.add("ShaderNodeTexNoise", {"Vector": flat, "Scale": float(rng.uniform(0.25, 0.4)), "Detail": 2.0,
                                             "Roughness": 0.5, "W": float(rng.uniform(0, 100))},
                      noise_dimensions="4D").outputs["Fac"]
        amount = n.math("MULTIPLY", n.math("ADD", 0.15, n.math("MULTIPLY", n.smooth(noise, 0.45, 0.7), 2.2)), density)
    _principled(n, mat, amount, anisotropy=0.55)
    cycles = getattr(mat, "cycles", None)
    if cycles is not None:
        if not columns and hasattr(cycles, "homogeneous_volume"):
            cycles.homogeneous_volume = True  # one analytic distance sample per ray (4.x; 5.x finds it itself)
        if hasattr(cycles, "volume_step_rate"):
            cycles.volume_step_rate = SHAFT_STEP_RATE
    _domain("shaft_air", np.asarray(lo, float), np.asarray(hi, float), mat)
    world = bpy.context.scene.world
    if world is not None and hasattr(world, "cycles_visibility"):
        # The shafts are the sun's: the sky's light scattered in the air would only grey it evenly,
        # which the height fog already does at no cost.
        world.cycles_visibility.scatter = False
    return {"density": float(density), "columns": bool(columns), "box": [list(map(float, lo)), list(map(float, hi))]}


def render_budget(scene) -> None:
    """Cycles' ray-marching settings for these volumes (names vary between versions)."""
    c = scene.cycles
    for attr, value in (("volume_step_rate", STEP_RATE), ("volume_max_steps", MAX_STEPS),
                        ("volume_biased", True)):  # 5.x: ray marching, as 4.x does, not null scattering
        if hasattr(c, attr):
            setattr(c, attr, value)


def _volume_tree(mat) -> Nodes:
    enable_nodes(mat)
    mat.node_tree.nodes.clear()
    return Nodes(mat.node_tree)


def _principled(n: Nodes, mat, density, anisotropy: float) -> None:
    """White scattering of ``density`` (socket or number) into the material's Volume output only."""
    vol = n.add("ShaderNodeVolumePrincipled", {"Color": (1.0, 1.0, 1.0, 1.0), "Anisotropy": anisotropy})
    if hasattr(density, "is_output"):
        n.nt.links.new(density, vol.inputs["Density"])
    else:
        vol.inputs["Density"].default_value = float(density)
    out = n.add("ShaderNodeOutputMaterial")
    n.nt.links.new(vol.outputs["Volume"], out.inputs["Volume"])


def _domain(name: str, lo: np.ndarray, hi: np.ndarray, mat) -> "bpy.types.Object":
    """A box from ``lo`` to ``hi`` filled by ``mat``, out of the viewport (see the module's docstring)."""
    corners = np.array([[(hi if (i >> a) & 1 else lo)[a] for a in range(3)] for i in range(8)])
    me = mesh_from_arrays(name, corners, _BOX_FACES)
    me.materials.append(mat)
    ob = new_object(name, me, CLASS, get_collection("atmosphere"))
    ob.hide_viewport = True
    return ob
