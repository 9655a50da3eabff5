"""Cloud shadows and light shafts (procgen.atmosphere.volumes) in Cycles renders, and their absence
from every ground truth."""
from __future__ import annotations

import json
import math

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from helpers import dataset_file, frame_K, pixel_ray
from mathutils import Vector

from procgen.assembly.biomes import BIOMES, Weather
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.atmosphere import clouds, volumes
from procgen.render import passes, render_dataset
from procgen.render.exr import read_passes
from procgen.render.initial_points import read_ply

pytestmark = pytest.mark.blender

GROUND, SIDE, PX = 0.0, 400.0, 64  # the test's ground plane and the square of it in view (m, pixels)
SKY = Weather(sun_elevation=90.0, overcast=False, clouds=0.5, haze=0.3, fog_density=0.0, fog_height=5.0,
              precipitation="none")
DECK = clouds.Deck(scale=1.7, offset=(12.0, -31.0, 7.0), distortion=0.2)


def _camera(name: str, location, rotation, ortho: float | None = None, lens: float = 18.0):
    cam = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    if ortho is not None:
        cam.data.type, cam.data.ortho_scale = "ORTHO", ortho
    cam.data.lens, cam.data.sensor_width = lens, 36.0
    cam.data.clip_end = 5000.0
    cam.location, cam.rotation_euler = location, rotation
    bpy.context.scene.collection.objects.link(cam)
    return cam


def _render(path, cam, samples: int = 16) -> np.ndarray:
    """The linear RGB [H, W, 3] Cycles renders from ``cam`` (every object as it renders, volumes too)."""
    scene = bpy.context.scene
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.use_denoising = samples, False
    scene.cycles.seed = 0
    scene.render.resolution_x = scene.render.resolution_y = PX
    scene.render.resolution_percentage = 100
    volumes.render_budget(scene)
    im = scene.render.image_settings
    if hasattr(im, "media_type"):
        im.media_type = "MULTI_LAYER_IMAGE"
    im.file_format, im.color_depth = "OPEN_EXR_MULTILAYER", "32"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return read_passes(path)["Combined"][..., :3]


