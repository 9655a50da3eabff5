"""Snow on the trees of the snow-covered biomes: the conifer's needles and bark carry it on
their upper sides only (a sphere in the needles' material, rendered from the side: the
diffuse colour where its analytic normal faces up against where it faces sideways or down),
in clumps; trees elsewhere carry none."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.factories import named_tree_recipe
from procgen.core.seeding import stream
from procgen.render import passes
from procgen.render.exr import read_passes

pytestmark = pytest.mark.blender

R = 3.0  # the test sphere's radius: a top wide enough for several clumps of snow
CONIFER = named_tree_recipe("tree_conifer", "bark", 0.05, sat=(0.4, 0.7), val=(0.04, 0.09), translucency=0.15)


@pytest.mark.parametrize("biome", ["arctic", "snowy_mountain", "meadow", "conifer_forest"])
def test_only_snow_covered_biomes_put_snow_on_trees(biome):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    made = CONIFER(SceneConfig(), BIOMES[biome], stream(0, "tree_conifer_material"))
    snowy = BIOMES[biome].ground.base == "snow"
    assert [bool(m.get("gs_snow_cover")) for m in made.values()] == [snowy] * 2


def test_snow_lies_on_upward_faces_only(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    leaf = CONIFER(SceneConfig(), BIOMES["arctic"], stream(0, "tree_conifer_material"))["tree_conifer_leaf"]
    bpy.ops.mesh.primitive_uv_sphere_add(segments=96, ring_count=48, radius=R)
    ball = bpy.context.object
    bpy.ops.object.shade_smooth()
    ball.data.materials.append(leaf)
    scene = bpy.context.scene
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    cam.data.type, cam.data.ortho_scale = "ORTHO", 2.2 * R
    cam.location, cam.rotation_euler = (0.0, -5.0 * R, 0.0), (np.pi / 2, 0.0, 0.0)  # looking along +y
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.render.engine = "CYCLES"
    px = 96
    scene.render.resolution_x = scene.render.resolution_y = px
    scene.render.resolution_percentage = 100
    passes.configure_gt(scene, bpy.context.view_layer, passes.Settings(), albedo=True)  # multilayer EXR
    scene.render.filepath = str(tmp_path / "ball.exr")
    bpy.ops.render.render(write_still=True)
    albedo = read_passes(tmp_path / "ball.exr")["DiffCol"][..., :3].mean(axis=-1)
    k = ((np.arange(px) + 0.5) / px - 0.5) * 2.2  # in radii
    x, z = np.meshgrid(k, -k)  # rows top-down
    inside = x ** 2 + z ** 2 < 0.95 ** 2  # away from the silhouette's mixed pixels
    up = np.where(inside, z, np.nan)  # the sphere's normal z at each pixel
    white = albedo > 0.6
    top, side = inside & (up > 0.9), inside & (up < 0.4)
    assert 0.2 < white[top].mean() < 0.95, white[top].mean()  # snow in clumps on top, needles between
    assert white[side].mean() == 0.0
