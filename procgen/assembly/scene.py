"""``generate_scene``: build a whole natural scene from a :class:`SceneConfig` into the
current (empty) Blender scene.

The biome (``biomes.BIOMES``, drawn from the seed when the config says "auto") supplies the
terrain recipe, ground look, asset mix, foliage colours and sky. Each stage and each asset
draws from its own stream ``stream(seed, name, index)``, so changing one stage's settings
leaves the others' random draws untouched. Some placement is deliberately dependent (trees
keep out of boulders and off the camera's path; cameras keep out of everything), and that
dependency runs only downstream in this order: terrain (and a cliff's wall) -> water ->
camera path plan -> materials -> the asset stages of ``assets.KINDS`` (rocks -> plants ->
(on snow: the snow tails behind the rocks and trees, which bury or lower what stands) -> scatter)
-> sky (and its volumes) -> motion -> cameras (clearance) -> animals (off the camera's path)
-> falling rain or snow.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..animals.place import add_animals, animal_materials
from ..atmosphere.fog import apply_fog
from ..atmosphere.sky import build_sky, resolve_weather, sun_direction
from ..atmosphere.underwater import (
    caustics_group,
    filter_sunlight,
    let_light_through,
    open_water_world,
    surface_material,
)
from ..atmosphere.volumes import CANOPY, light_shafts, render_budget
from ..atmosphere.weather import build_precipitation
from ..core.noise import Noise
from ..core.seeding import stream
from ..geometry.blender_mesh import get_collection
from ..materials import surfaces
from ..materials.plant_matter import plain_material
from ..terrain import cave as cave_roof
from ..terrain import snow_drifts
from ..terrain.backdrop import FAR as FAR_LAND
from ..terrain.backdrop import build_backdrop, hazed, horizon_colour
from ..terrain.heightfield import Heightfield, make_heightfield
from ..terrain.overhang import build_cliff
from ..terrain.ripples import draw_ripples
from ..terrain.scree import apron
from ..terrain.terrain_mesh import build_terrain
from ..terrain.water import FAR, build_water
from .assets import KINDS, AssetContext, AssetKind, make_materials
from .biomes import Biome, draw_weather, pick_biome
from .camera_aim import plan_centre, subject_points
from .camera_paths import build_camera, instance_obstacles, object_obstacles, plan
from .config import SceneConfig
from .motion import add_rolling_rock, add_wind
from .scatter import Ground, place_kind
from .scree_rocks import add_scree
from .snow_tails import BODIES, pile_behind
from .wind import draw_wind

GENERATOR_VERSION = "2"
WATER_COLOUR = (0.012, 0.1, 0.12)  # open water under the sea, where a biome names no fog colour
CAUSTICS = (0.2, 0.34, 0.32)  # the glow of the sunlight the waves focus on the sea floor


class _Timer:
    def __init__(self):
        self.times: dict[str, float] = {}

    def stage(self, name: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.times[name] = round(time.perf_counter() - self.t0, 4)

        return _Ctx()


@dataclass
class _Build:
    """What the stages hand on to later stages."""
    counts: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    moving_boxes: list = field(default_factory=list)  # [Obstacle] swept by moving objects
    reach: float = 0.0   # the farthest surface from the centre (m)


def generate_scene(config: SceneConfig, progress=None, kinds: tuple[AssetKind, ...] = KINDS,
                   biome: Biome | None = None) -> dict:
    """Generate the scene of ``config`` into ``bpy.context.scene``; returns object counts,
    per-stage timings and the choices drawn from the seed. ``progress(stage_name)`` is
    called before each stage when given. ``kinds`` is the table of scattered assets;
    ``biome`` a preset to use instead of the config's (for presets outside ``BIOMES``)."""
    config.validate()
    seed, scene = config.seed, bpy.context.scene
    timer = _Timer()
    b = _Build()
    biome = biome or pick_biome(config.biome, stream(seed, "biome"))

    def step(name):
        if progress is not None:
            progress(name)
        return timer.stage(name)

    t_all = time.perf_counter()
    weather = resolve_weather(config.sky, draw_weather(biome.sky, stream(seed, "weather")))
    with step("terrain"):
        hf, shading, focus, cliff = _terrain(config, biome, weather, seed, b)
    with step("water"):
        _water(hf, config, biome, weather, stream(seed, "water_material"), b)
    with step("camera_plan"):
        path = plan(config.camera, hf, plan_centre(hf, focus, biome.subject), stream(seed, "camera"),
                    biome.camera_height, _view_side(hf), biome.look_height, biome.walk)
    with step("materials"):
        ctx = AssetContext(seed, config, hf, biome, make_materials(kinds, config, seed, biome))
        fauna = animal_materials(biome.fauna, seed, config.materials.variation) if config.motion.animals else {}
    ground = Ground(hf, Noise(stream(seed, "density")), config.scatter.density_scale, shading.snow_line,
                    discs={"focus": [(float(focus[0]), float(focus[1]), 5.0)],  # leave the view's centre open
                           "path": [(float(x), float(y), path["corridor"]) for x, y in path["pos"][:, :2]]},
                    areas={"cliff": _off_the_apron(hf, cliff.blocked)} if cliff else {}, tree_line=shading.tree_line,
                    solid=cave_roof.blocked(hf) if "roof" in hf.features else None)
    before = set(scene.objects)
    tails_after = _last_obstacle_stage(kinds) if "snow_drift" in hf.features else None
    for stage in dict.fromkeys(k.stage for k in kinds):
        with step(stage):
            for kind in kinds:
                if kind.stage == stage:
                    placed = place_kind(kind, ctx, ground)
                    if placed:
                        b.counts[kind.gs_class] = b.counts.get(kind.gs_class, 0) + placed
        if stage == tails_after:
            with step("snow_tails"):  # before anything smaller settles on the snow
                wind = hf.features["snow_drift"]["wind"]
                b.info["terrain"]["snow_tails"] = pile_behind(hf, wind, [o for o in scene.objects if o not in before])
                focus[2] = float(hf.height(focus[0], focus[1]))
    if cliff is not None:  # fragments fallen from the wall, from the stream of their own
        _, boxes = add_scree(hf, path["pos"][:, :2], path["corridor"], bpy.data.materials.get("cliff_rock"),
                             stream(seed, "scree"))
        cliff.obstacles += boxes
        b.info["scree"] = {"rocks": len(boxes)}
    with step("sky"):
        if hf.submerged:  # before the fog, which then covers them too
            apply_fog([m for m in bpy.data.materials if m.name != "water"],
                      caustics_group(CAUSTICS, stream(seed, "caustics")))
        volumes_on = config.sky.volumes
        b.info["sky"] = build_sky(_sun_into_cave(config.sky, hf, seed), weather, stream(seed, "sky"),
                                  top=float(hf.z.max()) + 20.0, ground=float(hf.z.min()),
                                  shade=FAR_LAND if volumes_on and biome.sky.cloud_shadows else 0.0)
        if volumes_on and biome.sky.shafts > 0:
            b.info["sky"]["light_shafts"] = _light_shafts(hf, biome, b.info["sky"], stream(seed, "light_shafts"))
        if hf.submerged:
            open_water_world(scene.world, weather.fog_colour or WATER_COLOUR)
            for lamp in {o.data for o in scene.objects if o.type == "LIGHT" and o.data.type == "SUN"}:
                filter_sunlight(lamp, float(hf.water_level - np.median(hf.z)), b.info["sky"]["sun_elevation_deg"])
    bpy.context.view_layer.update()
    with step("motion"):
        _motion(config, seed, hf, focus, ctx.materials.get("rock"), path["pos"], b)
    with step("cameras"):
        bpy.context.view_layer.update()
        # the walk also keeps out of the kelp and the tall instanced copies, which the other paths rise over
        walk = path["kind"] == "walk"
        keep_out = _classes(kinds, "obstacle") | ({"plant"} if walk else set())
        solid = [o for o in scene.objects if o.get("gs_class") in keep_out and not o.get("gs_moving")]
        obstacles = object_obstacles(solid) + b.moving_boxes + (cliff.obstacles if cliff else [])
        obstacles += instance_obstacles() if walk else []
        subject = subject_points(scene.objects, biome.subject, hf, biome.subject_slope)
        if path["kind"] == "walk":  # up close the walk looks at what it passes, as much as at the feature
            near = [subject_points(scene.objects, c, hf) for c in biome.walk.look or biome.walk_past]
            subject = np.concatenate(near if biome.walk.look else [subject] + near)
        cam, b.info["camera"] = build_camera(config.camera, hf, path, obstacles, reach=b.reach, subject=subject,
                                             walk_past=biome.walk_past)
        b.info["camera"]["subject"] = biome.subject
    if fauna:
        with step("animals"):
            b.info["animals"] = add_animals(biome.fauna, seed, hf, cam, config.camera.frames, obstacles, fauna)
            b.counts.update(b.info["animals"])
    with step("weather"):
        _precipitation(config, weather, hf, seed, b)
    with step("render_settings"):
        _render_settings(scene, config)
        scene.view_settings.exposure = biome.sky.exposure
    b.info["biome"] = {"name": biome.name, "description": biome.description}
    return _record(scene, config, b, focus, timer, time.perf_counter() - t_all)


