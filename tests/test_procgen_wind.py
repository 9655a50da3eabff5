"""Plants in the wind, and the ground truth that follows them: on the wind scene of
``reference_scenes`` (a sapling with its own object and a patch of instanced grass clumps)
the wind bends plants more at the tip than at the base; the rendered flow of their pixels is
where Blender's evaluated, deformed surfaces carry them (each pixel anchored by a ray cast on
its triangle, that triangle's vertices taken again in the next frame, projected with the next
camera); depth at a frame where the wind has moved things matches ray casts on the deformed
geometry, and not the still one. A generated scene draws its wind from the seed; ``--wind 0``
keeps every plant's vertices where they are in every frame."""
from __future__ import annotations

import json

import bpy
import numpy as np
import pytest
from helpers import carried_points, dataset_file, frame_K, pixel_ray, surface_anchors

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.assembly.wind import SWAY, Wind, draw_wind
from procgen.generate_cli import add_arguments, config_from_args
from procgen.render import render_dataset
from procgen.render.camera_poses import project, unproject_depth
from procgen.render.reference_scenes import TEST_WIND, build_wind_scene

pytestmark = pytest.mark.blender

RES = (96, 64)
FRAMES = 5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_wind_scene(resolution=RES, frames=FRAMES)
    out = tmp_path_factory.mktemp("wind")
    summary = render_dataset(out, samples=1, device="cpu", denoise=False)
    assert summary["complete"]
    tr = json.loads((out / "transforms.json").read_text())
    seg = json.loads((out / "segmentation.json").read_text())
    ids = {v["name"]: int(k) for k, v in seg["objects"].items()}
    return out, tr, ids


def _rebuild(wind: bool = True):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return build_wind_scene(resolution=RES, frames=FRAMES, wind=wind)


def _world_vertices(frame: int) -> dict:
    """(object name, instance's persistent id) -> world vertices [V, 3] of every mesh the frame
    renders, from Blender's evaluated depsgraph (instances included)."""
    scene = bpy.context.scene
    scene.frame_set(frame)
    out = {}
    for inst in bpy.context.evaluated_depsgraph_get().object_instances:
        ob = inst.object
        if ob.type != "MESH" or not len(ob.data.vertices):
            continue
        key = (inst.parent.original.name if inst.is_instance else ob.original.name, tuple(inst.persistent_id))
        co = np.empty(len(ob.data.vertices) * 3, np.float64)
        ob.data.vertices.foreach_get("co", co)
        m = np.array(inst.matrix_world, np.float64)
        out[key] = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
    return out


def test_the_wind_bends_plants_more_at_the_tip_than_at_the_base():
    _rebuild(wind=False)
    rest = _world_vertices(1)
    _rebuild()
    a, b = _world_vertices(1), _world_vertices(4)
    for name in ("Sapling", "grass"):
        keys = [k for k in rest if k[0] == name]
        assert keys, name
        base, tip, still = [], [], []
        for k in keys:
            h = rest[k][:, 2] - rest[k][:, 2].min()
            move = np.linalg.norm(b[k] - a[k], axis=1)
            lean = np.linalg.norm(a[k] - rest[k], axis=1)
            base.append(move[h < 0.05 * h.max()])
            tip.append(move[h > 0.8 * h.max()])
            still.append(lean[h < 0.01 * h.max()])
        base, tip = np.concatenate(base), np.concatenate(tip)
        # the wind moves the plant between frames, its tips by centimetres and far more than its base
        assert np.median(tip) > 0.01, f"{name}: tips move {np.median(tip):.4f} m"
        assert np.median(tip) > 8 * np.median(base), f"{name}: tips {np.median(tip):.4f}, base {np.median(base):.4f}"
        assert np.concatenate(still).max() < 0.01, f"{name}: the foot leaves the ground"
        # non-rigid: the distances between vertices change (a rigid motion would keep them)
        k = keys[0]
        pick = np.random.default_rng(0).choice(len(a[k]), (200, 2))
        d_a = np.linalg.norm(a[k][pick[:, 0]] - a[k][pick[:, 1]], axis=1)
        d_b = np.linalg.norm(b[k][pick[:, 0]] - b[k][pick[:, 1]], axis=1)
        assert np.abs(d_a - d_b).max() > 1e-3, f"{name}: moved rigidly"


