"""``generate_scene``: build a whole natural scene from a :class:`SceneConfig` into the
current (empty) Blender scene.

Each stage and each asset draws from its own stream ``stream(seed, name, index)``,
so changing one stage's settings leaves the others' random draws untouched. Some
placement is deliberately dependent (trees keep out of boulders; cameras keep out of
everything), and that dependency runs only downstream in this order:
terrain -> rocks -> plants -> scatter -> sky -> motion -> cameras.
"""
from __future__ import annotations

import json
import time

import bpy
import numpy as np

from . import materials, plants, rocks
from .cameras import Obstacle, build_camera, object_obstacles
from .config import SceneConfig
from .heightfield import Heightfield, make_heightfield
from .meshutil import get_collection
from .motion import add_rolling_rock, add_wind
from .noise import Noise
from .scatter import Rule, instance, place
from .seeding import stream
from .sky import build_sky
from .terrain import build_terrain, build_water

GENERATOR_VERSION = "1"


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


def _ground_z(hf: Heightfield, x: float, y: float, r: float) -> float:
    """Lowest ground under a footprint of radius r, so objects on slopes do not float."""
    a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    return float(min(hf.height(x + r * np.cos(a), y + r * np.sin(a)).min(), hf.height(x, y)))


def generate_scene(config: SceneConfig, progress=None) -> dict:
    """Generate the scene of ``config`` into ``bpy.context.scene``; returns object counts,
    per-stage timings and the choices drawn from the seed. ``progress(stage_name)`` is
    called before each stage when given."""
    config.validate()
    seed = config.seed
    scene = bpy.context.scene
    timer = _Timer()
    counts: dict[str, int] = {}
    info: dict = {}
    var = config.materials.variation

    def step(name):
        if progress is not None:
            progress(name)
        return timer.stage(name)

    t_all = time.perf_counter()
    with step("terrain"):
        hf = make_heightfield(config.terrain, stream(seed, "terrain"))
        shading = materials.terrain_shading_for(hf.kind, hf.z, hf.water_level, config.materials.snow,
                                                stream(seed, "terrain_shading"))
        tmat = materials.make_terrain_material("terrain", shading, stream(seed, "terrain_material"), var)
        col = get_collection("terrain")
        terrain = build_terrain(hf, tmat)
        _move(terrain, col)
        water = build_water(hf, materials.make_material("water", "water", stream(seed, "water_material"), var))
        if water is not None:
            _move(water, col)
        frng = stream(seed, "focus")
        fxy = frng.uniform(-0.08, 0.08, 2) * hf.size
        focus = np.array([fxy[0], fxy[1], float(hf.height(fxy[0], fxy[1]))])
        info["terrain"] = {"kind": hf.kind, "water_level": hf.water_level, "relief": float(hf.z.max() - hf.z.min()),
                           "snow_line": shading.snow_line, "vertices": len(terrain.data.vertices)}
        counts["terrain"] = 1
        counts["water"] = int(water is not None)
    density = Noise(stream(seed, "density"))
    dscale = config.scatter.density_scale
    snow_line = shading.snow_line

    with step("rocks"):
        rc = config.rocks
        rmat = materials.make_material("rock", "rock", stream(seed, "rock_material"), var)
        meshes = [rocks.make_rock_mesh(f"rock_mesh_{i:02d}", stream(seed, "rock_mesh", i), rc.subdivisions, rmat)
                  for i in range(max(rc.variants, 1))] if rc.count > 0 else []
        rng = stream(seed, "rock_place")
        rule = Rule(count=rc.count, spacing=max(2.5, rc.max_size * 1.2), area=0.3 * hf.size, max_slope=0.6,
                    min_above_water=-0.5, density=0.4)
        pts = place(hf, rng, rule, density, dscale)
        col = get_collection("rocks")
        boulders = []
        for k, (x, y, _) in enumerate(pts):
            size = rc.min_size + (rc.max_size - rc.min_size) * rng.uniform() ** 2
            me = meshes[int(rng.integers(len(meshes)))]
            z = _ground_z(hf, x, y, 0.35 * size) - 0.12 * size
            ob = instance(f"rock_{k:03d}", me, (x, y, z), rng.uniform(0, 2 * np.pi),
                          (size, size * rng.uniform(0.8, 1.2), size * rng.uniform(0.7, 1.2)), "rock", col,
                          tilt=tuple(rng.normal(scale=0.12, size=2)))
            boulders.append((ob, size))
        counts["rock"] = len(boulders)
        keep_out = [(float(ob.location.x), float(ob.location.y), 0.6 * s + 0.5) for ob, s in boulders]
        keep_out.append((float(focus[0]), float(focus[1]), 5.0))  # leave the view's centre open

    with step("plants"):
        counts.update(_plants(config, hf, seed, density, dscale, keep_out, snow_line, var))

    with step("scatter"):
        counts.update(_scatter(config, hf, seed, density, dscale, keep_out, snow_line, var, rmat))

    with step("sky"):
        info["sky"] = build_sky(config.sky, stream(seed, "sky"), extent=hf.size,
                                top=float(hf.z.max()) + 20.0)

    bpy.context.view_layer.update()
    with step("motion"):
        frames = config.camera.frames
        moving_boxes: list[Obstacle] = []
        swaying = 0
        if config.motion.wind:
            swaying = add_wind([o for o in scene.objects if o.get("gs_class") in ("tree", "bush", "flower")],
                               frames, stream(seed, "wind"), config.motion.wind_strength)
        for i in range(config.motion.rolling_rocks):
            _, boxes = add_rolling_rock(i, hf, focus, frames, stream(seed, "rolling_rock", i), rmat)
            moving_boxes += boxes
        counts["rock"] += config.motion.rolling_rocks
        info["motion"] = {"swaying": swaying, "rolling_rocks": config.motion.rolling_rocks}

    with step("cameras"):
        bpy.context.view_layer.update()
        solid = [o for o in scene.objects if o.get("gs_class") in ("rock", "tree", "bush") and not o.get("gs_moving")]
        obstacles = object_obstacles(solid) + moving_boxes
        cam, info["camera"] = build_camera(config.camera, hf, focus, obstacles, stream(seed, "camera"))

    with step("render_settings"):
        scene.render.engine = "CYCLES"
        scene.cycles.samples = int(config.render.samples)
        # Outdoor light needs few bounces; these caps halve the time per sample.
        c = scene.cycles
        c.max_bounces, c.diffuse_bounces, c.glossy_bounces = 4, 2, 2
        c.transmission_bounces, c.transparent_max_bounces, c.volume_bounces = 2, 4, 0
        c.caustics_reflective = c.caustics_refractive = False
        scene.render.fps = 24
        scene.render.film_transparent = False
        _contrast_look(scene)

    timings = dict(timer.times)
    timings["total"] = round(time.perf_counter() - t_all, 4)
    counts["objects"] = len(scene.objects)
    counts["vertices"] = int(sum(len(o.data.vertices) for o in scene.objects if o.type == "MESH"))
    counts["unique_meshes"] = len({o.data.name for o in scene.objects if o.type == "MESH"})
    result = {
        "seed": seed,
        "preset": config.preset,
        "generator_version": GENERATOR_VERSION,
        "blender_version": bpy.app.version_string,
        "config": config.to_dict(),
        "counts": counts,
        "timings": timings,
        "focus": focus.round(4).tolist(),
        **info,
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


def _plants(config: SceneConfig, hf: Heightfield, seed: int, density: Noise, dscale: float,
            keep_out: list, snow_line, var: float) -> dict:
    pc = config.plants
    counts = {}
    col = get_collection("plants")
    kind_weights = {"hills": 0.15, "mountains": 0.75, "canyon": 0.2, "dunes": 0.1}[hf.kind]
    tree_scale = 0.25 if hf.kind == "dunes" else 1.0
    mrng = stream(seed, "tree_material")
    bark = materials.make_material("bark", "bark", mrng, var)
    leaf = materials.make_material("leaf", "leaf", mrng, var)
    needle = materials.make_material("leaf", "needles", mrng, var, hue=float(mrng.uniform(0.3, 0.4)))
    n_trees = int(round(pc.trees * tree_scale))
    tree_meshes = []
    for i in range(max(pc.tree_variants, 1) if n_trees else 0):
        r = stream(seed, "tree_mesh", i)
        kind = "conifer" if r.uniform() < kind_weights else "broadleaf"
        h = r.uniform(9, 14) if kind == "conifer" else r.uniform(6, 10)
        tree_meshes.append(plants.make_tree_mesh(f"tree_mesh_{i:02d}", r, kind, h, pc.tree_attractors,
                                                 pc.tree_step * h / 8, pc.leaves_per_tip, bark,
                                                 needle if kind == "conifer" else leaf))
    rng = stream(seed, "tree_place")
    rule = Rule(count=n_trees, spacing=5.0, area=0.42 * hf.size, max_slope=0.3, min_above_water=0.6,
                max_altitude=snow_line, density=0.8, avoid=keep_out)
    placed = []
    for k, (x, y, _) in enumerate(place(hf, rng, rule, density, dscale)):
        me = tree_meshes[int(rng.integers(len(tree_meshes)))]
        s = rng.uniform(0.8, 1.2)
        instance(f"tree_{k:03d}", me, (x, y, _ground_z(hf, x, y, 0.3) - 0.05), rng.uniform(0, 2 * np.pi), s,
                 "tree", col, tilt=tuple(rng.normal(scale=0.03, size=2)))
        placed.append((x, y, 1.5))
    counts["tree"] = len(placed)

    bush_meshes = [plants.make_tree_mesh(f"bush_mesh_{i:02d}", stream(seed, "bush_mesh", i), "bush",
                                         float(stream(seed, "bush_size", i).uniform(0.8, 1.6)),
                                         max(60, pc.tree_attractors // 2), 0.12, pc.leaves_per_tip + 1,
                                         bark, leaf)
                   for i in range(max(pc.bush_variants, 1))] if pc.bushes else []
    rng = stream(seed, "bush_place")
    rule = Rule(count=pc.bushes, spacing=2.5, area=0.35 * hf.size, max_slope=0.4, min_above_water=0.4,
                max_altitude=snow_line, density=0.7, avoid=keep_out + placed)
    n = 0
    for k, (x, y, _) in enumerate(place(hf, rng, rule, density, dscale)):
        me = bush_meshes[int(rng.integers(len(bush_meshes)))]
        instance(f"bush_{k:03d}", me, (x, y, _ground_z(hf, x, y, 0.4) - 0.05), rng.uniform(0, 2 * np.pi),
                 rng.uniform(0.7, 1.3), "bush", col)
        n += 1
    counts["bush"] = n

    grng = stream(seed, "grass_material")
    blade_leaf = materials.make_material("leaf", "grass_leaf", grng, var, hue=float(grng.uniform(0.18, 0.27)),
                                        bright=1.8)
    grass_meshes = [plants.make_grass_mesh(f"grass_mesh_{i:02d}", stream(seed, "grass_mesh", i), blade_leaf)
                    for i in range(max(pc.grass_variants, 1))] if pc.grass else []
    rng = stream(seed, "grass_place")
    rule = Rule(count=pc.grass, spacing=0.35, area=0.22 * hf.size, max_slope=0.3, min_above_water=0.2,
                max_altitude=snow_line, density=0.85, avoid=[a for a in keep_out[:-1]])
    n = 0
    gcol = get_collection("grass")
    if hf.kind != "dunes":
        for k, (x, y, z) in enumerate(place(hf, rng, rule, density, dscale)):
            me = grass_meshes[int(rng.integers(len(grass_meshes)))]
            instance(f"grass_{k:04d}", me, (x, y, z - 0.02), rng.uniform(0, 2 * np.pi), rng.uniform(0.7, 1.4),
                     "grass", gcol)
            n += 1
    counts["grass"] = n

    frng = stream(seed, "flower_material")
    petals = [materials.make_material("petal", f"petal_{i}", frng, var) for i in range(max(pc.flower_variants, 1))]
    flower_meshes = [plants.make_flower_mesh(f"flower_mesh_{i:02d}", stream(seed, "flower_mesh", i), blade_leaf,
                                             petals[i]) for i in range(max(pc.flower_variants, 1))] if pc.flowers else []
    rng = stream(seed, "flower_place")
    rule = Rule(count=pc.flowers, spacing=0.5, area=0.22 * hf.size, max_slope=0.25, min_above_water=0.3,
                max_altitude=snow_line, density=0.9, avoid=[a for a in keep_out[:-1]])
    n = 0
    if hf.kind != "dunes":
        for k, (x, y, z) in enumerate(place(hf, rng, rule, density, dscale)):
            me = flower_meshes[int(rng.integers(len(flower_meshes)))]
            instance(f"flower_{k:03d}", me, (x, y, z - 0.01), rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.5),
                     "flower", gcol)
            n += 1
    counts["flower"] = n
    return counts


def _scatter(config: SceneConfig, hf: Heightfield, seed: int, density: Noise, dscale: float,
             keep_out: list, snow_line, var: float, rock_material) -> dict:
    sc = config.scatter
    counts = {}
    col = get_collection("scatter")
    pmat = materials.make_material("rock", "pebble", stream(seed, "pebble_material"), var)
    meshes = [rocks.make_rock_mesh(f"pebble_mesh_{i:02d}", stream(seed, "pebble_mesh", i), 2, pmat)
              for i in range(max(sc.pebble_variants, 1))] if sc.pebbles else []
    rng = stream(seed, "pebble_place")
    rule = Rule(count=sc.pebbles, spacing=0.3, area=0.22 * hf.size, max_slope=sc.max_slope_pebbles,
                min_above_water=-1.0, density=0.8, avoid=keep_out[:-1])
    n = 0
    for k, (x, y, z) in enumerate(place(hf, rng, rule, density, dscale)):
        s = rng.uniform(0.05, 0.3)
        instance(f"pebble_{k:04d}", meshes[int(rng.integers(len(meshes)))], (x, y, z - 0.2 * s),
                 rng.uniform(0, 2 * np.pi), s, "pebble", col, tilt=tuple(rng.normal(scale=0.3, size=2)))
        n += 1
    counts["pebble"] = n
    crng = stream(seed, "cover_material")
    cmat = materials.make_material("leaf", "ground_cover", crng, var, hue=float(crng.uniform(0.2, 0.32)))
    cover = [plants.make_ground_cover_mesh(f"cover_mesh_{i:02d}", stream(seed, "cover_mesh", i), cmat)
             for i in range(3)] if sc.ground_cover else []
    rng = stream(seed, "cover_place")
    rule = Rule(count=sc.ground_cover, spacing=0.5, area=0.22 * hf.size, max_slope=sc.max_slope_plants,
                min_above_water=0.2, max_altitude=snow_line, density=0.9, avoid=keep_out[:-1])
    n = 0
    if hf.kind != "dunes":
        for k, (x, y, z) in enumerate(place(hf, rng, rule, density, dscale)):
            instance(f"cover_{k:04d}", cover[int(rng.integers(len(cover)))], (x, y, z - 0.01),
                     rng.uniform(0, 2 * np.pi), rng.uniform(0.7, 1.5), "ground_cover", col)
            n += 1
    counts["ground_cover"] = n
    return counts
