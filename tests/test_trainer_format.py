"""The trainer's ``--format``: the splats also written in the chosen format, equal to the .ply."""
from __future__ import annotations

from helpers import assert_same_splats

from blender_gs_addon.splats import read_ply, read_splats


def test_train_format_glb_writes_the_same_splats_beside_the_ply(tmp_path, capsys):
    from blender_gs_addon.cli import main
    from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset

    dataset = write_transforms_dataset(make_scene(n_gaussians=60, n_views=6, size=24, seed=2), str(tmp_path / "ds"),
                                       n_points=200)
    out = tmp_path / "o"
    assert main(["train", dataset, "--out", str(out), "--iterations", "10", "--device", "cpu",
                 "--sh-degree", "1", "--format", "glb"]) == 0
    assert "point_cloud.glb" in capsys.readouterr().out
    ply = read_ply(out / "point_cloud.ply")
    assert len(ply) > 0 and ply.sh_degree == 1
    assert_same_splats(read_splats(out / "point_cloud.glb"), ply)


def test_train_rejects_an_unknown_format(tmp_path):
    from blender_gs_addon.cli import main

    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o"), "--format", "obj"]) == 2  # a usage error
    assert not (tmp_path / "o").exists()