def test_plants_beyond_the_budget_lean_rigidly_about_their_base_by_the_same_angle():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sapling = build_wind_scene(resolution=RES, frames=FRAMES, bend=False)["sapling"]
    wind = Wind(**TEST_WIND)
    rest = np.array(sapling.matrix_world)
    base, top = rest[:3, 3], rest[:3, 3] + rest[:3, 2] * 2.4  # the trunk's foot and its top, 2.4 m up
    s = float(base[:2] @ wind.vector)
    for f in range(1, FRAMES + 1):
        bpy.context.scene.frame_set(f)
        m = np.array(sapling.matrix_world) @ np.linalg.inv(rest)
        theta = wind.strength * (SWAY["tree"].lean + SWAY["tree"].gust * wind.gust(f / 24.0, s))
        assert np.allclose(m[:3, :3] @ base + m[:3, 3], base, atol=1e-5)  # the foot stays
        moved = m[:3, :3] @ top + m[:3, 3] - top
        assert moved[:2] @ wind.vector == pytest.approx(2.4 * np.sin(theta), abs=1e-4)  # downwind, by theta
    assert not sapling.modifiers


def test_flow_of_swaying_plants_follows_their_deformed_surfaces(dataset):
    out, tr, ids = dataset
    _rebuild()
    frames = tr["frames"]
    errors, moved = {"Sapling": [], "grass": []}, {"Sapling": [], "grass": []}
    for ea, eb in zip(frames[:-1], frames[1:]):
        inst = dataset_file(out, ea, "instance_file_path")
        flow = dataset_file(out, ea, "flow_fwd_file_path")
        c2w_a, c2w_b = np.array(ea["transform_matrix"]), np.array(eb["transform_matrix"])
        K_a, K_b = frame_K(tr, ea), frame_K(tr, eb)
        for name in errors:
            rows, cols = np.nonzero(inst == ids[name])
            pick = np.random.default_rng(ea["frame"]).permutation(len(rows))[:60]
            anchors = surface_anchors(ea["frame"], c2w_a, K_a, list(zip(rows[pick], cols[pick])))
            there = carried_points(anchors, eb["frame"])
            here = carried_points(anchors, ea["frame"])
            for (r, c), p in there.items():
                uv, _ = project(p[None], K_b, c2w_b)
                uv_still, _ = project(here[(r, c)][None], K_b, c2w_b)
                errors[name].append(np.linalg.norm(flow[r, c] - (uv[0] - (c + 0.5, r + 0.5))))
                moved[name].append(np.linalg.norm(uv[0] - uv_still[0]))  # the wind's own share of the flow
    for name in errors:
        e, w = np.array(errors[name]), np.array(moved[name])
        assert e.size >= 100, f"{name}: only {e.size} pixels anchored"
        assert np.median(w) > 0.05, f"{name}: the wind moves its pixels by only {np.median(w):.3f} px"
        # the tolerance of the other flow checks (test_render_geometry.py: median 0.05 px)
        assert np.median(e) <= 0.01 and np.quantile(e, 0.95) <= 0.05, \
            f"{name}: flow EPE median {np.median(e):.4f}, 95 % {np.quantile(e, 0.95):.4f} px"


