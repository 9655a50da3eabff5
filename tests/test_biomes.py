"""Every biome at the tiny preset: it generates the same scene twice from one seed, and its
rendered ground truth holds against independent geometry: depth against Blender's ray
casts, forward flow of static pixels against depth reprojected with the camera poses,
water flow against the waves' own vertex motion, the flow of plants in the wind against their
evaluated triangles carried to the next frame, pixels inside their objects' 3D boxes,
one instance id per tree, bush and rock."""
from __future__ import annotations

import hashlib
import json

import bpy
import numpy as np
import pytest
from helpers import carried_points, dataset_file, frame_K, surface_anchors
from mathutils import Vector

from procgen.assembly.biomes import BIOME_NAMES, BIOMES
from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.render import render_dataset
from procgen.render.camera_poses import c2w_opencv, project, unproject_depth

pytestmark = pytest.mark.blender

SEED = 2  # a seed whose rivers and sea are in view of the camera path
SEPARATE = ("tree", "bush", "rock", "cactus")  # classes whose every object has its own instance id
# the biomes whose scene of SEED shows moving water along its camera path (the water-flow check runs on these)
WATER_IN_VIEW = ("canyon", "coast", "wetland", "autumn_forest", "underwater", "coral_reef", "river")


def _generate(biome: str) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return generate_scene(SceneConfig.from_preset("tiny", seed=SEED, biome=biome))


def _digest() -> str:
    """Names, world matrices at two frames and exact evaluated vertex positions of every object."""
    scene = bpy.context.scene
    h = hashlib.sha256()
    for f in (1, scene.frame_end):
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        for ob in sorted(scene.objects, key=lambda o: o.name):
            h.update(ob.name.encode())
            h.update(np.array(ob.matrix_world, dtype=np.float64).tobytes())
            if ob.type == "MESH":
                me = ob.evaluated_get(dg).data
                co = np.empty(len(me.vertices) * 3, np.float32)
                me.vertices.foreach_get("co", co)
                h.update(co.tobytes())
    scene.frame_set(1)
    return h.hexdigest()


@pytest.fixture(scope="module", params=BIOME_NAMES)
def biome_dataset(request, tmp_path_factory):
    biome = request.param
    info = _generate(biome)
    first = _digest()
    info = _generate(biome)
    assert _digest() == first, f"{biome}: the same seed made a different scene"
    assert info["biome"]["name"] == biome
    out = tmp_path_factory.mktemp(biome)
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "scene.blend"), copy=True)
    summary = render_dataset(out, samples=1, device="cpu")
    assert summary["complete"]
    tr = json.loads((out / "transforms.json").read_text())
    seg = json.loads((out / "segmentation.json").read_text())
    return biome, info, out, tr, seg


def _open(out) -> None:
    """The biome's scene again (every test starts from an empty Blender)."""
    bpy.ops.wm.open_mainfile(filepath=str(out / "scene.blend"))


def _moving_ids(seg) -> set[int]:
    """Instance ids of objects that move or deform on their own (animated, waves, weather, wind)."""
    out = set()
    for k, v in seg["objects"].items():
        ob = bpy.data.objects.get(v["name"])
        if ob is not None and (ob.get("gs_moving") or ob.get("gs_wind") or ob.animation_data is not None):
            out.add(int(k))
    return out


def _cast(scene, dg, origin, c2w, K, r: float, c: float):
    """Blender's ray cast through image point (column c, row r): hit, location, normal, direction."""
    d = c2w_opencv(c2w)[:3, :3] @ np.array([(c - K[0, 2]) / K[0, 0], (r - K[1, 2]) / K[1, 1], 1.0])
    d = d / np.linalg.norm(d)
    hit, loc, normal, *_ = scene.ray_cast(dg, Vector(origin), Vector(d))
    return hit, np.array(loc), np.array(normal), d


