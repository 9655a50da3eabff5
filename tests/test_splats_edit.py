"""``gs edit`` against splat-transform 3.7.0 run with the same options on the same file (same splats kept,
values within float32 rounding), and against numpy where splat-transform lacks the action or means
something else; bad input gives one line."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import splat_transform

from blender_gs_addon.cli import main
from blender_gs_addon.splats import SH_C0, write_ply
from blender_gs_addon.splats.edit import euler_matrix
from blender_gs_addon.splats.ply import read_ply
from blender_gs_addon.splats.synthetic import random_splats

N = 3000
# float32 rounding of values of order 1..10 (positions, rotated SH and quaternions go through float64)
ATOL, RTOL = 2e-6, 1e-6


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    path = tmp_path_factory.mktemp("edit") / "in.ply"
    write_ply(path, random_splats(N, 3, seed=11))
    return path


def ours(src, tmp_path, *actions, name="ours.ply"):
    out = tmp_path / name
    inputs = [str(p) for p in (src if isinstance(src, list) else [src])]
    assert main(["edit", *inputs, "--out", str(out), "--overwrite", *actions]) == 0
    return read_ply(out, finite=False)


def theirs(src, tmp_path, *actions):
    """splat-transform's output; with several inputs the actions follow the output file, where they act on
    the merged splats (after an input they act on that input only)."""
    out = tmp_path / "theirs.ply"
    if isinstance(src, list):
        splat_transform(*src, out, *actions)
    else:
        splat_transform(src, *actions, out)
    return read_ply(out, finite=False)


def assert_same(a, b):
    """Same splats in the same order, each column within float32 rounding (splat-transform orders columns its
    own way, so columns are compared by name)."""
    assert len(a) == len(b)
    ca, cb = a.columns(), b.columns()
    assert set(ca) == set(cb)
    for name in ca:
        np.testing.assert_allclose(ca[name], cb[name], rtol=RTOL, atol=ATOL, err_msg=name)


SHARED = [
    ("--translate=1,-2,0.5",),
    ("--rotate=30,40,50",),
    ("--rotate=-90,0,0",),
    ("--scale", "2.5"),
    ("--filter-value", "opacity,gt,0.5"),
    ("--filter-value", "opacity,lte,0.2"),
    ("--filter-value", "opacity_raw,gt,0.5"),
    ("--filter-value", "scale_0,lte,0.05"),
    ("--filter-value", "scale_1_raw,lt,-3"),
    ("--filter-value", "f_dc_1,gte,0.6"),
    ("--filter-value", "x,gt,0"),
    ("--filter-value", "rot_0,gt,0.1"),
    ("--filter-value", "f_rest_7,lt,0"),
    ("--filter-box=-1,-0.5,-2,0.5,1,2",),
    ("--filter-box=-,0,,,,1",),
    ("--filter-sphere=0.2,-0.1,0.3,1.2",),
    ("--filter-harmonics", "0"),
    ("--filter-harmonics", "1"),
    ("--filter-harmonics", "2"),
    ("--translate=1,0,0", "--rotate=0,0,90", "--filter-box=0,0,-10,10,10,10", "--scale", "0.5",
     "--filter-value", "x,gt,0.5", "--filter-harmonics", "1", "--filter-sphere=0,0,0,2"),
]


@pytest.mark.parametrize("actions", SHARED, ids=[" ".join(a) for a in SHARED])
def test_each_shared_action_agrees_with_splat_transform(src, tmp_path, actions):
    a, b = ours(src, tmp_path, *actions), theirs(src, tmp_path, *actions)
    crops = any(a.startswith(("--filter-value", "--filter-box", "--filter-sphere")) for a in actions)
    assert 0 < len(a) < N if crops else len(a) == N
    assert_same(a, b)


def test_opacity_is_the_activated_opacity(src, tmp_path):
    logit = read_ply(src).opacity_logit
    kept = ours(src, tmp_path, "--filter-value", "opacity,gt,0.5")
    assert len(kept) == int((logit > 0).sum()) != int((logit > 0.5).sum())
    assert len(ours(src, tmp_path, "--filter-value", "opacity_raw,gt,0.5")) == int((logit > 0.5).sum())


def test_order_is_the_command_lines(src, tmp_path):
    a = ours(src, tmp_path, "--translate=1,0,0", "--filter-box=0,-10,-10,10,10,10")
    b = ours(src, tmp_path, "--filter-box=0,-10,-10,10,10,10", "--translate=1,0,0")
    x = read_ply(src).means[:, 0].astype(np.float64)  # splat-transform's x is the file's -x
    assert len(a) == int((-x + 1 >= 0).sum()) and len(b) == int((-x >= 0).sum()) and len(a) != len(b)


def test_filter_nan_agrees_with_splat_transform(tmp_path):
    data = random_splats(40, 2, seed=2)
    bad = {0: ("means", (0, 0), np.nan), 1: ("sh_rest", (1, 2, 1), np.inf), 2: ("opacity_logit", (2,), np.inf),
           3: ("opacity_logit", (3,), -np.inf), 4: ("scales_log", (4, 1), -np.inf),
           5: ("scales_log", (5, 1), np.inf), 7: ("sh_dc", (7, 2), np.nan)}
    for field, index, value in bad.values():
        getattr(data, field)[index] = value
    data.quats[6] = 0
    path = tmp_path / "nan.ply"
    write_ply(path, data)
    a, b = ours(path, tmp_path, "--filter-nan"), theirs(path, tmp_path, "--filter-nan")
    assert len(a) == 40 - 6  # opacity +inf (opaque) and log-scale -inf (flat) stay
    assert_same(a, b)


def test_merge_agrees_with_splat_transform(src, tmp_path):
    other = tmp_path / "other.ply"
    write_ply(other, random_splats(500, 3, seed=12))
    both = [src, other]
    a = ours(both, tmp_path, "--filter-value", "opacity,gt,0.3")
    assert_same(a, theirs(both, tmp_path, "--filter-value", "opacity,gt,0.3"))


def test_merge_of_different_degrees_keeps_each_channel(src, tmp_path):
    """splat-transform maps f_rest columns by name, which scrambles a lower degree's channels; ours pads each
    channel's bands with zeros (numpy reference)."""
    low = random_splats(50, 1, seed=4)
    path = tmp_path / "low.ply"
    write_ply(path, low)
    merged = ours([src, path], tmp_path)
    assert len(merged) == N + 50 and merged.sh_degree == 3
    np.testing.assert_array_equal(merged.sh_rest[N:, :3], low.sh_rest)
    assert not merged.sh_rest[N:, 3:].any()
    np.testing.assert_array_equal(merged.means[N:], low.means)