def _ground_and_sky(sun: bool, sky: bool):
    """A flat grey ground lit by a sun straight down and/or a sky (the painted deck's world)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_plane_add(size=4 * SIDE, location=(0.0, 0.0, GROUND))
    mat = bpy.data.materials.new("grey")
    mat.use_nodes = True
    bpy.context.object.data.materials.append(mat)
    world = bpy.data.worlds.new("w")
    bpy.context.scene.world = world
    world.use_nodes = True
    nt = world.node_tree
    bg = nt.nodes["Background"]
    bg.inputs["Strength"].default_value = 1.0 if sky else 0.0
    if sky:  # the painted deck over a plain blue sky
        out = nt.nodes["World Output"]
        away = np.array([0.0, 0.0, -1.0])  # no glow towards a sun: the clouds' brightness is their amount's
        nt.links.new(clouds.add_cloud_layer(nt, bg.outputs["Background"], SKY, away, 1.0, DECK), out.inputs["Surface"])
        bg.inputs["Color"].default_value = (0.05, 0.1, 0.3, 1.0)
    lamp = bpy.data.lights.new("sun", "SUN")
    lamp.energy, lamp.angle = (3.0 if sun else 0.0), math.radians(1.0)
    ob = bpy.data.objects.new("sun", lamp)
    bpy.context.scene.collection.objects.link(ob)  # pointing down (-z), as a new lamp does


def _add_deck() -> dict:
    return volumes.cloud_shadows(DECK, SKY, np.array([0.0, 0.0, 1.0]), GROUND, GROUND + 20.0, SIDE)


def test_cloud_shadows_fall_under_the_painted_clouds(tmp_path):
    """The ground under the volume darkens by Beer-Lambert where the sky shows the same deck's clouds."""
    _ground_and_sky(sun=True, sky=False)
    top = _camera("top", (0.0, 0.0, 100.0), (0.0, 0.0, 0.0), ortho=SIDE)
    open_sky = _render(tmp_path / "open.exr", top).mean(axis=-1)
    record = _add_deck()
    shaded = _render(tmp_path / "shaded.exr", top).mean(axis=-1)
    ratio = shaded / open_sky  # the sun's light let through to each ground pixel
    # Straight down through the deck: exp(-sigma * thickness), sigma 0..-ln(CORE_TRANSMITTANCE)/thickness,
    # so never darker than the thick core's transmittance (but for the render's noise).
    assert record["core_transmittance"] == 0.12
    assert ratio.min() > 0.8 * 0.12 and np.percentile(ratio, 1) < 0.5, (ratio.min(), np.percentile(ratio, 1))
    assert np.percentile(ratio, 99) > 0.97
    assert 0.15 < (ratio < 0.6).mean() < 0.85  # broken cloud at cover 0.5, neither all shade nor none

    # The same ground points seen in the sky: looking up from the ground, the painted deck shows a
    # ground point (x, y) in the direction (x, y, h) (h: the deck's height) - Blender's projection.
    _ground_and_sky(sun=False, sky=True)
    bpy.data.objects.remove(bpy.data.objects["Plane"])
    up = _camera("up", (0.0, 0.0, GROUND), (math.pi, 0.0, 0.0), lens=9.0)  # 127 degrees wide, looking up
    rgb = _render(tmp_path / "sky.exr", up, samples=4)
    sky = rgb[..., 0] / rgb[..., 2]  # white clouds on a blue sky: red over blue grows with the cloud
    h = record["base"] - GROUND
    scene = bpy.context.scene
    k = (np.arange(PX) + 0.5) / PX - 0.5
    xs, ys = np.meshgrid(k * SIDE, -k * SIDE)  # the top view's pixel centres on the ground, rows top-down
    shade, cloud = [], []
    for x, y, r in zip(xs.ravel(), ys.ravel(), ratio.ravel()):
        p = world_to_camera_view(scene, up, Vector((x, y, GROUND + h)))
        col, row = int(p.x * PX), int((1.0 - p.y) * PX)
        if 0 <= col < PX and 0 <= row < PX and p.z > 0:
            shade.append(1.0 - r)
            cloud.append(sky[row, col])
    assert len(shade) > 0.3 * PX * PX
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731  (both grow with the deck's noise, not linearly)
    assert np.corrcoef(rank(shade), rank(cloud))[0, 1] > 0.8


def test_cloud_volume_leaves_the_sky_light(tmp_path):
    """Only rays towards the sun meet the clouds: the sky's own light reaches the ground as before."""
    _ground_and_sky(sun=False, sky=True)
    top = _camera("top", (0.0, 0.0, 100.0), (0.0, 0.0, 0.0), ortho=SIDE)
    before = _render(tmp_path / "before.exr", top, samples=32).mean()
    _add_deck()
    after = _render(tmp_path / "after.exr", top, samples=32).mean()
    assert abs(after / before - 1.0) < 0.02, (before, after)


def test_light_shaft_shows_under_a_hole(tmp_path):
    """Thin air under an opaque roof with a hole: the column under the hole glows, the air beside it not."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_plane_add(size=40.0, location=(0.0, 0.0, 10.0))
    roof = bpy.context.object
    bpy.ops.mesh.primitive_cube_add(size=4.0, location=(0.0, 0.0, 10.0))
    hole = bpy.context.object
    cut = roof.modifiers.new("hole", "BOOLEAN")
    cut.object, cut.operation = hole, "DIFFERENCE"
    hole.hide_render = True
    lamp = bpy.data.lights.new("sun", "SUN")
    lamp.energy = 5.0
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("sun", lamp))  # straight down
    bpy.context.scene.world = None  # a black background: only the sun lights the air
    record = volumes.light_shafts(0.05, (-20.0, -20.0, 0.0), (20.0, 20.0, 9.5), np.array([0.0, 0.0, 1.0]),
                                  np.random.default_rng(0), columns=False)
    assert record["density"] == 0.05
    side = _camera("side", (0.0, -18.0, 5.0), (math.pi / 2, 0.0, 0.0), lens=20.0)  # inside the air, looking +y
    img = _render(tmp_path / "shaft.exr", side, samples=32).mean(axis=-1)
    # The hole's column (x in -2..2 m at y = 0, 18 m away) covers the middle columns of the picture.
    mid, edge = img[:, PX // 2 - 3:PX // 2 + 3].mean(), img[:, :8].mean()
    assert mid > 3.0 * edge + 1e-3, (mid, edge)


def _scene(biome: str, **over) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return generate_scene(SceneConfig.from_preset("tiny", seed=0, biome=biome, **over))


def _domains() -> list:
    return [ob for ob in bpy.data.objects if ob.get("gs_class") == volumes.CLASS]


@pytest.mark.parametrize("biome", ["meadow", "broadleaf_forest", "underwater", "desert"])
def test_biomes_ask_for_their_volumes(biome):
    info = _scene(biome)
    shafts = BIOMES[biome].sky.shafts > 0
    clouded = BIOMES[biome].sky.cloud_shadows and info["sky"]["clouds"] > 0.02 and not info["sky"]["overcast"]
    names = sorted(ob.name for ob in _domains())
    assert names == sorted((["cloud_volume"] if clouded else []) + (["shaft_air"] if shafts else []))
    assert set(passes.volume_only_objects(bpy.context.scene)) >= set(_domains())
    assert ("light_shafts" in info["sky"]) == shafts
    _scene(biome, sky__volumes=False)
    assert _domains() == []


def test_volumes_stay_out_of_the_ground_truth(tmp_path):
    """A forest under broken cloud: no depth, id, box or point of the volumes; the sky through the
    clouds stays at infinite depth where Blender's ray casts meet nothing."""
    info = _scene("broadleaf_forest")
    assert info["sky"]["cloud_shadows"] and info["sky"]["light_shafts"]
    scene = bpy.context.scene
    scene.frame_set(1)
    dg = bpy.context.evaluated_depsgraph_get()
    out = tmp_path / "ds"
    render_dataset(out, scene=scene, samples=2, passes=())
    tr = json.loads((out / "transforms.json").read_text())
    seg = json.loads((out / "segmentation.json").read_text())
    assert volumes.CLASS not in {v["class"] for v in seg["objects"].values()}
    assert not {"cloud_volume", "shaft_air"} & {v["name"] for v in seg["objects"].values()}
    base = info["sky"]["cloud_shadows"]["base"]
    pts = read_ply(out / "points3d.ply")
    assert len(pts) > 0 and pts["z"].max() < base
    entry = tr["frames"][0]
    depth = dataset_file(out, entry, "depth_file_path")
    c2w, K = np.array(entry["transform_matrix"]), frame_K(tr, entry)
    checked = 0
    for r in range(0, depth.shape[0], 4):
        for c in range(0, depth.shape[1], 4):
            hit, *_ = scene.ray_cast(dg, *pixel_ray(c2w, K, r, c))
            if not hit:  # through the air and the cloud deck to the sky
                assert np.isinf(depth[r, c]), (r, c, depth[r, c])
                checked += 1
    assert checked > 0  # the frame sees sky


def test_same_seed_same_picture(tmp_path):
    pictures = []
    for k in range(2):
        _scene("broadleaf_forest")
        scene = bpy.context.scene
        scene.frame_set(1)
        pictures.append(_render(tmp_path / f"{k}.exr", scene.camera, samples=4))
    assert np.array_equal(pictures[0], pictures[1])
