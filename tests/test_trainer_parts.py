"""Trainer parts on crafted inputs: densification counts, loss/metrics, dataset loaders."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

import blender_gs_addon.trainer  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
from blender_gs_addon.trainer.dataset_loader import DatasetError, load_dataset
from blender_gs_addon.trainer.densify import DensifyConfig, DensifyStats, densify_and_prune, reset_opacity
from blender_gs_addon.trainer.losses import ssim
from blender_gs_addon.trainer.metrics import psnr
from blender_gs_addon.trainer.model import GaussianModel, inverse_sigmoid, knn_mean_distance
from blender_gs_addon.trainer.optim import Adam
from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset

# ----------------------------------------------------------------------------- densification

def _crafted_model():
    """Four Gaussians, scene extent 10 -> clone/split boundary at scale 0.1."""
    pts = np.array([[0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]], np.float32)
    m = GaussianModel.from_points(pts, np.full((4, 3), 0.5, np.float32), 1, torch.device("cpu"))
    with torch.no_grad():
        m.params["scales_log"][:] = torch.log(torch.tensor([[0.05] * 3, [0.5, 0.2, 0.3], [0.05] * 3, [0.05] * 3]))
        m.params["opacity_logit"][:] = inverse_sigmoid(torch.tensor([0.5, 0.5, 0.5, 0.001]))
    return m


def _stats_with(pixel_grads, width=200, height=100):
    """Statistics after one view with the given d loss / d pixel centre [N, 2]."""
    st = DensifyStats(len(pixel_grads), "cpu")
    st.update(torch.tensor(pixel_grads, dtype=torch.float32), torch.tensor([3.0] * len(pixel_grads)), width, height)
    return st


def test_gradient_units_are_pixel_grads_times_half_the_image_size():
    st = _stats_with([[1e-6, 0.0], [0.0, 1e-6], [3e-6, 4e-6]])
    # NDC spans the image in 2 units: x by W/2 = 100, y by H/2 = 50
    np.testing.assert_allclose(st.mean_grad().numpy(), [1e-4, 5e-5, math.hypot(3e-4, 2e-4)], rtol=1e-5)
    st.update(torch.zeros(3, 2), torch.tensor([0.0, 2.0, 0.0]), 200, 100)  # only #1 visible: averaged over 2 views
    np.testing.assert_allclose(st.mean_grad().numpy(), [1e-4, 2.5e-5, math.hypot(3e-4, 2e-4)], rtol=1e-5)


def test_clone_split_prune_counts_on_crafted_case():
    m = _crafted_model()
    opt = Adam(m.params, {k: 1e-3 for k in m.params})
    # high gradient (3e-6 px * 100 = 3e-4 >= 2e-4) on #0 (small -> clone) and #1 (large -> split);
    # #2 is small with a low gradient (kept as is); #3 is nearly transparent (pruned)
    st = _stats_with([[3e-6, 0], [3e-6, 0], [1e-6, 0], [0, 0]])
    gen = torch.Generator().manual_seed(0)
    res = densify_and_prune(opt, st, DensifyConfig(), extent=10.0, prune_large=False, generator=gen)
    assert (res["cloned"], res["split"]) == (1, 1)
    p = opt.params
    # 4 + 1 clone + 2 split children - 1 split parent - 1 transparent = 5
    assert res["total"] == 5 and p["means"].shape == (5, 3) and p["sh_rest"].shape == (5, 3, 3)
    means = p["means"].detach()
    assert int((means == torch.tensor([0.0, 0, 0])).all(1).sum()) == 2  # original and its exact clone
    children = (means - torch.tensor([5.0, 0, 0])).norm(dim=1) < 3.0
    assert int(children.sum()) == 2
    np.testing.assert_allclose(torch.exp(p["scales_log"][children]).detach().numpy(),
                               np.array([[0.5, 0.2, 0.3]] * 2) / 1.6, rtol=1e-5)
    assert not bool(((means - torch.tensor([0.0, 0, 5])).norm(dim=1) < 1e-6).any())  # transparent one is gone
    # optimiser state follows the rows
    assert opt.state["means"]["exp_avg"].shape == (5, 3)


def test_cap_limits_growth_to_the_strongest_gradients():
    m = _crafted_model()
    opt = Adam(m.params, {k: 1e-3 for k in m.params})
    st = _stats_with([[3e-6, 0], [5e-6, 0], [4e-6, 0], [0, 0]])  # all three opaque ones qualify
    res = densify_and_prune(opt, st, DensifyConfig(max_gaussians=5), extent=10.0, prune_large=False)
    assert res["cloned"] + res["split"] == 1 and res["split"] == 1  # budget 1: the largest gradient (#1)
    assert res["total"] <= 5


def test_prune_large_and_opacity_reset():
    m = _crafted_model()
    opt = Adam(m.params, {k: 1e-3 for k in m.params})
    st = DensifyStats(4, "cpu")
    st.update(torch.zeros(4, 2), torch.tensor([25.0, 1.0, 1.0, 1.0]), 64, 64)  # #0 covers > 20 px
    with torch.no_grad():
        opt.params["scales_log"][2] = math.log(2.0)  # #2 larger than 0.1 * extent
    res = densify_and_prune(opt, st, DensifyConfig(), extent=10.0, prune_large=True)
    assert res["total"] == 1  # #0 (screen), #2 (world), #3 (opacity) pruned; #1 (0.5 < 1.0) kept
    reset_opacity(opt)
    assert float(torch.sigmoid(opt.params["opacity_logit"].detach()).max()) == pytest.approx(0.01, rel=1e-4)


def test_adam_steps_match_torch_adam_per_parameter_rate_and_after_row_edits():
    """Our optimiser (torch's fused step on our own state) against torch.optim.Adam's plain
    single-tensor algorithm, one learning rate per parameter, before and after rows are kept."""
    gen = torch.Generator().manual_seed(0)
    start = {"a": torch.randn(6, 3, generator=gen), "b": torch.randn(6, generator=gen)}
    lrs = {"a": 1e-2, "b": 5e-2}
    ours = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    ref = {k: v.clone().requires_grad_(True) for k, v in start.items()}
    opt = Adam(ours, lrs)
    ref_opt = torch.optim.Adam([{"params": [ref[k]], "lr": lrs[k]} for k in ref], eps=1e-15, foreach=False)
    for i in range(8):
        grads = {k: torch.randn(v.shape, generator=gen) for k, v in ours.items()}
        for k in ours:
            opt.params[k].grad, ref[k].grad = grads[k].clone(), grads[k].clone()
        opt.step()
        ref_opt.step()
        if i == 3:  # drop rows 1 and 4 from both, with their moments
            keep = torch.tensor([True, False, True, True, False, True])
            opt.keep_rows(keep)
            for k in ref:
                st = ref_opt.state.pop(ref[k])
                ref[k] = ref[k].detach()[keep].requires_grad_(True)
                ref_opt.param_groups[list(lrs).index(k)]["params"] = [ref[k]]
                ref_opt.state[ref[k]] = {"step": st["step"], "exp_avg": st["exp_avg"][keep],
                                         "exp_avg_sq": st["exp_avg_sq"][keep]}
        for k in ours:
            torch.testing.assert_close(opt.params[k].detach(), ref[k].detach(), rtol=1e-5, atol=1e-6)
    assert all(float((opt.params[k].detach() - start[k][keep]).abs().max()) > 1e-3 for k in start)  # they moved


def test_knn_scale_matches_brute_force():
    pts = torch.tensor(np.random.default_rng(0).normal(size=(300, 3)), dtype=torch.float32)
    d = torch.cdist(pts, pts) + torch.eye(300) * 1e9
    expected = d.topk(3, largest=False).values.mean(1)
    torch.testing.assert_close(knn_mean_distance(pts, chunk=64), expected)


def _first_non_finite(model) -> str | None:
    """Reference: element-by-element check in numpy."""
    for name, v in model.params.items():
        if not np.isfinite(v.detach().numpy()).all():
            return name
    return None


def test_nan_guard_names_the_first_bad_parameter_and_ignores_overflowing_sums():
    """The guard sums parameters first; NaN, +Inf, -Inf and +Inf/-Inf pairs must still be
    found, and finite values whose sum overflows float32 must not be reported."""
    base = _crafted_model()
    assert base.all_finite() is None
    names = list(base.params)
    for bad in ([float("nan")], [float("inf")], [-float("inf")], [float("inf"), -float("inf")]):
        for i, name in enumerate(names):
            m = _crafted_model()
            with torch.no_grad():
                flat = m.params[name].view(-1)
                flat[-len(bad):] = torch.tensor(bad)
                for later in names[i + 1:]:  # a later parameter also broken: the first is named
                    m.params[later].view(-1)[0] = float("nan")
            assert m.all_finite() == _first_non_finite(m) == name
    m = _crafted_model()
    with torch.no_grad():
        m.params["means"][:] = 3e38  # finite, but the sum is +Inf in float32
    assert torch.isinf(m.params["means"].sum())
    assert m.all_finite() is None and _first_non_finite(m) is None


# ----------------------------------------------------------------------------- loss and metrics

def test_ssim_and_psnr_on_known_images():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(40, 40, 3, generator=g)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-5)
    b = (a + 0.1).clamp(0, 1)
    assert float(ssim(a, b)) < 0.99
    c = torch.full((8, 8, 3), 0.5)
    assert psnr(c + 0.1, c) == pytest.approx(20.0, abs=1e-4)  # mse 0.01


# ----------------------------------------------------------------------------- loaders

@pytest.fixture(scope="module")
def small_scene():
    return make_scene(n_gaussians=60, n_views=9, size=24, seed=5)


def _rot_to_quat(R):
    """Rotation matrix -> (w, x, y, z), written independently of the loader's inverse."""
    w = math.sqrt(max(0.0, 1 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    x = math.copysign(math.sqrt(max(0.0, 1 + R[0, 0] - R[1, 1] - R[2, 2])) / 2, R[2, 1] - R[1, 2])
    y = math.copysign(math.sqrt(max(0.0, 1 - R[0, 0] + R[1, 1] - R[2, 2])) / 2, R[0, 2] - R[2, 0])
    z = math.copysign(math.sqrt(max(0.0, 1 - R[0, 0] - R[1, 1] + R[2, 2])) / 2, R[1, 0] - R[0, 1])
    return w, x, y, z


def _write_synthetic_pair(scene, root):
    from procgen.render.png import write_png

    for split in ("train", "test"):
        os.makedirs(os.path.join(root, split), exist_ok=True)
    docs = {"train": [], "test": []}
    for i, (img, a, c2w) in enumerate(zip(scene.images, scene.alphas, scene.c2w_gl)):
        split = "test" if i % 3 == 0 else "train"
        rgba = np.concatenate([img, (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None]], -1)
        write_png(os.path.join(root, split, f"r_{i}.png"), rgba)
        docs[split].append({"file_path": f"./{split}/r_{i}", "transform_matrix": c2w.tolist()})
    angle = 2 * math.atan(0.5 * scene.width / float(scene.K[0, 0]))
    for split, frames in docs.items():
        with open(os.path.join(root, f"transforms_{split}.json"), "w") as f:
            json.dump({"camera_angle_x": angle, "frames": frames}, f)


def _write_colmap(scene, root):
    from procgen.render.png import write_png

    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "sparse", "0"), exist_ok=True)
    fx, fy, cx, cy = scene.K[0, 0], scene.K[1, 1], scene.K[0, 2], scene.K[1, 2]
    with open(os.path.join(root, "sparse", "0", "cameras.txt"), "w") as f:
        f.write(f"# comment\n1 PINHOLE {scene.width} {scene.height} {fx!r} {fy!r} {cx!r} {cy!r}\n")
    lines = ["# images"]
    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    for i, (img, c2w) in enumerate(zip(scene.images, scene.c2w_gl)):
        write_png(os.path.join(root, "images", f"{i:05d}.png"), img)
        w2c = np.linalg.inv(c2w @ flip)
        q = _rot_to_quat(w2c[:3, :3])
        t = w2c[:3, 3]
        lines.append(f"{i + 1} {q[0]!r} {q[1]!r} {q[2]!r} {q[3]!r} {t[0]!r} {t[1]!r} {t[2]!r} 1 {i:05d}.png")
        lines.append("")  # empty 2D point list
    with open(os.path.join(root, "sparse", "0", "images.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "sparse", "0", "points3D.txt"), "w") as f:
        for i, (p, c) in enumerate(zip(scene.means, scene.colors)):
            f.write(f"{i + 1} {p[0]} {p[1]} {p[2]} {int(c[0] * 255)} {int(c[1] * 255)} {int(c[2] * 255)} 0.1\n")


def _by_index(cams):
    import re

    return {int(re.findall(r"\d+", c.name)[-1]): c for c in cams}


def test_all_formats_give_the_same_cameras(small_scene, tmp_path):
    s = small_scene
    ours = load_dataset(write_transforms_dataset(s, str(tmp_path / "ours"), n_points=100))
    _write_synthetic_pair(s, str(tmp_path / "pair"))
    pair = load_dataset(str(tmp_path / "pair"), seed=2)
    _write_colmap(s, str(tmp_path / "colmap"))
    colmap = load_dataset(str(tmp_path / "colmap"))
    assert (ours.layout, pair.layout, colmap.layout) == ("transforms", "synthetic", "colmap")
    # hold-out: every 8th frame for ours and COLMAP, the test file for the pair
    assert sorted(_by_index(ours.test)) == [0, 8] and sorted(_by_index(colmap.test)) == [0, 8]
    assert sorted(_by_index(pair.test)) == [0, 3, 6] and len(pair.train) == 6

    flip = np.diag([1.0, -1.0, -1.0, 1.0])
    for ds in (ours, pair, colmap):
        cams = _by_index(ds.train + ds.test)
        assert len(cams) == 9
        for i, cam in cams.items():
            expected = np.linalg.inv(s.c2w_gl[i] @ flip)  # world-to-camera, OpenCV axes
            np.testing.assert_allclose(cam.viewmat, expected, atol=2e-5)
            np.testing.assert_allclose(cam.K, s.K, rtol=1e-5)
            # the ground-truth mean of the scene projects to the same pixel in every loader's camera
            pc = cam.viewmat[:3, :3] @ s.means[0] + cam.viewmat[:3, 3]
            assert pc[2] > 0
            if ds is pair:  # RGBA on the chosen background: alpha came through
                assert cam.alpha is not None and cam.alpha.shape == (24, 24, 1)
                opaque = cam.alpha[..., 0] == 255
                np.testing.assert_array_equal(cam.image[opaque], s.images[i][opaque])
            else:
                np.testing.assert_array_equal(cam.image, s.images[i])
    # points: COLMAP's points3D.txt gives the ground-truth means; the pair has none -> random in the frustums
    np.testing.assert_allclose(colmap.points, s.means, atol=1e-5)
    assert pair.random_points and len(pair.points) == 3000 and not ours.random_points
    seen = np.zeros(len(pair.points), bool)
    for cam in pair.train:  # training views only: a point only a held-out view sees would be a floater
        pc = pair.points @ cam.viewmat[:3, :3].T + cam.viewmat[:3, 3]
        u = cam.K[0, 0] * pc[:, 0] / pc[:, 2] + cam.K[0, 2]
        v = cam.K[1, 1] * pc[:, 1] / pc[:, 2] + cam.K[1, 2]
        seen |= (pc[:, 2] > 0) & (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
    assert seen.all()
    # depth is loaded on request and matches what was written
    with_depth = load_dataset(str(tmp_path / "ours"), load_depth=True)
    np.testing.assert_array_equal(_by_index(with_depth.train)[1].depth, s.depths[1])


def test_downscale_halves_images_and_intrinsics(small_scene, tmp_path):
    root = write_transforms_dataset(small_scene, str(tmp_path / "d"), n_points=50)
    full, half = load_dataset(root), load_dataset(root, downscale=2)
    a, b = full.train[0], half.train[0]
    assert (b.width, b.height) == (12, 12)
    np.testing.assert_allclose(b.K[:2], a.K[:2] / 2)
    block = a.image[:2, :2].astype(np.float32).mean((0, 1))
    np.testing.assert_allclose(b.image[0, 0], np.floor(block + 0.5), atol=0)


def test_bad_inputs_name_the_file(small_scene, tmp_path):
    with pytest.raises(DatasetError, match="dataset not found"):
        load_dataset(str(tmp_path / "nope"))
    root = write_transforms_dataset(small_scene, str(tmp_path / "d"), n_points=50)
    doc = json.load(open(os.path.join(root, "transforms.json")))
    doc["k1"] = 0.1
    json.dump(doc, open(os.path.join(root, "transforms.json"), "w"))
    with pytest.raises(DatasetError, match=r"transforms\.json: distortion"):
        load_dataset(root)
    doc["k1"] = 0.0
    doc["frames"][2]["file_path"] = "images/missing.png"
    json.dump(doc, open(os.path.join(root, "transforms.json"), "w"))
    with pytest.raises(DatasetError, match="missing.png"):
        load_dataset(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no transforms.json"):
        load_dataset(str(tmp_path / "empty"))


@pytest.mark.parametrize("fmt", ["binary_little_endian 1.0", "binary_big_endian 1.0", "ascii 1.0"])
def test_initial_point_colours_scale_by_their_stored_type(tmp_path, fmt):
    from helpers import independent_elements

    from blender_gs_addon.trainer.point_cloud_reader import read_points_ply

    xyz = [("x", "float"), ("y", "float"), ("z", "float")]
    cases = {  # colour properties -> the values as written, and as read (0..1)
        "uchar": ([("red", "uchar"), ("green", "uchar"), ("blue", "uchar")], (255, 0, 51), (1.0, 0.0, 0.2)),
        "ushort": ([("r", "ushort"), ("g", "ushort"), ("b", "ushort")], (65535, 0, 13107), (1.0, 0.0, 0.2)),
        "float": ([("diffuse_red", "float"), ("diffuse_green", "float"), ("diffuse_blue", "float")],
                  (1.5, -0.5, 0.25), (1.0, 0.0, 0.25)),
    }
    for name, (props, raw, want) in cases.items():
        path = tmp_path / f"{name}.ply"
        path.write_bytes(independent_elements([("vertex", xyz + props, [(1.0, -2.0, 3.5) + raw] * 2)], fmt))
        pts, cols = read_points_ply(str(path))
        assert pts.dtype == np.float32 and cols.dtype == np.float32
        np.testing.assert_array_equal(pts, [[1.0, -2.0, 3.5]] * 2)
        np.testing.assert_allclose(cols, [want] * 2, atol=1e-7)
    (tmp_path / "plain.ply").write_bytes(independent_elements([("vertex", xyz, [(0.0, 0.0, 0.0)])], fmt))
    assert read_points_ply(str(tmp_path / "plain.ply"))[1] is None
    (tmp_path / "flat.ply").write_bytes(independent_elements([("vertex", xyz[:2], [(0.0, 0.0)])], fmt))
    with pytest.raises(ValueError, match="flat.ply: vertex element has no 'z'"):
        read_points_ply(str(tmp_path / "flat.ply"))
