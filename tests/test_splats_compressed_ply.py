"""Compressed PLY: round trips within the per-chunk bounds, files written by independent code and
by the independent splat-transform tool, renders, and bad input."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from helpers import check_refusal, fuzz_reader, noise_psnr, psnr, quat_distance, render_views, scene, splat_transform

from blender_gs_addon.splats import SH_C0, SplatFormatError, read_ply, read_splats, write_ply, write_splats
from blender_gs_addon.splats.compressed_ply import (
    ROTATION_COMPONENT,
    read_compressed_ply,
    splat_error_bounds,
    write_compressed_ply,
)
from procgen.core.ply import read_ply_elements

F32 = 1e-6  # float32 rounding on top of a quantisation bound


def in_range_scene(n, degree, seed=0):
    data = scene(n, degree, seed=seed)
    # alpha bytes 0 and 255 come back from the other tool's .ply as infinite logits; keep clear of them
    data.opacity_logit[:] = data.opacity_logit.clip(-5, 5)
    return data


def check_within_bounds(back, ref, bounds):
    """Every field of ``back`` within the per-splat bounds of the file it was read from."""
    assert len(back) == len(ref) and back.sh_degree == ref.sh_degree
    assert (np.abs(back.means - ref.means) <= bounds["position"] * (1 + 1e-5) + F32).all()
    assert (np.abs(back.scales_log - ref.scales_log) <= bounds["log_scale"] * (1 + 1e-5) + F32).all()
    assert (np.abs(back.sh_dc - ref.sh_dc) <= bounds["f_dc"] * (1 + 1e-5) + F32).all()
    assert (np.abs(back.alphas() - ref.alphas()) <= bounds["alpha"] + F32).all()
    d = ROTATION_COMPONENT
    derived = 3 * d * (1 + d) / (1 - 3 * d)  # the largest component, as for SPZ's smallest-three rotations
    assert quat_distance(back.quats, ref.quats).max() <= np.sqrt(3 * d * d + derived * derived) + F32
    if back.sh_degree:
        assert np.abs(back.sh_rest - ref.sh_rest).max() <= bounds["sh"][0] + F32


def match_by_position(decoded: np.ndarray, source: np.ndarray) -> np.ndarray:
    """For each decoded position, the index of the nearest source position; must be a permutation."""
    out = np.empty(len(decoded), np.intp)
    for i in range(0, len(decoded), 512):
        d2 = ((decoded[i:i + 512, None, :].astype(np.float64) - source[None]) ** 2).sum(-1)
        out[i:i + 512] = d2.argmin(1)
    assert len(np.unique(out)) == len(out), "two decoded splats matched the same source splat"
    return out


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_within_stated_bounds(tmp_path, degree):
    data = in_range_scene(2000, degree, seed=degree)
    data.comments = ["made by a test"]
    path = tmp_path / "x.compressed.ply"
    write_compressed_ply(path, data, sort=False)
    back = read_compressed_ply(path)
    check_within_bounds(back, data, splat_error_bounds(path))
    # the same, pinned as numbers for these splats (|x| <= 1, log-scales in [-6, -1.5], |f_dc| <= 3),
    # whatever splat_error_bounds says: half a step of 11, 10, 11 bits over a chunk range of at most 2
    # (positions) and 4.5 (log-scales), of a colour byte over at most 6 f_dc, of an alpha byte
    assert (np.abs(back.means - data.means).max(axis=0) <= [4.9e-4, 9.8e-4, 4.9e-4]).all()
    assert (np.abs(back.scales_log - data.scales_log).max(axis=0) <= [1.1e-3, 2.2e-3, 1.1e-3]).all()
    assert np.abs(back.sh_dc - data.sh_dc).max() <= 1.18e-2 and np.abs(back.alphas() - data.alphas()).max() <= 2e-3
    assert back.comments == ["made by a test"]
    elements = read_ply_elements(path)
    assert list(elements) == (["chunk", "vertex", "sh"] if degree else ["chunk", "vertex"])
    # layout: header, 18 floats per chunk of 256, 4 uint32 per splat, one byte per SH coefficient
    header = path.read_bytes().index(b"end_header\n") + len(b"end_header\n")
    k1 = (degree + 1) ** 2 - 1
    assert len(elements["chunk"]) == 8 and path.stat().st_size == header + 8 * 72 + 2000 * (16 + 3 * k1)


def test_morton_sort_keeps_every_splat_and_shrinks_the_error(tmp_path):
    data = in_range_scene(5000, 1, seed=3)
    write_compressed_ply(tmp_path / "sorted.compressed.ply", data)
    write_compressed_ply(tmp_path / "plain.compressed.ply", data, sort=False)
    back = read_compressed_ply(tmp_path / "sorted.compressed.ply")
    order = match_by_position(back.means, data.means)
    check_within_bounds(back, data.subset(order), splat_error_bounds(tmp_path / "sorted.compressed.ply"))
    sorted_err = splat_error_bounds(tmp_path / "sorted.compressed.ply")["position"].mean()
    plain_err = splat_error_bounds(tmp_path / "plain.compressed.ply")["position"].mean()
    # 256 of n evenly spread splats fill 256/n of the volume: a cube with (256/n)^(1/3) of the full
    # range per axis; a Morton block is at most twice as long as that cube on one axis
    assert sorted_err < 2 * (256 / len(data)) ** (1 / 3) * plain_err


def test_reached_by_its_suffix_and_a_compressed_file_named_ply_says_so(tmp_path):
    data = in_range_scene(300, 2)
    write_splats(tmp_path / "a.compressed.ply", data, sort=False)
    path = tmp_path / "a.compressed.ply"
    check_within_bounds(read_splats(path), data, splat_error_bounds(path))
    (tmp_path / "b.ply").write_bytes((tmp_path / "a.compressed.ply").read_bytes())
    with pytest.raises(SplatFormatError, match=r"suffix \.compressed\.ply"):
        read_splats(tmp_path / "b.ply")
    write_ply(tmp_path / "plain.compressed.ply", data)  # an uncompressed file with this suffix still reads
    np.testing.assert_array_equal(read_splats(tmp_path / "plain.compressed.ply").means, data.means)


# ----------------------------------------------------------------------------- files written by independent code

CHUNK_PROPS = ["min_x", "min_y", "min_z", "max_x", "max_y", "max_z", "min_scale_x", "min_scale_y", "min_scale_z",
               "max_scale_x", "max_scale_y", "max_scale_z", "min_r", "min_g", "min_b", "max_r", "max_g", "max_b"]


def independent_file(chunk_values, vertices, sh_rows=None, chunk_props=CHUNK_PROPS):
    """A compressed PLY written with struct, record by record."""
    head = ["ply", "format binary_little_endian 1.0", f"element chunk {len(chunk_values)}"]
    head += [f"property float {p}" for p in chunk_props]
    head += [f"element vertex {len(vertices)}"] + [f"property uint packed_{k}" for k in
                                                    ("position", "rotation", "scale", "color")]
    if sh_rows:
        head += [f"element sh {len(sh_rows)}"] + [f"property uchar f_rest_{i}" for i in range(len(sh_rows[0]))]
    body = b"".join(struct.pack(f"<{len(chunk_props)}f", *c) for c in chunk_values)
    body += b"".join(struct.pack("<4I", *v) for v in vertices)
    body += b"".join(bytes(r) for r in sh_rows or [])
    return ("\n".join(head + ["end_header"]) + "\n").encode() + body


def test_file_written_by_independent_code(tmp_path):
    # one chunk: x in 0..2, y in -1..1, z in 10..12; log scales -5..-1; colour 0.2..0.8
    chunk = [0, -1, 10, 2, 1, 12, -5, -5, -5, -1, -1, -1, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8]
    position = (2047 << 21) | (0 << 11) | 1023  # x = max, y = min, z = middle (1023/2047)
    rotation = (0 << 30) | (511 << 20) | (511 << 10) | 511  # largest w; x, y, z ~ 0: identity
    turn = (3 << 30) | (1023 << 20) | (511 << 10) | 511  # largest z, w = max: a half-turn-ish about z
    scale = (1023 << 21) | (1023 << 11) | 2047
    color = (255 << 24) | (0 << 16) | (128 << 8) | 51  # r max, g min, b mid; alpha 0.2
    sh = [[0, 255, 128, 64, 1, 254, 128, 128, 128]]  # degree 1, grouped per channel
    path = tmp_path / "ind.compressed.ply"
    path.write_bytes(independent_file([chunk], [(position, rotation, scale, color), (position, turn, scale, color)],
                                      sh * 2))
    d = read_compressed_ply(path)
    np.testing.assert_allclose(d.means[0], [2, -1, 10 + 2 * 1023 / 2047], atol=1e-6)
    np.testing.assert_allclose(d.scales_log[0], [-5 + 4 * 1023 / 2047, -5 + 4 * 1023 / 1023, -1], atol=1e-6)
    np.testing.assert_allclose(d.colors()[0], [0.8, 0.2, 0.2 + 0.6 * 128 / 255], atol=1e-6)
    np.testing.assert_allclose(d.alphas()[0], 0.2, atol=1e-6)
    np.testing.assert_allclose(d.unit_quats()[0], [1, 0, 0, 0], atol=2e-3)
    w = (1 - 0.5) * np.sqrt(2)  # the stored w at its maximum: 1/sqrt(2)
    np.testing.assert_allclose(d.unit_quats()[1], [w, 0, 0, np.sqrt(1 - w * w)], atol=2e-3)
    # f_rest_0..2 are red's three coefficients, then green's, then blue's
    np.testing.assert_allclose(d.sh_rest[0, :, 0], [-4, 4, 0.5 / 256 * 8], atol=1e-6)
    np.testing.assert_allclose(d.sh_rest[0, 0, 1], (64.5 / 256 - 0.5) * 8, atol=1e-6)


def test_older_files_without_colour_ranges(tmp_path):
    path = tmp_path / "old.compressed.ply"
    color = (255 << 24) | (0 << 16) | (51 << 8) | 255
    path.write_bytes(independent_file([[0, 0, 0, 1, 1, 1, -3, -3, -3, -2, -2, -2]], [(0, 0, 0, color)],
                                      chunk_props=CHUNK_PROPS[:12]))
    d = read_compressed_ply(path)
    np.testing.assert_allclose(d.colors()[0], [1, 0, 0.2], atol=1e-6)
    assert np.isfinite(d.opacity_logit).all() and d.alphas()[0] > 0.999


# ----------------------------------------------------------------------------- against splat-transform

def test_our_file_is_read_by_splat_transform_within_bounds(tmp_path):
    data = in_range_scene(3000, 3, seed=21)
    write_compressed_ply(tmp_path / "ours.compressed.ply", data, sort=False)
    splat_transform(tmp_path / "ours.compressed.ply", tmp_path / "theirs.ply")
    check_within_bounds(read_ply(tmp_path / "theirs.ply"), data, splat_error_bounds(tmp_path / "ours.compressed.ply"))


def test_splat_transform_file_imports_within_bounds(tmp_path):
    data = in_range_scene(3000, 3, seed=22)
    write_ply(tmp_path / "src.ply", data)
    splat_transform(tmp_path / "src.ply", tmp_path / "theirs.compressed.ply")
    back = read_compressed_ply(tmp_path / "theirs.compressed.ply")
    order = match_by_position(back.means, data.means)  # that tool sorts the splats too
    check_within_bounds(back, data.subset(order), splat_error_bounds(tmp_path / "theirs.compressed.ply"))


def test_renders_of_decoded_files_match_the_original(tmp_path):
    data = in_range_scene(4000, 3, seed=23)
    data.sh_rest *= 0.5
    data.scales_log -= 1.0
    write_ply(tmp_path / "src.ply", data)
    write_compressed_ply(tmp_path / "ours.compressed.ply", data)
    splat_transform(tmp_path / "src.ply", tmp_path / "theirs.compressed.ply")
    reference = render_views(data)
    assert reference.std() > 0.05
    for path in (tmp_path / "ours.compressed.ply", tmp_path / "theirs.compressed.ply"):
        b = splat_error_bounds(path)
        rms = lambda x: float(np.sqrt(np.mean(np.square(2 * x))))  # noqa: E731  (a step is twice the bound)
        threshold = noise_psnr(rms(b["f_dc"]), [rms(b["sh"])] * 3, rms(b["log_scale"]), 1 / 255)
        assert psnr(render_views(read_compressed_ply(path)), reference) > threshold


# ----------------------------------------------------------------------------- bad input

GOOD_CHUNK = [[0, 0, 0, 1, 1, 1, -3, -3, -3, -2, -2, -2, 0, 0, 0, 1, 1, 1]]


def malformed_corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, a phrase the error must contain)."""
    good = independent_file(GOOD_CHUNK, [(1, 2, 3, 4)] * 3)
    return {
        "empty": (b"", "empty"),
        "garbage": (bytes(range(256)) * 4, "not a PLY file"),
        "no_chunk": (good.replace(b"element chunk", b"element block"), "no 'chunk' element"),
        "missing_packed": (good.replace(b"packed_scale", b"packed_other"), "lacks packed_scale"),
        "float_packed": (good.replace(b"uint packed_color", b"float packed_color"), "wrong type"),
        "missing_range": (good.replace(b"max_scale_z", b"max_scale_w"), "lacks max_scale_z"),
        "truncated": (good[:-5], "truncated"),
        "zero_splats": (independent_file(GOOD_CHUNK, []), "no splats"),
        "too_few_chunks": (independent_file([], [(1, 2, 3, 4)]), "cannot cover 1 splats"),
        "nan_range": (independent_file([[np.nan] + GOOD_CHUNK[0][1:]], [(1, 2, 3, 4)]), "NaN"),
        "sh_count": (independent_file(GOOD_CHUNK, [(1, 2, 3, 4)], [[1] * 7]), "7 properties"),
        "sh_rows": (independent_file(GOOD_CHUNK, [(1, 2, 3, 4)] * 2, [[1] * 9]), "1 records for 2 splats"),
        "too_many_records": (good + bytes(16), "more"),
    }