def test_decimate_keeps_splat_transforms_count_and_the_most_important(src, tmp_path):
    data = read_ply(src)
    alpha = 1 / (1 + np.exp(-data.opacity_logit.astype(np.float64)))
    s = np.sort(np.exp(data.scales_log.astype(np.float64)), axis=1)
    importance = alpha * s[:, 2] * s[:, 1]  # opacity x face-on footprint
    for spec in ("1500", "37%", "12.5%"):
        a = ours(src, tmp_path, "--decimate", spec)
        b = theirs(src, tmp_path, "-g", "cpu", "--decimate", spec)  # merges neighbours: only the count compares
        assert len(a) == len(b)
        want = np.sort(np.argsort(-importance)[:len(a)])
        np.testing.assert_array_equal(a.means, data.means[want])
    assert len(ours(src, tmp_path, "--decimate", str(10 * N))) == N


def test_scale_max_and_file_axes_against_numpy(src, tmp_path):
    data = read_ply(src)
    largest = np.exp(data.scales_log.astype(np.float64)).max(axis=1)
    assert len(ours(src, tmp_path, "--filter-value", "scale_max,gt,0.1")) == int((largest > 0.1).sum())
    moved = ours(src, tmp_path, "--file-axes", "--translate=1,0,0", "--rotate=0,0,90")
    want = data.means.astype(np.float64) + (1, 0, 0)
    np.testing.assert_allclose(moved.means, want @ euler_matrix((0, 0, 90)).T, atol=ATOL)
    boxed = ours(src, tmp_path, "--file-axes", "--filter-box=0,-1,-1,1,1,1")
    p = data.means
    assert len(boxed) == int(((p >= (0, -1, -1)) & (p <= (1, 1, 1))).all(1).sum())
    colour = ours(src, tmp_path, "--filter-value", "f_dc_0,lt,0.4")
    assert len(colour) == int((0.5 + SH_C0 * data.sh_dc[:, 0].astype(np.float64) < 0.4).sum())


def _error(capsys, argv) -> tuple[int, list[str]]:
    code = main(argv)
    return code, capsys.readouterr().err.strip().splitlines()


def test_bad_input_gives_one_line_naming_the_file(src, tmp_path, capsys):
    out = tmp_path / "out.ply"
    code, err = _error(capsys, ["edit", str(src), "--out", str(out), "--filter-value", "sharpness,gt,1"])
    assert code == 2 and len(err) == 1 and str(src) in err[0] and "'sharpness'" in err[0] and "opacity" in err[0]
    code, err = _error(capsys, ["edit", str(src), "--out", str(out), "--filter-value", "opacity,gt,1.5"])
    assert code == 2 and len(err) == 1 and "strictly between 0 and 1" in err[0]
    mesh = tmp_path / "mesh.ply"
    mesh.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                     b"property float z\nend_header\n0 0 0\n")
    code, err = _error(capsys, ["edit", str(mesh), "--out", str(out)])
    assert code == 1 and len(err) == 1 and str(mesh) in err[0] and "not a Gaussian splat file" in err[0]
    code, err = _error(capsys, ["edit", str(tmp_path / "none.ply"), "--out", str(out)])
    assert code == 2 and len(err) == 1 and "none.ply: no such file" in err[0]
    assert not out.exists()


def test_a_crop_that_removes_everything_is_refused_unless_allowed(src, tmp_path, capsys):
    out = tmp_path / "out.ply"
    away = "--filter-sphere=100,100,100,1"
    code, err = _error(capsys, ["edit", str(src), "--out", str(out), away])
    assert code == 1 and len(err) == 1 and "removes every splat" in err[0] and str(src) in err[0]
    assert not out.exists()
    assert main(["edit", str(src), "--out", str(out), away, "--allow-empty"]) == 0
    assert b"element vertex 0\n" in out.read_bytes()