def _off_the_apron(hf: Heightfield, blocked):
    """The cliff's keep-out test widened over its scree apron, where nothing grows."""
    return lambda x, y, margin=0.0: blocked(x, y, margin) | (apron(hf, x, y) > 0.3)


def _last_obstacle_stage(kinds) -> str | None:
    """The stage after which every rock and tree (the obstacles snow piles behind) stands."""
    order = list(dict.fromkeys(k.stage for k in kinds))
    stages = [k.stage for k in kinds if k.gs_class in BODIES and k.own_instance_id]
    return max(stages, key=order.index) if stages else None


def _classes(kinds, flag: str) -> set[str]:
    """Semantic classes of the kinds with ``flag`` set and one object per copy."""
    return {k.gs_class for k in kinds if getattr(k, flag) and k.own_instance_id}


@dataclass
class _Cliff:
    obstacles: list
    blocked: object  # (x, y, margin) -> bool [K]


def _sun_into_cave(sky, hf: Heightfield, seed: int):
    """The sky settings, with the sun turned to shine into a cave's mouth unless they name its azimuth."""
    if "cave" not in hf.features or sky.sun_azimuth >= 0:
        return sky
    return dataclasses.replace(sky, sun_azimuth=cave_roof.sun_azimuth(hf, stream(seed, "cave_sun")))