def test_depth_matches_ray_casts(biome_dataset):
    biome, _, out, tr, _ = biome_dataset
    _open(out)
    scene = bpy.context.scene
    for ob in scene.objects:  # fog is a volume: no surface for the depth pass, but a mesh for ray casts
        ob.hide_viewport = ob.get("gs_class") == "fog"
    rng = np.random.default_rng(0)
    errors, hits, edges, unresolved = [], 0, 0, []
    for entry in tr["frames"]:
        scene.frame_set(entry["frame"])
        dg = bpy.context.evaluated_depsgraph_get()
        depth = dataset_file(out, entry, "depth_file_path")
        c2w = np.array(entry["transform_matrix"])
        K = frame_K(tr, entry)
        pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), K, c2w)
        origin = c2w[:3, 3]
        for r, c in zip(rng.integers(0, depth.shape[0], 40), rng.integers(0, depth.shape[1], 40)):
            hit, loc, normal, d = _cast(scene, dg, origin, c2w, K, r + 0.5, c + 0.5)
            if hit != np.isfinite(depth[r, c]) or (hit and _depth_error(pts[r, c], loc, normal, d, origin, K) > 0):
                # The one ground-truth sample lands within 0.005 px of the centre along each axis (a box
                # filter 0.01 px wide): on the edge of a thin needle or blade it may see what lies behind.
                # Accept what a ray that close sees, at the box's edge midpoints or corners.
                near = [_cast(scene, dg, origin, c2w, K, r + 0.5 + dr, c + 0.5 + dc)
                        for dr, dc in ((0.005, 0), (-0.005, 0), (0, 0.005), (0, -0.005),
                                       (0.005, 0.005), (0.005, -0.005), (-0.005, 0.005), (-0.005, -0.005))]
                ok = [h == np.isfinite(depth[r, c]) and (not h or _depth_error(pts[r, c], lo, n, dd, origin, K) <= 0)
                      for h, lo, n, dd in near]
                edges += 1
                if not any(ok):  # a needle thinner than the box: no ray of the nine meets what the sample met
                    unresolved.append((entry["frame"], int(r), int(c), float(depth[r, c])))
            if hit:
                errors.append(_depth_error(pts[r, c], loc, normal, d, origin, K))
                hits += 1
    assert hits > 60, f"{biome}: only {hits} pixels saw a surface"
    assert edges <= 0.05 * len(tr["frames"]) * 40, f"{biome}: {edges} pixels agree only a hair off their centre"
    # Over whole frames of the snowy mountain (seed 2) 1 to 3 pixels in 16,384 are such needles, with
    # or without wind: one among the sampled pixels is chance, two are a fault.
    assert len(unresolved) <= 1, f"{biome}: ray cast and depth disagree at (frame, row, col, depth) {unresolved}"
    assert np.median(errors) <= 0.0, f"{biome}: median depth error beyond 2 mm + 0.1 %"


def _depth_error(point, loc, normal, d, origin, K) -> float:
    """How far the ground-truth point lies from the ray's hit beyond 2 mm + 0.1 % of the distance and
    what moving the sample by 0.005 px along a surface seen at a grazing angle allows (m)."""
    dist = np.linalg.norm(loc - origin)
    cos = abs(float(np.dot(normal, d)))
    slack = dist * (0.01 / K[0, 0]) / max(cos, 1e-3)
    return float(np.linalg.norm(point - loc) - (0.002 + 0.001 * dist + slack))


def _reprojection(depth_a, depth_b, K_a, K_b, c2w_a, c2w_b, shift=None):
    """Expected flow a->b [H, W, 2] of the surface points of ``depth_a`` (moved by ``shift`` [H, W, 3]
    when given) and the mask of pixels whose point is visible in b."""
    h, w = depth_a.shape
    valid = np.isfinite(depth_a)
    pts = unproject_depth(np.where(valid, depth_a, 1.0), K_a, c2w_a)
    if shift is not None:
        pts = pts + shift
    uv, z = project(pts.reshape(-1, 3), K_b, c2w_b)
    uv, z = uv.reshape(h, w, 2), z.reshape(h, w)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    ib = np.floor(uv).astype(int)
    inside = (ib[..., 0] >= 0) & (ib[..., 0] < w) & (ib[..., 1] >= 0) & (ib[..., 1] < h) & (z > 0)
    seen = np.abs(depth_b[ib[..., 1].clip(0, h - 1), ib[..., 0].clip(0, w - 1)] - z) < 0.02 * np.abs(z)
    return uv - np.stack([cols, rows], -1), valid & inside & seen


def test_static_flow_equals_reprojected_depth(biome_dataset):
    biome, _, out, tr, seg = biome_dataset
    _open(out)
    moving = _moving_ids(seg)
    frames = tr["frames"]
    errors = []
    for ea, eb in zip(frames[:-1], frames[1:]):
        depth_a, depth_b = dataset_file(out, ea, "depth_file_path"), dataset_file(out, eb, "depth_file_path")
        inst = dataset_file(out, ea, "instance_file_path")
        flow = dataset_file(out, ea, "flow_fwd_file_path")
        exp, ok = _reprojection(depth_a, depth_b, frame_K(tr, ea), frame_K(tr, eb), np.array(ea["transform_matrix"]),
                                np.array(eb["transform_matrix"]))
        static = ok & ~np.isin(inst, list(moving))
        errors.append(np.linalg.norm(flow - exp, axis=-1)[static])
    errors = np.concatenate(errors)
    assert errors.size > 300, f"{biome}: only {errors.size} static pixels"
    assert np.median(errors) <= 0.01 and errors.max() <= 0.02, \
        f"{biome}: static flow EPE median {np.median(errors):.4f}, worst {errors.max():.4f} px"


