"""The sky shell and ground-truth supervision, on scenes the trainer has never seen (no Blender).

An outdoor scene with a walking camera under an analytic sky at infinity (trainer/outdoor_synthetic.py):
with the shell every held-out view shows the scene and not a haze, the sky is in the exported file,
and the file alone renders as the trainer does.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import blender_gs_addon.trainer  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
from blender_gs_addon.splats import read_ply
from blender_gs_addon.splats.sky_rows import split_sky
from blender_gs_addon.trainer.dataset_loader import DatasetError, load_dataset
from blender_gs_addon.trainer.model import GaussianModel
from blender_gs_addon.trainer.outdoor_synthetic import write_outdoor_dataset
from blender_gs_addon.trainer.sky import SkyShell
from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset
from blender_gs_addon.trainer.train import TrainConfig, _ViewTensors, render, train
from cuda_ext import rasterize

ITERATIONS = 500


def _train(dataset, out, **kw):
    cfg = TrainConfig(dataset=str(dataset), out=str(out), iterations=kw.pop("iterations", ITERATIONS),
                      device="cpu", show_bar=False, **kw)
    return train(cfg)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """(dataset with depth and points, its run's metrics and folder)."""
    root = tmp_path_factory.mktemp("walk")
    ds = write_outdoor_dataset(str(root / "data"))
    return ds, _train(ds, root / "run"), root / "run"


def test_walking_camera_every_heldout_view_shows_the_scene(walk):
    ds, m, run = walk
    views = [v["psnr"] for v in m["per_view"]]
    assert len(views) == 3 and m["sky_gaussians"] > 500
    # stated targets: a scene a trainer reproduces, no view far below the others
    assert m["psnr"] >= 26.0, views
    assert min(views) >= m["psnr"] - 4.0, views
    # no haze: the scene's own Gaussians leave the held-out sky pixels (almost) clear
    scene, _ = split_sky(read_ply(str(run / "point_cloud.ply")))
    model = GaussianModel.from_splat_data(scene, torch.device("cpu"))
    see_through = []
    for cam in load_dataset(ds, load_depth=True).test:
        v = _ViewTensors(cam, torch.device("cpu"))
        with torch.no_grad():
            _, alpha, _, _ = render(model, v, 3, torch.zeros(3))
        assert v.sky.float().mean() > 0.3
        assert float(alpha[..., 0][v.sky].mean()) < 0.1, cam.name
        see_through.append(float((alpha[..., 0][~v.sky] < 0.99).float().mean()))
    # and the ground is opaque: the shell shows through few surface pixels (6 % here; 13 % when
    # only the sky's pixels were supervised)
    assert np.mean(see_through) < 0.09, see_through


def test_sky_is_in_the_file_and_the_file_alone_renders_as_the_trainer(walk):
    ds, m, run = walk
    data = read_ply(str(run / "point_cloud.ply"))
    mark = data.extra["sky"]
    assert int(mark.sum()) == m["sky_gaussians"] and len(data) == m["gaussians"]
    assert np.all(mark[-m["sky_gaussians"]:] == 1) and np.all(mark[:m["scene_gaussians"]] == 0)
    scene, sky = split_sky(data)
    dev = torch.device("cpu")
    model = GaussianModel.from_splat_data(scene, dev)
    shell = SkyShell(GaussianModel.from_splat_data(sky, dev), np.zeros(3), m["sky_radius"])
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    coeffs = np.concatenate([data.sh_dc[:, None], data.sh_rest], 1)
    from procgen.render.png import read_png

    for cam in load_dataset(ds).test:
        v = _ViewTensors(cam, dev)
        with torch.no_grad():
            trainer_rgb, scene_alpha = render(model, v, 3, torch.zeros(3), shell)[:2]
            file_rgb = rasterize(t(data.means), t(data.quats), t(np.exp(data.scales_log)),
                                 t(1 / (1 + np.exp(-data.opacity_logit))), t(coeffs), v.viewmat, v.K,
                                 cam.width, cam.height, sh_degree=3)[0]
        diff = (trainer_rgb - file_rgb).abs().amax(-1)
        # equal but where one render's blending stops before the other's: a pixel stops when the next
        # Gaussian (alpha <= 0.99) would take its transmittance below 1e-4, so what is left out is
        # under 0.01, and in the file render it is at most the sky behind the scene's transmittance
        rest = (1 - scene_alpha[..., 0]).clamp(max=0.01)
        assert bool((diff <= rest + 1e-5).all()), cam.name
        assert float(diff.mean()) < 1e-4, cam.name
        # and the trainer's own held-out render (right half of renders/<view>.png, 8-bit)
        saved = read_png(str(run / "renders" / (cam.name.replace("/", "_") + ".png")))[:, cam.width:]
        ours = (trainer_rgb.clamp(0, 1).numpy() * 255 + 0.5).astype(np.int16)
        assert np.abs(ours - saved.astype(np.int16)).max() <= 1, cam.name


def test_photos_without_depth_or_masks_train_with_a_sky(walk, tmp_path):
    ds = write_outdoor_dataset(str(tmp_path / "photos"), with_depth=False)  # a COLMAP-like capture: points, no depth
    m = _train(ds, tmp_path / "run")
    assert m["sky_gaussians"] > 500 and m["psnr_sky"] is None  # no mask to measure the sky by
    assert int(read_ply(str(tmp_path / "run" / "point_cloud.ply")).extra["sky"].sum()) == m["sky_gaussians"]
    # stated target: within 1.5 dB of the run that had the sky mask and depth
    assert m["psnr"] >= walk[1]["psnr"] - 1.5, (m["psnr"], walk[1]["psnr"])


def test_images_only_train_with_a_sky(walk, tmp_path):
    ds = write_outdoor_dataset(str(tmp_path / "photos"), with_depth=False, with_points=False)
    assert not os.path.exists(os.path.join(ds, "points3d.ply"))
    m = _train(ds, tmp_path / "run")
    assert m["random_init"] and m["sky_gaussians"] > 500
    assert int(read_ply(str(tmp_path / "run" / "point_cloud.ply")).extra["sky"].sum()) == m["sky_gaussians"]
    # random initial points (3,000, in the training views only): 34.6 dB measured against 38.6 dB with points
    # and depth; 20,000 of them, or points that only held-out views saw, left floaters (22.2 dB)
    assert m["psnr"] >= walk[1]["psnr"] - 5.0, (m["psnr"], walk[1]["psnr"])
    assert min(v["psnr"] for v in m["per_view"]) >= m["psnr"] - 4.0, m["per_view"]


def test_depth_supervision_lowers_the_depth_error(tmp_path):
    ds = write_transforms_dataset(make_scene(n_gaussians=150, n_views=16, size=32, seed=3), str(tmp_path / "d"),
                                  n_points=600)
    runs = {w: _train(ds, tmp_path / f"w{w}", iterations=300, depth_weight=w, sh_degree=1, seed=1)
            for w in (0.0, 1.0)}
    assert runs[1.0]["depth_error"] < 0.75 * runs[0.0]["depth_error"], {w: r["depth_error"] for w, r in runs.items()}
    assert runs[1.0]["psnr"] > runs[0.0]["psnr"] - 1.0


def test_objects_on_a_transparent_background_get_no_sky(tmp_path):
    from procgen.render.png import write_png

    scene = make_scene(n_gaussians=80, n_views=8, size=24, seed=2)
    for split, idx in (("train", range(0, 8, 2)), ("test", range(1, 8, 2))):
        frames = []
        for i in idx:
            rgba = np.concatenate([scene.images[i], (scene.alphas[i][..., None] * 255).astype(np.uint8)], -1)
            os.makedirs(tmp_path / split, exist_ok=True)
            write_png(str(tmp_path / split / f"r_{i}.png"), rgba)
            frames.append({"file_path": f"./{split}/r_{i}", "transform_matrix": scene.c2w_gl[i].tolist()})
        fov = 2 * np.arctan(scene.width / 2 / scene.K[0, 0])
        (tmp_path / f"transforms_{split}.json").write_text(json.dumps({"camera_angle_x": float(fov), "frames": frames}))
    m = _train(tmp_path, tmp_path / "run", iterations=20)
    assert m["sky_gaussians"] == 0 and "sky" not in read_ply(str(tmp_path / "run" / "point_cloud.ply")).extra


def test_depth_that_is_all_inf_is_refused_naming_the_file(tmp_path):
    ds = write_transforms_dataset(make_scene(n_gaussians=50, n_views=4, size=16, seed=1), str(tmp_path / "d"),
                                  n_points=100)
    np.save(os.path.join(ds, "depth", "00002.npy"), np.full((16, 16), np.inf, np.float32))
    with pytest.raises(DatasetError, match=r"00002\.npy.*every value is inf"):
        load_dataset(ds, load_depth=True)
