"""Values a format cannot hold are clamped with a warning that counts them, never written as a file
that cannot be read back."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import random_splats

from blender_gs_addon.splats import io as splat_io
from blender_gs_addon.splats.data import LOG_SCALE_RANGE, SplatValueWarning


@pytest.mark.parametrize("suffix", [".splat", ".glb", ".ply"])
def test_log_scales_beyond_float32_are_clamped_and_counted(tmp_path, suffix):
    data = random_splats(50, 0, seed=3)
    data.scales_log[0, 0] = 200.0  # exp(200) overflows float32
    data.scales_log[1, 2] = -200.0  # exp(-200) underflows to 0
    path = tmp_path / f"s{suffix}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SplatValueWarning)
        splat_io.write_splats(path, data)
    back = splat_io.read_splats(path)  # readable: no inf, no zero scale
    linear = np.exp(back.scales_log.astype(np.float64))
    assert np.isfinite(back.scales_log).all() and (linear > 0).all()
    if suffix == ".ply":  # the PLY holds log-scales themselves: nothing to clamp, lossless
        assert not caught and back.scales_log[0, 0] == 200.0
        return
    assert len(caught) == 1 and "2 log-scale values" in str(caught[0].message)
    lo, hi = LOG_SCALE_RANGE
    assert back.scales_log[0, 0] == pytest.approx(hi, abs=1e-3) and back.scales_log[1, 2] == pytest.approx(lo, abs=1e-3)


def _ascii_ply(path, rows: list[str], count: int, extra_props: str = "") -> None:
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
             "rot_0", "rot_1", "rot_2", "rot_3"]
    header = ["ply", "format ascii 1.0", f"element vertex {count}"] + [f"property float {n}" for n in names]
    path.write_text("\n".join(header + ([extra_props] if extra_props else []) + ["end_header"] + rows) + "\n")


ROW = "0 0 0 0.1 0.2 0.3 0.5 -1 -1 -1 1 0 0 0"


def test_a_header_count_smaller_than_the_data_is_refused(tmp_path):
    data = random_splats(10, 1, seed=2)
    path = tmp_path / "s.ply"
    splat_io.write_splats(path, data)
    raw = path.read_bytes()
    short = raw.replace(b"element vertex 10\n", b"element vertex 9\n")
    path.write_bytes(short)
    with pytest.raises(splat_io.SplatFormatError, match=r"s\.ply.*room for 1 more"):
        splat_io.read_splats(path)
    _ascii_ply(tmp_path / "a.ply", [ROW, ROW, ROW], count=2)
    with pytest.raises(splat_io.SplatFormatError, match=r"a\.ply.*1 more lines"):
        splat_io.read_splats(tmp_path / "a.ply")


def test_an_ascii_integer_out_of_its_type_is_refused_not_wrapped(tmp_path):
    _ascii_ply(tmp_path / "u.ply", [ROW + " 300.7"], count=1, extra_props="property uchar red")
    with pytest.raises(splat_io.SplatFormatError, match=r"u\.ply.*'red' is 300\.7.*0\.\.255"):
        splat_io.read_splats(tmp_path / "u.ply")
    _ascii_ply(tmp_path / "ok.ply", [ROW + " 255"], count=1, extra_props="property uchar red")
    assert len(splat_io.read_splats(tmp_path / "ok.ply")) == 1


def test_a_ply_named_splat_says_what_it_is(tmp_path):
    path = tmp_path / "really_a.splat"
    _ascii_ply(path, [ROW] * 2, count=2)
    with pytest.raises(splat_io.SplatFormatError, match=r"really_a\.splat.*PLY file, not a \.splat"):
        splat_io.read_splats(path)