def _view_side(hf: Heightfield):
    """The direction from the focus towards which cameras stay: in front of a cliff, on the
    land side of a shore; None where any side will do."""
    if "cliff" in hf.features:
        return -np.array(hf.features["cliff"]["direction"])
    if "shore" in hf.features:
        return np.array(hf.features["shore"]["direction"])
    return None


def _terrain(config: SceneConfig, biome: Biome, weather, seed: int, b: _Build):
    """The terrain mesh and material, the land beyond it to the horizon (and a cliff's
    overhanging wall); returns the heightfield, its shading, the view's focus [3] and the cliff
    (or None)."""
    var = config.materials.variation
    hf = make_heightfield(config.terrain, stream(seed, "terrain"), biome)
    if biome.ground.base == "snow":  # the scene's wind drifts the snow before anything stands on it
        downwind = draw_wind(seed, 1.0).vector
        hf.z = snow_drifts.drift(hf.z, hf.cell, downwind, hf.water_level)
        hf.features["snow_drift"] = {"wind": [float(downwind[0]), float(downwind[1])]}
    shading = surfaces.terrain_shading_for(biome.ground, hf.z, hf.water_level, config.materials.snow,
                                           stream(seed, "terrain_shading"))
    shading.gravel = "cliff" in hf.features
    if "dunes" in hf.features and shading.base == "sand":
        shading.ripples = draw_ripples(hf.features["dunes"]["wind"], stream(seed, "ripples"))
    tmat = surfaces.make_terrain_material("terrain", shading, stream(seed, "terrain_material"), var)
    terrain = build_terrain(hf, tmat)
    if "cliff" in hf.features:  # bare gravel under the scree at the wall's foot
        v = np.array([p.co for p in terrain.data.vertices])  # (the terrain stands at the origin)
        terrain.data.attributes.new(surfaces.GRAVEL_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set(
            "value", apron(hf, v[:, 0], v[:, 1]).astype(np.float32))
    _move(terrain, get_collection("terrain"))
    haze = 700.0 if weather.overcast or weather.fog_density > 0 else 2200.0 / (0.5 + weather.haze)
    far_mat = hazed(tmat, "terrain_far", horizon_colour(weather.sun_elevation, weather.overcast), haze)
    sea = np.array(hf.features["shore"]["direction"]) if biome.water == "ocean" and "shore" in hf.features else None
    far = build_backdrop(hf, far_mat, biome.horizon, stream(seed, "backdrop"), sea)
    _move(far, get_collection("terrain"))
    frng = stream(seed, "focus")
    fxy = frng.uniform(-0.08, 0.08, 2) * hf.size
    side = _view_side(hf)
    if "cliff" in hf.features:  # well in front of the wall, so the view takes it in
        fxy = fxy + side * 0.08 * hf.size
    if "cave" in hf.features:  # the roof over the tunnel; the view's centre inside it
        rng = stream(seed, "cave")
        hf.features["roof"] = cave_roof.roof_heights(hf, rng)
        _move(cave_roof.build_roof(hf, surfaces.make_material("cliff", "cave_rock", rng, var), rng),
              get_collection("terrain"))
        cave_roof.mouth_fill(hf)
        fxy = cave_roof.inside_point(hf, rng)
        b.counts["cave"] = 1
    focus = np.array([fxy[0], fxy[1], float(hf.height(fxy[0], fxy[1]))])
    cliff = None
    if "cliff" in hf.features:
        rng = stream(seed, "cliff")
        rock = surfaces.make_material("cliff_face", "cliff_rock", rng, var, weathering=stream(seed, "cliff_weathering"))
        wall, obstacles, blocked = build_cliff(hf, rock, rng)
        _move(wall, get_collection("terrain"))
        cliff = _Cliff(obstacles, blocked)
        b.counts["cliff"] = 1
    b.info["terrain"] = {"kind": hf.kind, "water_level": hf.water_level, "relief": float(hf.z.max() - hf.z.min()),
                         "snow_line": shading.snow_line, "tree_line": shading.tree_line,
                         "vertices": len(terrain.data.vertices),
                         "ground": shading.base}
    if "snow_drift" in hf.features:
        b.info["terrain"]["snow_drift"] = hf.features["snow_drift"]
    if shading.ripples is not None:
        b.info["terrain"]["ripples"] = {"wavelength": shading.ripples.wavelength, "height": shading.ripples.height}
    b.counts["terrain"] = 2
    b.reach = FAR_LAND
    return hf, shading, focus, cliff


def _water(hf: Heightfield, config: SceneConfig, biome: Biome, weather, rng: np.random.Generator,
           b: _Build) -> None:
    """The water with its waves, where the terrain has a water level (over a sea floor: the
    ocean's surface, seen from below)."""
    if hf.water_level is None:
        b.counts["water"] = 0
        return
    style = "ocean" if (biome.water == "ocean" and hf.kind == "coast") or hf.submerged else "calm"
    if hf.submerged:
        mat = surface_material("water", rng, weather.fog_colour or WATER_COLOUR)
    else:
        mat = surfaces.make_material("water", "water", rng, config.materials.variation)
    # (the surf's moving foam on an ocean seen from above; other water keeps its still foam)
    objects = build_water(hf, mat, rng, style, config.terrain.resolution / 160.0,
                          foam=style == "ocean" and not hf.submerged)
    for ob in objects:
        _move(ob, get_collection("terrain"))
    if hf.submerged:
        let_light_through(objects)
    if style == "ocean":
        b.reach = max(b.reach, FAR)
    b.counts["water"] = len(objects)
    b.info["water"] = {"style": style, "level": hf.water_level}


def _light_shafts(hf: Heightfield, biome: Biome, sky: dict, rng: np.random.Generator) -> dict:
    """Thin air over the terrain, up to the water's surface under the sea and over the canopy on land."""
    half = hf.size / 2
    top = hf.water_level if hf.submerged else float(hf.z.max()) + CANOPY
    sun = sun_direction(sky["sun_elevation_deg"], sky["sun_azimuth_deg"])
    return light_shafts(biome.sky.shafts, (-half, -half, float(hf.z.min()) - 1.0), (half, half, top), sun, rng,
                        columns=hf.submerged)


def _precipitation(config: SceneConfig, weather, hf: Heightfield, seed: int, b: _Build) -> None:
    """Rain or snow around the camera path, when the weather has it."""
    if weather.precipitation == "none":
        return
    rng = stream(seed, "precipitation")
    colour = (0.75, 0.8, 0.85) if weather.precipitation == "rain" else (0.92, 0.93, 0.95)
    mat = plain_material(f"{weather.precipitation}_drop", rng, colour, 0.15 if weather.precipitation == "rain" else 0.8)
    cams = np.array(b.info["camera"]["positions"])
    ob = build_precipitation(weather.precipitation, config.sky.precipitation_count, cams, hf, config.camera.frames,
                             24.0, rng, mat)
    if ob is not None:
        _move(ob, get_collection("weather"))
        b.counts[ob["gs_class"]] = len(ob.data.vertices)


def _motion(config: SceneConfig, seed: int, hf: Heightfield, focus: np.ndarray, rock_material,
            near: np.ndarray, b: _Build) -> None:
    """Wind on the plants (those nearest the camera path ``near`` [N, 3] bend), and boulders rolling near the focus."""
    frames = config.camera.frames
    wind = draw_wind(seed, config.motion.wind_strength if config.motion.wind else 0.0)
    swaying = add_wind(list(bpy.context.scene.objects), wind, frames, near) if wind else {}
    for i in range(config.motion.rolling_rocks):
        _, boxes = add_rolling_rock(i, hf, focus, frames, stream(seed, "rolling_rock", i), rock_material)
        b.moving_boxes += boxes
    b.counts["rock"] = b.counts.get("rock", 0) + config.motion.rolling_rocks
    b.info["motion"] = {"wind": wind.record() if wind else None, "swaying": swaying,
                        "rolling_rocks": config.motion.rolling_rocks}


def _render_settings(scene, config: SceneConfig) -> None:
    scene.render.engine = "CYCLES"
    scene.cycles.samples = int(config.render.samples)
    # Outdoor light needs few bounces; these caps halve the time per sample.
    c = scene.cycles
    c.max_bounces, c.diffuse_bounces, c.glossy_bounces = 4, 2, 2
    c.transmission_bounces, c.transparent_max_bounces, c.volume_bounces = 2, 4, 0
    c.caustics_reflective = c.caustics_refractive = False
    # One sun and a sky: a light tree buys nothing; light after the first bounce from ambient
    # occlusion and pixels that stop once their noise is low cut a third of the CPU time
    # of the dense biomes with no visible change after denoising (measured: docs/benchmarks.md).
    for attr, value in (("use_light_tree", False), ("use_fast_gi", True), ("fast_gi_method", "REPLACE"),
                        ("ao_bounces_render", 1), ("use_adaptive_sampling", True), ("adaptive_threshold", 0.03)):
        if hasattr(c, attr):
            setattr(c, attr, value)
    if scene.world is not None and hasattr(scene.world, "light_settings"):
        scene.world.light_settings.distance = 10.0
    render_budget(scene)
    scene.render.fps = 24
    scene.render.film_transparent = False
    _contrast_look(scene)


def _record(scene, config: SceneConfig, b: _Build, focus: np.ndarray, timer: _Timer, total: float) -> dict:
    """The scene's record: counts, timings and drawn choices; also stored on the scene as JSON."""
    timings = dict(timer.times)
    timings["total"] = round(total, 4)
    counts = b.counts
    counts["objects"] = len(scene.objects)
    counts["vertices"] = int(sum(len(o.data.vertices) for o in scene.objects if o.type == "MESH"))
    counts["unique_meshes"] = len({o.data.name for o in scene.objects if o.type == "MESH"})
    result = {
        "seed": config.seed,
        "preset": config.preset,
        "generator_version": GENERATOR_VERSION,
        "blender_version": bpy.app.version_string,
        "config": config.to_dict(),
        "counts": counts,
        "timings": timings,
        "focus": focus.round(4).tolist(),
        **b.info,
    }
    scene["gs_scene_info"] = json.dumps(result)
    return result


def _contrast_look(scene) -> None:
    """A little more contrast than the neutral view transform (outdoor light is flat at
    low sample counts). Look names differ between versions, so match by suffix."""
    vs = scene.view_settings
    try:
        looks = [e.identifier for e in vs.bl_rna.properties["look"].enum_items]
    except (KeyError, AttributeError):
        return
    for name in looks:
        if name.endswith("Medium High Contrast"):
            vs.look = name
            return


def _move(ob, col) -> None:
    for c in list(ob.users_collection):
        c.objects.unlink(ob)
    col.objects.link(ob)