@pytest.mark.parametrize("name", sorted(malformed_corpus()))
def test_malformed_files_give_a_clear_error_naming_the_file(tmp_path, name):
    check_refusal(read_splats, tmp_path / f"{name}.compressed.ply", *malformed_corpus()[name])


def test_fuzzed_files_give_format_error_or_valid_data(tmp_path):
    """Random byte flips (biased towards the header) and truncations: never another exception."""
    write_compressed_ply(tmp_path / "base.compressed.ply", in_range_scene(300, 1))
    base = (tmp_path / "base.compressed.ply").read_bytes()
    header_end = base.find(b"end_header") + 11
    fuzz_reader(read_compressed_ply, [("fuzz.compressed.ply", base, header_end)], tmp_path, seed=77)


def test_colour_round_trip_uses_sh_c0(tmp_path):
    """The stored colour is 0.5 + C0 f_dc (not SPZ's 0.15 scale): a grey f_dc of 0 stays 0."""
    data = in_range_scene(256, 0)
    data.sh_dc[:] = 0
    data.sh_dc[0] = (1 / SH_C0 * 0.3, 0, -1 / SH_C0 * 0.3)
    write_compressed_ply(tmp_path / "c.compressed.ply", data, sort=False)
    back = read_compressed_ply(tmp_path / "c.compressed.ply")
    np.testing.assert_allclose(back.colors()[0], [0.8, 0.5, 0.2], atol=0.6 / 255)
    np.testing.assert_allclose(back.sh_dc[1:], 0, atol=0.6 / 255 / SH_C0)