def _depth_misses(out, tr, entry, wind: bool, plants: np.ndarray) -> tuple[np.ndarray, int]:
    """|depth's point - ray cast hit| [N] (m) at pixels ``plants`` [N, 2] of one frame, casting against
    the scene with or without the wind; and how many of those rays met nothing."""
    _rebuild(wind)
    scene = bpy.context.scene
    scene.frame_set(entry["frame"])
    dg = bpy.context.evaluated_depsgraph_get()
    depth = dataset_file(out, entry, "depth_file_path")
    c2w, K = np.array(entry["transform_matrix"]), frame_K(tr, entry)
    pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), K, c2w)
    errs, missed = [], 0
    for r, c in plants:
        hit, loc, *_ = scene.ray_cast(dg, *pixel_ray(c2w, K, r, c))
        if not hit:
            missed += 1
            continue
        errs.append(np.linalg.norm(pts[r, c] - np.array(loc)))
    return np.array(errs), missed


def test_depth_matches_ray_casts_against_the_deformed_geometry(dataset):
    out, tr, ids = dataset
    entry = tr["frames"][-1]  # the wind has had four frames to move things
    inst = dataset_file(out, entry, "instance_file_path")
    rows, cols = np.nonzero(np.isin(inst, [ids["Sapling"], ids["grass"]]))
    pick = np.random.default_rng(1).permutation(len(rows))[:300]
    plants = list(zip(rows[pick], cols[pick]))
    errs, missed = _depth_misses(out, tr, entry, True, plants)
    assert missed == 0 and len(errs) == len(plants)
    depth = dataset_file(out, entry, "depth_file_path")
    c2w = np.array(entry["transform_matrix"])
    points = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), frame_K(tr, entry), c2w)
    dist = np.linalg.norm(points[tuple(np.array(plants).T)] - c2w[:3, 3], axis=1)
    # the bound of test_render_geometry.py: 1 mm + 0.1 % of the distance
    assert np.median(errs) <= 0.001 and np.quantile(errs - 0.001 * dist, 0.95) <= 0.001, \
        f"depth vs deformed ray casts: median {np.median(errs):.5f} m, worst {errs.max():.4f} m"
    still, still_missed = _depth_misses(out, tr, entry, False, plants)
    # against the plants standing still the same pixels disagree: the check sees the wind
    assert still_missed + np.sum(still > 0.01) > 0.3 * len(plants), (still_missed, np.sum(still > 0.01))


def _vertex_digest(frame: int) -> dict:
    """Object name -> evaluated vertices [V, 3] (local) of every plant (and its shared meshes) at ``frame``."""
    scene = bpy.context.scene
    scene.frame_set(frame)
    dg = bpy.context.evaluated_depsgraph_get()
    out = {}
    for ob in scene.objects:
        if ob.type == "MESH" and ob.get("gs_class") in SWAY:
            me = ob.evaluated_get(dg).data
            co = np.empty(len(me.vertices) * 3, np.float32)
            me.vertices.foreach_get("co", co)
            out[ob.name] = co
    return out


def test_wind_zero_keeps_every_vertex_and_the_seed_draws_the_wind():
    parser = __import__("argparse").ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--out", "x", "--preset", "tiny", "--biome", "meadow",
                                                 "--wind", "0"]), seed=3)
    assert config.motion.wind_strength == 0
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(config)
    assert info["motion"]["wind"] is None
    assert not [o.name for o in bpy.context.scene.objects if o.get("gs_wind")]
    first, last = _vertex_digest(1), _vertex_digest(config.camera.frames)
    assert first.keys() == last.keys() and all(np.array_equal(first[k], last[k]) for k in first)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(SceneConfig.from_preset("tiny", seed=3, biome="meadow"))
    drawn = draw_wind(3, 1.0)
    assert info["motion"]["wind"] == drawn.record() and 0.4 <= drawn.strength <= 1.0
    assert info["motion"]["swaying"]["instances"] > 0 and info["motion"]["swaying"]["bending"] > 0
    assert draw_wind(4, 1.0).direction != drawn.direction
    assert draw_wind(3, 2.0).strength == pytest.approx(2 * drawn.strength)
    first, later = _vertex_digest(1), _vertex_digest(3)
    moving = [n for n, co in first.items() if not np.array_equal(co, later[n])]
    assert any(bpy.data.objects[n].get("gs_class") == "tree" for n in moving)
