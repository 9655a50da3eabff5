"""Splat file formats without Blender: round trips, files from an independent writer, bad input."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from helpers import (
    SHUFFLED,
    fuzz_reader,
    independent_elements,
    independent_ply,
    malformed_corpus,
    random_splats,
    shuffled_rows,
)

from blender_gs_addon.splats import (
    SH_C0,
    SplatFormatError,
    read_ply,
    read_splat,
    read_splats,
    write_ply,
    write_splat,
    write_splats,
)
from procgen.core.ply import PlyFormatError, read_ply_element, write_ply_columns


def test_round_trip_is_bit_exact(tmp_path):
    for degree in range(4):
        data = random_splats(50, degree, normals=degree % 2 == 0, seed=degree)
        a, b = tmp_path / f"a{degree}.ply", tmp_path / f"b{degree}.ply"
        write_ply(a, data)
        back = read_ply(a)
        assert back.sh_degree == degree
        for name in ("means", "scales_log", "quats", "opacity_logit", "sh_dc", "sh_rest"):
            np.testing.assert_array_equal(getattr(back, name), getattr(data, name))
        write_ply(b, back)
        assert a.read_bytes() == b.read_bytes()


def test_independent_file_imports_with_any_order_and_extras(tmp_path):
    rows = shuffled_rows(20)
    path = tmp_path / "other.ply"
    path.write_bytes(independent_ply(SHUFFLED, rows))
    data = read_ply(path)
    col = {n: np.array([r[i] for r in rows]) for i, (n, _) in enumerate(SHUFFLED)}
    assert len(data) == 20 and data.sh_degree == 1 and data.normals is None
    np.testing.assert_array_equal(data.means, np.stack([col["x"], col["y"], col["z"]], 1).astype(np.float32))
    np.testing.assert_array_equal(data.quats[:, 3], col["rot_3"].astype(np.float32))
    # f_rest is grouped per channel in the file: f_rest_3 is the first coefficient of green
    np.testing.assert_array_equal(data.sh_rest[:, 0, 1], col["f_rest_3"].astype(np.float32))
    np.testing.assert_array_equal(data.sh_rest[:, 2, 2], col["f_rest_8"].astype(np.float32))
    assert list(data.extra) == ["segment", "confidence"]
    assert data.extra["segment"].dtype == np.uint8
    np.testing.assert_array_equal(data.extra["segment"], np.arange(20) % 256)
    out = tmp_path / "again.ply"
    write_ply(out, data)
    assert out.read_bytes() == path.read_bytes()  # same order, types and bytes


@pytest.mark.parametrize("fmt", ["binary_big_endian 1.0", "ascii 1.0"])
def test_big_endian_and_ascii_read_the_same_values(tmp_path, fmt):
    rows = shuffled_rows(5)
    little, other = tmp_path / "le.ply", tmp_path / "other.ply"
    little.write_bytes(independent_ply(SHUFFLED, rows))
    other.write_bytes(independent_ply(SHUFFLED, rows, fmt))
    a, b = read_ply(little), read_ply(other)
    for name in ("means", "scales_log", "quats", "opacity_logit", "sh_dc", "sh_rest"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.extra["segment"], b.extra["segment"])


def test_splat_format_round_trip_within_quantisation(tmp_path):
    data = random_splats(200, 2, seed=3)
    data.sh_dc[:] = np.clip(data.sh_dc, -1.7, 1.7)  # colours inside 0..1 survive 8 bits
    path = tmp_path / "x.splat"
    write_splats(path, data)
    assert path.stat().st_size == 32 * 200
    back = read_splats(path)
    np.testing.assert_array_equal(back.means, data.means)
    np.testing.assert_allclose(back.scales(), data.scales(), rtol=1e-6)
    assert np.abs(back.colors() - data.colors()).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.alphas() - data.alphas()).max() <= 0.5 / 255 + 1e-4
    # quaternion sign is free; compare the rotations up to sign
    dots = np.abs((back.unit_quats() * data.unit_quats()).sum(1))
    assert dots.min() > 0.995
    assert back.sh_degree == 0


def test_splat_file_from_independent_writer(tmp_path):
    rec = struct.Struct("<3f3f4B4B")
    path = tmp_path / "ind.splat"
    path.write_bytes(rec.pack(1, 2, 3, 0.1, 0.2, 0.3, 255, 128, 0, 64, 128, 128, 128, 255))  # 90 deg about z
    d = read_splat(path)
    np.testing.assert_allclose(d.means[0], [1, 2, 3])
    np.testing.assert_allclose(d.scales()[0], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(d.colors()[0], [1.0, 128 / 255, 0.0], atol=1e-6)
    np.testing.assert_allclose(d.alphas()[0], 64 / 255, atol=1e-6)
    np.testing.assert_allclose(d.unit_quats()[0], np.array([0, 0, 0, 127]) / 127, atol=1e-6)
    np.testing.assert_allclose(d.sh_dc[0, 0], (1.0 - 0.5) / SH_C0, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(malformed_corpus()))
def test_malformed_files_give_a_clear_error_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(malformed_corpus()[name])
    with pytest.raises(SplatFormatError) as info:
        read_splats(path)
    assert str(path) in str(info.value)
    assert len(info.value.reason) > 10


def test_a_header_past_the_readers_limit_names_the_limit(tmp_path):
    """1.2 MB of comments before end_header: not "no end_header" but the limit it went past."""
    good = tmp_path / "good.ply"
    write_ply(good, random_splats(3, 0))
    raw = good.read_bytes()
    padded = raw.replace(b"\nelement", b"\n" + b"comment padding padding padding\n" * 40_000 + b"element", 1)
    assert len(padded) > 1_200_000
    (tmp_path / "long.ply").write_bytes(padded)
    with pytest.raises(SplatFormatError, match=r"no 'end_header' line in its first 1024 KiB \(1,048,576 bytes\), "
                                               r"the most this reader takes") as info:
        read_splats(tmp_path / "long.ply")
    assert str(tmp_path / "long.ply") in str(info.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(SplatFormatError, match="cannot read"):
        read_ply(tmp_path / "nope.ply")


def test_nan_error_counts_the_bad_values(tmp_path):
    data = random_splats(10, 1)
    data.sh_rest[3, 1, 2] = np.nan
    data.means[0, 0] = np.inf
    path = tmp_path / "bad.ply"
    write_ply(path, data)
    with pytest.raises(SplatFormatError, match=r"2 values are NaN or infinite"):
        read_ply(path)


def test_fuzzed_files_give_format_error_or_valid_data(tmp_path):
    """Random byte flips and truncations: never an exception other than SplatFormatError."""
    write_ply(tmp_path / "base.ply", random_splats(8, 1))
    write_splat(tmp_path / "base.splat", random_splats(8, 0))
    ply, splat = (tmp_path / "base.ply").read_bytes(), (tmp_path / "base.splat").read_bytes()
    # flips biased towards the PLY header, where they matter most; a .splat file has none
    bases = [("fuzz.splat", splat, 0), ("fuzz.ply", ply, ply.find(b"end_header") + 11)]
    fuzz_reader(read_splats, [bases[0], bases[1], bases[1]], tmp_path, seed=123)


def test_write_is_atomic_and_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "keep.ply"
    write_ply(path, random_splats(4, 0))
    before = path.read_bytes()
    bad = random_splats(4, 0)
    bad.means = bad.means.astype(np.float64)  # invalid data: refused before anything is written
    with pytest.raises(SplatFormatError):
        write_ply(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.ply"]  # no temporary left behind


# ----------------------------------------------------------------------------- any PLY element as columns

MIXED = [("x", "float"), ("count", "int"), ("red", "uchar"), ("depth", "double"), ("label", "ushort")]
MIXED_ROWS = [(0.5, -3, 255, 1e-300, 65535), (-2.25, 7, 0, 3.5, 1), (1e30, 0, 128, -0.0, 300)]


@pytest.mark.parametrize("fmt", ["binary_little_endian 1.0", "binary_big_endian 1.0", "ascii 1.0"])
def test_any_element_reads_into_named_columns(tmp_path, fmt):
    # a camera element before the vertices: its records must be skipped, whatever the format
    cams = ("camera", [("fx", "float"), ("id", "uchar")], [(500.0, 1), (620.5, 2)])
    path = tmp_path / "mixed.ply"
    path.write_bytes(independent_elements([cams, ("vertex", MIXED, MIXED_ROWS)], fmt, comments=["made here"]))
    v = read_ply_element(path)
    assert len(v) == 3 and v.props == MIXED and v.comments == ["made here"]
    for j, (name, _) in enumerate(MIXED):
        np.testing.assert_array_equal(v[name], [np.float32(r[j]) if name == "x" else r[j] for r in MIXED_ROWS])
    assert v["red"].dtype == np.uint8 and v["depth"].dtype == np.float64 and "y" not in v
    c = read_ply_element(path, "camera")
    np.testing.assert_array_equal(c["fx"], [500.0, 620.5])
    with pytest.raises(PlyFormatError, match="no 'face' element"):
        read_ply_element(path, "face")


def test_columns_are_written_as_an_independent_writer_packs_them(tmp_path):
    cols = {name: np.array([r[j] for r in MIXED_ROWS]) for j, (name, _) in enumerate(MIXED)}
    dtypes = {"x": np.float32, "count": np.int32, "red": np.uint8, "label": np.uint16}  # depth: its own float64
    write_ply_columns(tmp_path / "ours.ply", cols, dtypes, comments=["c1"])
    want = independent_elements([("vertex", MIXED, MIXED_ROWS)], comments=["c1"])
    assert (tmp_path / "ours.ply").read_bytes() == want
    with pytest.raises(PlyFormatError, match="differ in length"):
        write_ply_columns(tmp_path / "bad.ply", {"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(PlyFormatError, match="no type"):
        write_ply_columns(tmp_path / "bad.ply", {"flag": np.zeros(2, bool)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.ply"]


def test_list_properties_are_refused_with_the_element_named(tmp_path):
    path = tmp_path / "mesh.ply"
    path.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int vertex_indices\n"
                     b"element vertex 1\nproperty float x\nend_header\n" + b"\3" + b"\0" * 16)
    with pytest.raises(PlyFormatError, match="'face' has a list property 'vertex_indices'"):
        read_ply_element(path)
