"""The cliff's foot and face: scree fragments lie in an apron in front of the wall (within its
band, thinning out and growing coarser towards the toe), none inside the rock or on the
camera's path, on bare gravel; the face is weathered in warm and pale patches with lichen,
seen in the diffuse colour of a wall rendered in its material."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.core.seeding import stream
from procgen.materials import surfaces
from procgen.render import passes
from procgen.render.exr import read_passes
from procgen.terrain.heightfield import cliff_line, make_heightfield
from procgen.terrain.scree import APRON, apron, scree_layout

pytestmark = pytest.mark.blender


def _cliff_field():
    config = SceneConfig.from_preset("tiny", seed=0, biome="cliff")
    return make_heightfield(config.terrain, stream(0, "terrain"), BIOMES["cliff"])


def _front(hf, xy):
    c = hf.features["cliff"]
    d = np.array(c["direction"])
    s, t = xy @ d, xy @ np.array([-d[1], d[0]])
    return cliff_line(c, t) - s  # metres in front of the foot line


def test_fragments_lie_in_the_apron_and_coarsen_towards_its_toe():
    hf = _cliff_field()
    lay = scree_layout(hf, 3.0, stream(0, "scree"))
    front = _front(hf, lay.xy)
    width = APRON * hf.features["cliff"]["height"]
    assert len(front) > 100
    assert front.min() >= 3.0 - 1e-9 and front.max() <= 3.0 + width + 1e-9
    inner, outer = front < 3.0 + width / 3, front > 3.0 + 2 * width / 3
    assert inner.sum() > 1.5 * outer.sum()  # thickest near the wall
    assert np.median(lay.size[outer]) > 2.0 * np.median(lay.size[inner])  # large blocks roll furthest
    g = apron(hf, lay.xy[:, 0], lay.xy[:, 1])
    assert np.all(g[inner] == 1.0)  # on bare gravel
    c = np.linspace(-hf.size / 2, hf.size / 2, 200)
    x, y = np.meshgrid(c, c)
    front = _front(hf, np.column_stack([x.ravel(), y.ravel()]))
    g = apron(hf, x.ravel(), y.ravel())
    assert np.all(g[front > 4.0 + width] == 0.0) and np.all(g[front < -2.0] == 0.0)  # grass beyond, plateau behind


def test_the_scree_stands_in_front_of_the_wall_off_the_path():
    info = generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="cliff"))
    scene = bpy.context.scene
    carrier = scene.objects["scree"]
    assert carrier["gs_class"] == "rock" and info["scree"]["rocks"] == carrier["gs_instances"] > 50
    loc = np.array([p.co for p in carrier.data.vertices])
    hf = _cliff_field()
    d = np.array(hf.features["cliff"]["direction"])
    dg = bpy.context.evaluated_depsgraph_get()
    inside = 0
    for p in loc[:: max(1, len(loc) // 60)]:
        ok, _, normal, _, ob, _ = scene.ray_cast(dg, Vector(p + np.array([0, 0, 0.3])), Vector((d[0], d[1], 0.0)))
        if ok and ob.name == "cliff" and np.dot(normal, [d[0], d[1], 0.0]) > 0:
            inside += 1  # the first wall surface met from inside the rock faces away
    assert inside == 0
    cam = scene.camera
    path = []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        path.append(np.array(cam.matrix_world.translation))
    gap = np.linalg.norm(loc[:, None, :2] - np.array(path)[None, :, :2], axis=-1).min()
    assert gap > 0.5


def test_the_face_is_weathered_in_patches(tmp_path):
    """The wall's material against the plain grey strata it weathers, on a 60 m wall."""
    shares = {}
    for family in ("cliff", "cliff_face"):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        kw = {"weathering": stream(0, "cliff_weathering")} if family == "cliff_face" else {}
        mat = surfaces.make_material(family, "wall", stream(0, "cliff"), 1.0, **kw)
        me = bpy.data.meshes.new("wall")
        me.from_pydata([(-30, 0, 0), (30, 0, 0), (30, 0, 30), (-30, 0, 30)], [], [(0, 1, 2, 3)])
        me.materials.append(mat)
        scene = bpy.context.scene
        scene.collection.objects.link(bpy.data.objects.new("wall", me))
        cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
        cam.data.type, cam.data.ortho_scale = "ORTHO", 60.0
        cam.location, cam.rotation_euler = (0.0, -20.0, 15.0), (np.pi / 2, 0.0, 0.0)
        scene.collection.objects.link(cam)
        scene.camera = cam
        scene.render.engine = "CYCLES"
        scene.render.resolution_x, scene.render.resolution_y = 120, 60
        scene.render.resolution_percentage = 100
        passes.configure_gt(scene, bpy.context.view_layer, passes.Settings(), albedo=True)
        scene.render.filepath = str(tmp_path / f"{family}.exr")
        bpy.ops.render.render(write_still=True)
        rgb = read_passes(tmp_path / f"{family}.exr")["DiffCol"][..., :3].reshape(-1, 3)
        warm = (rgb[:, 0] - rgb[:, 2]) > 0.1
        lichen = (rgb[:, 1] - rgb[:, 2]) > 0.08
        shares[family] = (warm.mean(), lichen.mean())
    assert shares["cliff"] == (0.0, 0.0)  # the grey strata alone: no warm stain, no lichen
    warm, lichen = shares["cliff_face"]
    assert 0.03 < warm < 0.6 and 0.003 < lichen < 0.3, shares