def _water_shift(pts: np.ndarray, water, frame_a: int, frame_b: int) -> np.ndarray:
    """How far [..., 3] the water surface at each point [..., 3] of frame a moves by frame b: the
    point's place on the nearest triangle of the evaluated wave grid at frame a (Blender's own
    triangulation, as Cycles renders it), carried to the same triangle at frame b. Exact for
    waves that rise and, where the coast's waves break, pitch forward."""
    from mathutils import Vector
    from mathutils.bvhtree import BVHTree
    from mathutils.geometry import barycentric_transform

    scene = bpy.context.scene
    tris = []
    for f in (frame_a, frame_b):
        scene.frame_set(f)
        me = water.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
        co = [v.co.copy() for v in me.vertices]
        tris.append([[co[i] for i in t.vertices] for t in me.loop_triangles])
    bvh = BVHTree.FromPolygons([v for t in tris[0] for v in t], [(3 * k, 3 * k + 1, 3 * k + 2)
                                                                  for k in range(len(tris[0]))])
    to_local, m = water.matrix_world.inverted(), water.matrix_world
    flat = pts.reshape(-1, 3)
    out = np.zeros_like(flat)
    for k, p in enumerate(flat):
        local = to_local @ Vector(p)
        _, _, face, _ = bvh.find_nearest(local)
        if face is None:
            continue
        q = barycentric_transform(local, *tris[0][face], *tris[1][face])
        out[k] = (m @ q) - (m @ local)
    return out.reshape(pts.shape)


def _water_in_view(water, seg: dict, tr: dict, out) -> int:
    """How many water pixels the dataset's frames hold (0 without a water object)."""
    if water is None:
        return 0
    wid = int(next(k for k, v in seg["objects"].items() if v["name"] == "water"))
    return sum(int((dataset_file(out, e, "instance_file_path") == wid).sum()) for e in tr["frames"])


def test_water_flow_moves_with_the_waves(biome_dataset):
    biome, info, out, tr, seg = biome_dataset
    _open(out)
    water = bpy.data.objects.get("water")
    # the biomes whose seed-2 scene shows its water must run the check; the others have nothing to check
    in_view = _water_in_view(water, seg, tr, out) >= 50
    assert in_view == (biome in WATER_IN_VIEW), f"{biome}: water in view of the camera path: {in_view}"
    if not in_view:
        pytest.skip(f"{biome} seed {SEED} shows no water along its camera path: no water flow to check")
    wid = int(next(k for k, v in seg["objects"].items() if v["name"] == "water"))
    assert seg["objects"][str(wid)]["class"] == "water"
    frames = tr["frames"]
    errors, rise = [], []
    for ea, eb in zip(frames[:-1], frames[1:]):
        depth_a, depth_b = dataset_file(out, ea, "depth_file_path"), dataset_file(out, eb, "depth_file_path")
        inst = dataset_file(out, ea, "instance_file_path")
        flow = dataset_file(out, ea, "flow_fwd_file_path")
        c2w_a, c2w_b = np.array(ea["transform_matrix"]), np.array(eb["transform_matrix"])
        pts = unproject_depth(np.where(np.isfinite(depth_a), depth_a, 1.0), frame_K(tr, ea), c2w_a)
        shift = _water_shift(pts, water, ea["frame"], eb["frame"])
        exp, ok = _reprojection(depth_a, depth_b, frame_K(tr, ea), frame_K(tr, eb), c2w_a, c2w_b, shift)
        still, _ = _reprojection(depth_a, depth_b, frame_K(tr, ea), frame_K(tr, eb), c2w_a, c2w_b)
        mask = ok & (inst == wid)
        errors.append(np.linalg.norm(flow - exp, axis=-1)[mask])
        rise.append(np.abs(shift[..., 2])[mask])
    errors, rise = np.concatenate(errors), np.concatenate(rise)
    assert errors.size >= 50, f"{biome}: only {errors.size} water pixels reproject into the next frame"
    assert rise.max() > 1e-3, f"{biome}: the water does not move"
    assert np.median(errors) <= 0.02 and np.quantile(errors, 0.99) <= 0.1, \
        f"{biome}: water flow EPE median {np.median(errors):.4f}, 99 % {np.quantile(errors, 0.99):.4f} px"


