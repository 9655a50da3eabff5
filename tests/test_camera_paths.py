"""Camera paths on real generated scenes, checked with Blender's own ray casts and the
objects' evaluated vertices: the close-range walk keeps 0.3-1.5 m above the terrain (in every
biome, under the sea too), comes within a metre of a tree or bush where there are trees to walk
among and within 1.5 m of its biome's ``walk_past`` classes everywhere, never stands inside
anything, and the same seed walks the same path (the same camera matrices as stored in
``tests/data/walk_cameras_tiny_seed0.json`` for every biome whose walk was not redesigned since); the
cave's, coast's, meadow's and savanna's walk views, measured on the renderer's depth and semantic
passes, show their biome up close; every biome's camera keeps its signature feature
(``Biome.subject``, a semantic class) in view."""
from __future__ import annotations

import json
import os

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.assets import KINDS
from procgen.assembly.biomes import BIOME_NAMES, BIOMES
from procgen.assembly.camera_walk import SHORE_WALK
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.render import render_dataset
from procgen.render.png import read_png
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


def _walk_nearest(biome: str, seed: int, near: tuple[str, ...]) -> tuple[float, list, np.ndarray]:
    """Generate the walk of (biome, seed), check every frame (0.3-1.5 m above the terrain, on the
    biome's side of the water's surface, inside no object's or instanced copy's box) and return
    the closest it comes to the geometry of the classes ``near`` (m), its positions, and its
    camera matrices [F, 4, 4]."""
    info = _generate(biome, seed=seed, camera__trajectory="walk")
    assert info["camera"]["trajectory"] == "walk"
    scene = bpy.context.scene
    solid = [o for o in scene.objects if o.type == "MESH" and not o.hide_render
             and o.get("gs_class") in SOLID and "gs_instances" not in o]
    nearest, matrices = np.inf, []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        matrices.append(np.array(scene.camera.matrix_world))
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
    return nearest, info["camera"]["positions"], np.array(matrices)


@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("biome", CLOSE_RANGE)
def test_the_walk_passes_close_to_trees_without_entering_anything(biome, seed):
    nearest, _, _ = _walk_nearest(biome, seed, ("tree", "bush"))
    assert nearest <= 1.0, f"{biome} {seed}: the walk comes no closer than {nearest:.2f} m to a tree or bush"


@pytest.mark.parametrize("biome", BIOME_NAMES)
def test_every_biome_walks_low_past_its_close_range_subjects(biome):
    past = BIOMES[biome].walk_past
    nearest, positions, matrices = _walk_nearest(biome, 0, past)
    reach = PAST_REACH.get(biome, 1.5)
    assert nearest <= reach, f"{biome}: the walk comes no closer than {nearest:.2f} m to any of {past}"
    assert _generate(biome, seed=0, camera__trajectory="walk")["camera"]["positions"] == positions
    if biome in STORED_WALKS:  # a change in the walk's logic for one biome leaves the others' paths alone
        err = np.abs(matrices - np.array(STORED_WALKS[biome])).max()
        assert err <= 1e-3, f"{biome}: the walk's camera matrices moved by up to {err:.4f} from the stored ones"


# Every walk as it was before the cave's, coast's, meadow's and savanna's were redesigned (camera
# matrix_world per frame, tiny preset, seed 0): their walks must not move. Regenerate the file only
# for an intended change of those biomes' walks (or of what they walk among).
with open(os.path.join(os.path.dirname(__file__), "data", "walk_cameras_tiny_seed0.json")) as _f:
    STORED_WALKS = json.load(_f)
# As dense as on the default preset (tiny's 60 m terrain: a quarter of the default's area)
DENSE = dict(plants__trees=3, plants__bushes=4, rocks__count=4, plants__flowers=15)


def _walk_passes(biome: str, seed: int, out) -> tuple[dict, list]:
    """The walk of (biome, seed) at the tiny preset (DENSE but for the cave and coast) rendered
    by the dataset renderer at one sample: its transforms.json frames with their class names,
    semantic [H, W] and depth [H, W] arrays, and the ground's height over the water under each
    camera (m; None without water)."""
    info = _generate(biome, seed, camera__trajectory="walk", **({} if biome in ("cave", "coast") else DENSE))
    scene = bpy.context.scene
    over_water = []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        p = scene.camera.matrix_world.translation.copy()
        level = info["terrain"]["water_level"]
        over_water.append(None if level is None else p.z - _height_above_terrain(scene, p) - level)
    render_dataset(out, samples=1, device="cpu", passes=(), denoise=False)
    with open(os.path.join(out, "transforms.json")) as f:
        frames = json.load(f)["frames"]
    with open(os.path.join(out, "segmentation.json")) as f:
        names = {int(k): v for k, v in json.load(f)["classes"].items()}
    views = [(read_png(os.path.join(out, e["semantic_file_path"])), np.load(os.path.join(out, e["depth_file_path"])))
             for e in frames]
    return {"names": names, "views": views}, over_water


def _share(names: dict, sem: np.ndarray, classes: tuple[str, ...]) -> float:
    return float(np.isin(sem, [i for i, c in names.items() if c in classes]).mean())


# What each redesigned walk must show in every frame (docs/scenes.md, "The close-range walk"):
# the cave looks down its passage out of the mouth (the sky beyond it, the median pixel at least
# CAVE_DEPTH m away, not a wall at point-blank range); the coast walks the beach with the sea in
# view; the meadow passes bushes and flowers, the savanna acacias and rocks: VIEW_SHARE's classes
# cover at least its share of the image in at least its share of the frames.
CAVE_DEPTH = 5.0
VIEW_SHARE = {"coast": (("water", "rock"), 0.02, 1.0), "meadow": (("bush", "flower"), 0.03, 1.0),
              "savanna": (("tree", "rock"), 0.03, 0.5)}


@pytest.mark.parametrize("seed", (0, 1))
@pytest.mark.parametrize("biome", ("cave", "coast", "meadow", "savanna"))
def test_the_walk_view_shows_its_biome_up_close(biome, seed, tmp_path):
    got, over_water = _walk_passes(biome, seed, tmp_path / "walk")
    names, shares = got["names"], []
    for f, (sem, depth) in enumerate(got["views"], 1):
        sky = float((sem == 0).mean())
        if biome == "cave":
            median = float(np.median(np.where(np.isfinite(depth), depth, np.inf)))
            assert median >= CAVE_DEPTH and sky > 0.02, \
                f"cave {seed} frame {f}: median depth {median:.1f} m, {sky:.0%} of the image out of the mouth"
            continue
        shares.append(_share(names, sem, VIEW_SHARE[biome][0]))
        if biome == "coast":  # on the beach, not up the slope behind it
            assert over_water[f - 1] <= SHORE_WALK[1] + 0.1, \
                f"coast {seed} frame {f}: the ground is {over_water[f - 1]:.2f} m over the water"
    if biome != "cave":
        classes, need, frames = VIEW_SHARE[biome]
        assert np.mean(np.array(shares) >= need) >= frames, \
            f"{biome} {seed}: {classes} cover {[round(v, 3) for v in shares]} of the image per frame"


# The meadow walks past a bush only: a rounded shrub up to 5 m across, whose box (which the camera
# keeps 0.25 m out of) leaves its nearest leaves about 1.5 m away (1.54 m in seed 0).
PAST_REACH = {"meadow": 1.75}


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
