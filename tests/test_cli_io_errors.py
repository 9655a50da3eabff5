"""import/export from the command line: existing outputs are kept, and bad targets give one line.

Read-only and full file systems are real mounts (root on Linux); elsewhere those cases skip.
"""
from __future__ import annotations

import os

import pytest
from helpers import mounted_tmpfs, random_splats

from blender_gs_addon.cli import main
from blender_gs_addon.splats import write_ply

pytestmark = pytest.mark.blender


@pytest.fixture
def scene(tmp_path):
    src, blend = tmp_path / "in.ply", tmp_path / "scene.blend"
    write_ply(src, random_splats(2000, 3, seed=4))
    assert main(["import", str(src), "--out", str(blend), "--name", "Splats"]) == 0
    return src, blend


def test_export_keeps_an_existing_file_unless_overwrite(scene, tmp_path, capsys):
    _, blend = scene
    out = tmp_path / "existing.ply"
    out.write_bytes(b"someone's file")
    assert main(["export", str(blend), "--object", "Splats", "--out", str(out)]) == 2
    assert "use --overwrite" in capsys.readouterr().err and out.read_bytes() == b"someone's file"
    assert main(["export", str(blend), "--object", "Splats", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes().startswith(b"ply\n")


def test_import_into_a_corrupt_blend_says_so(scene, tmp_path, capsys):
    src, _ = scene
    corrupt = tmp_path / "corrupt.blend"
    corrupt.write_bytes(b"BLENDER-v404 this is not a blend file")
    assert main(["import", str(src), "--out", str(corrupt)]) == 2
    err = capsys.readouterr().err
    assert str(corrupt) in err and "cannot open" in err and len(err.strip().splitlines()) == 1
    assert corrupt.read_bytes() == b"BLENDER-v404 this is not a blend file"


def test_import_into_a_read_only_folder_says_so(scene, tmp_path, capsys):
    src, _ = scene
    folder = tmp_path / "ro"
    with mounted_tmpfs(folder, "ro,size=1m"):
        assert main(["import", str(src), "--out", str(folder / "scene.blend")]) == 2
        err = capsys.readouterr().err
        assert f"the folder {folder} is not writable" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["import", "export"])
def test_a_full_disk_says_so(scene, tmp_path, capsys, command):
    src, blend = scene
    disk = tmp_path / "disk"
    with mounted_tmpfs(disk, "size=64k"):
        if command == "import":
            rc = main(["import", str(src), "--out", str(disk / "scene.blend")])
        else:
            rc = main(["export", str(blend), "--object", "Splats", "--out", str(disk / "out.ply")])
        err = capsys.readouterr().err
        assert rc == 1 and str(disk) in err and "no space left on device" in err.lower(), err
        assert os.listdir(disk) == []  # no temporary left behind


def test_a_splat_too_large_to_display_is_a_counted_warning(tmp_path, capfd):
    """.splat scales near float32's limit: one counted warning naming the file, not numpy's overflow
    (Blender's own splats, 5.3, hold the linear scale and need no display radius: no warning at all)."""
    import numpy as np

    from blender_gs_addon.blender.native_splats import has_native_splats
    from blender_gs_addon.splats.splat_format import SPLAT_DTYPE

    arr = np.zeros(5, SPLAT_DTYPE)
    arr["scale"] = 0.01
    arr["scale"][:3] = 3e38
    arr["rgba"], arr["rot"] = 200, (255, 128, 128, 128)
    src = tmp_path / "huge.splat"
    arr.tofile(src)
    assert main(["import", str(src), "--out", str(tmp_path / "scene.blend")]) == 0
    err = capfd.readouterr().err
    assert "RuntimeWarning" not in err and "overflow" not in err, err
    if has_native_splats():
        assert err.count("warning") == 0, err
    else:
        assert f"import: warning: {src}: 3 splats are too large to display" in err, err
