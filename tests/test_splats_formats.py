"""The table of splat file formats: lookup by suffix, and reading/writing through it."""
from __future__ import annotations

import numpy as np
import pytest

from blender_gs_addon.splats import SplatData, SplatFormatError, io


def _data(n: int = 5) -> SplatData:
    rng = np.random.default_rng(3)
    d = SplatData.empty_like_degree(n, 1)
    d.means[:] = rng.normal(size=(n, 3))
    d.sh_dc[:] = rng.normal(size=(n, 3))
    return d


def test_every_entry_is_keyed_by_its_lower_case_suffix_and_has_a_description():
    assert io.FORMATS, "the table is empty"
    for suffix, fmt in io.FORMATS.items():
        assert fmt.suffix == suffix == suffix.lower() and suffix.startswith(".")
        assert fmt.description and "\n" not in fmt.description
        assert callable(fmt._function(fmt.reader)) and callable(fmt._function(fmt.writer))


def test_longest_suffix_wins(monkeypatch):
    double = io.SplatFileFormat(".double.ply", "test entry", "ply", "read_ply", "write_ply")
    monkeypatch.setitem(io.FORMATS, double.suffix, double)
    assert io.format_for("a/b/scene.double.ply") is double
    assert io.format_for("a/b/SCENE.DOUBLE.PLY") is double
    assert io.format_for("a/b/scene.ply").suffix == ".ply"
    assert io.format_for("a/b/double.ply").suffix == ".ply"  # the whole name is not a suffix


def test_unknown_suffix_names_the_file_and_the_known_ones(tmp_path):
    with pytest.raises(SplatFormatError) as err:
        io.read_splats(tmp_path / "x.obj")
    assert "x.obj" in str(err.value) and "'.obj'" in str(err.value)
    for suffix in io.FORMATS:
        assert suffix in str(err.value)


@pytest.mark.parametrize("suffix", [".ply", ".splat"])
def test_read_and_write_by_suffix(tmp_path, suffix):
    data = _data()
    path = tmp_path / f"s{suffix}"
    io.write_splats(path, data)
    back = io.read_splats(path)
    assert len(back) == len(data)
    np.testing.assert_array_equal(back.means, data.means)
