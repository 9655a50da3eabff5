"""Breaking waves: in the shallows the sea's crests pitch forward over their own front faces,
so the wave grid folds over (a vertical line meets it three times) where the water is shallow
and nowhere at sea, found with Blender's ray casts on the generated coast's evaluated mesh; and
the ground truth follows the lip: on a pool of breaking waves, depth at the pixels that see a
lip matches ray casts against the evaluated mesh, and their flow the lip's triangles carried to
the next frame."""
from __future__ import annotations

import json

import bpy
import numpy as np
import pytest
from helpers import carried_points, dataset_file, frame_K, pixel_ray, surface_anchors
from mathutils import Vector

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.render import render_dataset
from procgen.render.camera_poses import project, unproject_depth
from procgen.render.reference_scenes import build_tracking_scene
from procgen.terrain.breakers import BREAK_ATTRIBUTE
from procgen.terrain.water import wave_nodes

pytestmark = pytest.mark.blender

RES, FRAMES = (128, 96), 3


def _crossings(ob, x: float, y: float, top: float, dg) -> list[float]:
    """Heights (world z) where the vertical line through world x, y meets ``ob``'s evaluated mesh."""
    inv, hits, z = ob.matrix_world.inverted(), [], top
    while len(hits) < 8:
        ok, loc, _, _ = ob.ray_cast(inv @ Vector((x, y, z)), Vector((0.0, 0.0, -1.0)), depsgraph=dg)
        if not ok:
            return hits
        z = (ob.matrix_world @ loc).z
        hits.append(z)
        z -= 1e-4
    return hits


def _rest(ob, name: str = "co") -> np.ndarray:
    me = ob.data
    if name == "co":
        out = np.empty(len(me.vertices) * 3)
        me.vertices.foreach_get("co", out)
        return out.reshape(-1, 3)
    out = np.empty(len(me.vertices), np.float32)
    me.attributes[name].data.foreach_get("value", out)
    return out


def test_crests_pitch_over_where_the_sea_shallows_and_nowhere_at_sea():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # the tiny coast on the default preset's wave grid (0.4 m cells; the tiny one's 1.3 m cannot hold a lip)
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="coast", terrain__resolution=160))
    water, scene = bpy.data.objects["water"], bpy.context.scene
    rest, zone = _rest(water), _rest(water, BREAK_ATTRIBUTE)
    shallow, deep = np.flatnonzero((zone > 0.05) & (zone < 0.95)), np.flatnonzero(zone == 0)
    deep = np.random.default_rng(0).choice(deep, len(shallow), replace=False)
    m = np.array(water.matrix_world)
    world = rest @ m[:3, :3].T + m[:3, 3]
    folds = {"shallow": 0, "deep": 0}
    for frame in (6, 12, 18):
        scene.frame_set(frame)
        dg = bpy.context.evaluated_depsgraph_get()
        co = np.empty(len(rest) * 3)
        water.evaluated_get(dg).data.vertices.foreach_get("co", co)
        lead = np.linalg.norm(co.reshape(-1, 3)[:, :2] - rest[:, :2], axis=1)  # how far each vertex moved sideways
        assert lead[deep].max() < 1e-5 and lead[shallow].max() > 0.5, (lead[deep].max(), lead[shallow].max())
        for name, idx in (("shallow", shallow), ("deep", deep)):
            # a vertical line crossing the sea three times: the lip over the front face over the trough
            folds[name] += sum(len(_crossings(water, *world[i, :2], m[2, 3] + 5.0, dg)) >= 3 for i in idx)
    assert folds["deep"] == 0 and folds["shallow"] >= 10, folds


@pytest.fixture(scope="module")
def breakers(tmp_path_factory):
    """The tracking scene with its pool turned into surf (all of it in the breaking zone): one steep wave
    running towards the camera, so the camera looks at the lips it throws; rendered."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _breaker_scene()
    out = tmp_path_factory.mktemp("breakers")
    assert render_dataset(out, samples=1, device="cpu", denoise=False)["complete"]
    tr = json.loads((out / "transforms.json").read_text())
    ids = {o["name"]: int(i) for i, o in json.loads((out / "segmentation.json").read_text())["objects"].items()}
    return out, tr, ids["Pool"]


def _breaker_scene():
    pool = build_tracking_scene(resolution=RES, frames=FRAMES)["pool"]
    to_cam = np.array(bpy.context.scene.camera.matrix_world.translation - pool.matrix_world.translation)[:2]
    k = 2 * np.pi / 1.6 * to_cam / np.linalg.norm(to_cam)
    params = [[0.11, float(k[0]), float(k[1]), float(np.sqrt(9.81 * np.linalg.norm(k))), 0.0]]
    pool.data.attributes.new(BREAK_ATTRIBUTE, "FLOAT", "POINT").data.foreach_set(
        "value", np.ones(len(pool.data.vertices), np.float32))
    pool.modifiers["waves"].node_group = wave_nodes("pool_breakers", params, (10.0, 11.0), foam=True)
    return pool


def _lip_pixels(tr, entry, pool_id, out):
    """Pixels (r, c) of the pool whose surface point has more of the pool under it: they see a lip."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    pool = _breaker_scene()
    bpy.context.scene.frame_set(entry["frame"])
    dg = bpy.context.evaluated_depsgraph_get()
    depth = dataset_file(out, entry, "depth_file_path")
    K, c2w = frame_K(tr, entry), np.array(entry["transform_matrix"])
    pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), K, c2w)
    rows, cols = np.nonzero(dataset_file(out, entry, "instance_file_path") == pool_id)
    return [(r, c) for r, c in zip(rows, cols)
            if len(_crossings(pool, *pts[r, c, :2], pts[r, c, 2] - 2e-3, dg)) >= 2], K, c2w, depth, dg


def test_depth_and_flow_follow_the_lip(breakers):
    out, tr, pool_id = breakers
    entry, after = tr["frames"][1], tr["frames"][2]
    lips, K, c2w, depth, dg = _lip_pixels(tr, entry, pool_id, out)
    assert len(lips) >= 20, len(lips)
    scene, errs = bpy.context.scene, []
    for r, c in lips:
        hit, loc, *_ = scene.ray_cast(dg, *pixel_ray(c2w, K, r, c))
        assert hit
        z = (np.array(loc) - c2w[:3, 3]) @ -c2w[:3, 2]  # planar depth along the camera's axis
        errs.append(abs(z - depth[r, c]))
    assert np.median(errs) < 1e-3 and np.quantile(errs, 0.9) < 5e-3, (np.median(errs), max(errs))
    flow, moved = dataset_file(out, entry, "flow_fwd_file_path"), []
    there = carried_points(surface_anchors(entry["frame"], c2w, K, lips), after["frame"])
    epe = []
    for (r, c), p in there.items():
        uv, _ = project(p[None], frame_K(tr, after), np.array(after["transform_matrix"]))
        epe.append(np.linalg.norm(flow[r, c] - (uv[0] - (c + 0.5, r + 0.5))))
        moved.append(np.linalg.norm(flow[r, c]))
    assert len(epe) >= 20 and np.median(epe) < 0.05 and np.median(moved) > 5 * np.median(epe), (
        np.median(epe), np.median(moved))