def test_plants_flow_with_the_wind(biome_dataset):
    """Pixels of plants the wind moves flow where Blender's evaluated (bent, sheared, fluttering)
    surfaces carry them: each pixel's triangle, found by a ray cast, taken again in the next frame."""
    biome, info, out, tr, seg = biome_dataset
    _open(out)
    windy = {int(k): v["name"] for k, v in seg["objects"].items()
             if bpy.data.objects.get(v["name"]) is not None and bpy.data.objects[v["name"]].get("gs_wind")}
    frames, rng = tr["frames"], np.random.default_rng(0)
    errors, seen = [], 0
    for ea, eb in zip(frames[:-1], frames[1:]):
        inst = dataset_file(out, ea, "instance_file_path")
        flow = dataset_file(out, ea, "flow_fwd_file_path")
        rows, cols = np.nonzero(np.isin(inst, list(windy)))
        seen += len(rows)
        pick = rng.permutation(len(rows))[:40]
        anchors = surface_anchors(ea["frame"], np.array(ea["transform_matrix"]), frame_K(tr, ea),
                                  list(zip(rows[pick], cols[pick])))
        anchors = {px: a for px, a in anchors.items() if a[0] == windy[int(inst[px])]}  # the pixel's own plant
        for (r, c), p in carried_points(anchors, eb["frame"]).items():
            uv, _ = project(p[None], frame_K(tr, eb), np.array(eb["transform_matrix"]))
            errors.append(np.linalg.norm(flow[r, c] - (uv[0] - (c + 0.5, r + 0.5))))
    assert info["motion"]["wind"] is not None  # every biome has its wind
    if not seen:  # nothing the wind moves is in view (a cave, a reef): no plant flow to check
        return
    errors = np.array(errors)
    assert errors.size >= min(20, seen // 2), f"{biome}: only {errors.size} of {seen} plant pixels anchored"
    assert np.median(errors) <= 0.01 and np.quantile(errors, 0.95) <= 0.05, \
        f"{biome}: plant flow EPE median {np.median(errors):.4f}, 95 % {np.quantile(errors, 0.95):.4f} px"


def test_pixels_lie_in_their_objects_boxes_and_ids_separate_objects(biome_dataset):
    biome, _, out, tr, seg = biome_dataset
    _open(out)
    objects = seg["objects"]
    names = [v["name"] for v in objects.values()]
    assert len(names) == len(set(names))
    for cls in SEPARATE:  # one id per tree, bush, rock: every object of the class is listed by itself
        made = [o.name for o in bpy.context.scene.objects if o.get("gs_class") == cls and not o.hide_render
                and o.type == "MESH" and len(o.data.vertices)]
        assert set(made) <= set(names), f"{biome}: {cls} objects without their own id"
    for entry in tr["frames"]:
        inst = dataset_file(out, entry, "instance_file_path")
        sem = dataset_file(out, entry, "semantic_file_path")
        depth = dataset_file(out, entry, "depth_file_path")
        assert np.all((inst == 0) == ~np.isfinite(depth))
        c2w = np.array(entry["transform_matrix"])
        pts = unproject_depth(np.where(np.isfinite(depth), depth, 1.0), frame_K(tr, entry), c2w)
        for i in np.unique(inst[inst > 0]):
            obj = objects[str(int(i))]
            mask = inst == i
            assert np.all(sem[mask] == obj["semantic_id"])
            box = obj.get("frames", {}).get(f"{entry['frame']:05d}", obj)
            lo, hi = np.array(box["aabb_min"]), np.array(box["aabb_max"])
            tol = 2e-3 + 1e-3 * np.linalg.norm(pts[mask] - np.array(entry["transform_matrix"])[:3, 3], axis=1)
            inside = np.all((pts[mask] >= lo - tol[:, None]) & (pts[mask] <= hi + tol[:, None]), axis=1)
            assert inside.all(), f"{biome}: {obj['name']} has pixels outside its box"


def test_every_biome_is_a_preset_of_its_own():
    looks = {(b.terrain, b.ground.base, tuple(sorted(b.mix)), b.sky) for b in BIOMES.values()}
    assert len(looks) == len(BIOMES) >= 10
    required = {"broadleaf_forest", "conifer_forest", "meadow", "desert", "canyon", "arctic", "coast", "wetland",
                "cliff", "underwater"}
    assert required <= set(BIOMES)
    from procgen.assembly.assets import KINDS

    names = {k.name for k in KINDS}
    for b in BIOMES.values():
        assert set(b.mix) <= names, f"{b.name} names kinds that do not exist: {set(b.mix) - names}"
