"""SPZ: round trips within the stated bounds, the axis convention, files written by independent
code and by the independent splat-transform tool, renders, and bad input."""
from __future__ import annotations

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest
from helpers import (
    ROOT,
    band_errors,
    check_refusal,
    fuzz_reader,
    noise_psnr,
    psnr,
    quat_distance,
    render_views,
    scene,
    splat_transform,
)

from blender_gs_addon.splats import SplatFormatError, read_ply, read_splats, write_ply, write_splats
from blender_gs_addon.splats.gltf import BLENDER_TO_GLTF
from blender_gs_addon.splats.sh_rotation import eval_sh_colour
from blender_gs_addon.splats.spz import BLENDER_TO_SPZ, SPZ_TO_BLENDER, error_bounds, read_spz, write_spz
from blender_gs_addon.splats.transform import bake_transform

F32 = 1e-6  # float32 rounding on top of a quantisation bound


def check_within_bounds(back, ref, bounds, sh_bound, axes_turned=False):
    """Every field of ``back`` within the stated error of ``ref`` (both in the same axes)."""
    assert len(back) == len(ref) and back.sh_degree == ref.sh_degree
    assert np.abs(back.means - ref.means).max() <= bounds["position"] + F32
    assert np.abs(back.alphas() - ref.alphas()).max() <= bounds["alpha"] + F32
    assert np.abs(back.sh_dc - ref.sh_dc).max() <= bounds["f_dc"] + F32
    assert np.abs(back.scales_log - ref.scales_log).max() <= bounds["log_scale"] + F32
    assert quat_distance(back.quats, ref.quats).max() <= bounds["quaternion"] + F32
    if back.sh_degree:
        if axes_turned:  # the turn mixes each band: the bound holds for the band's root-sum-square
            errs = band_errors(back.sh_rest, ref.sh_rest)
            limits = [np.sqrt(2 * band + 1) * sh_bound[min(band, 2) - 1] for band in range(1, back.sh_degree + 1)]
            assert all(e <= lim + F32 for e, lim in zip(errs, limits)), (errs, limits)
        else:
            assert np.abs(back.sh_rest[:, :3] - ref.sh_rest[:, :3]).max() <= sh_bound[0] + F32
            assert np.abs(back.sh_rest[:, 3:] - ref.sh_rest[:, 3:]).max(initial=0) <= sh_bound[1] + F32


OUR_SH = (8 / 256, 16 / 256)  # this writer rounds to the nearest bucket once: bucket / 256
# spz.error_bounds() of the defaults, pinned as numbers so that loosening it cannot loosen the test: half a
# step of 12 fractional bits, of an alpha byte, of a colour byte (0.15 f_dc a unit), of a log-scale 16th;
# rotations: components off by sqrt(1/2)/1022 each, the derived largest by about 3x that
PINNED_SPZ = {"position": 1.2207e-4, "alpha": 1.9608e-3, "f_dc": 1.3072e-2, "log_scale": 3.125e-2,
              "quaternion": 2.4018e-3, "rotation_angle": 4.8035e-3}


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("degree", [0, 1, 3])
@pytest.mark.parametrize("convert_axes", [True, False])
def test_round_trip_within_stated_bounds(tmp_path, version, degree, convert_axes):
    data = scene(1500, degree, seed=degree)
    path = tmp_path / "x.spz"
    write_spz(path, data, version=version, convert_axes=convert_axes)
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b" if version == 3 else raw[:8] == b"NGSP\x04\0\0\0"
    back = read_spz(path, convert_axes=convert_axes)
    for bounds in (error_bounds(), PINNED_SPZ):
        check_within_bounds(back, data, bounds, OUR_SH, axes_turned=convert_axes and degree > 0)
        angles = 2 * np.arccos(np.clip(1 - quat_distance(back.quats, data.quats) ** 2 / 2, -1, 1))
        assert angles.max() <= bounds["rotation_angle"] + F32


def test_eight_bit_sh_and_more_fractional_bits_tighten_the_error(tmp_path):
    data = scene(800, 2, seed=5)
    path = tmp_path / "fine.spz"
    write_spz(path, data, convert_axes=False, sh_bits=(8, 8), fractional_bits=18)
    back = read_spz(path, convert_axes=False)
    assert np.abs(back.sh_rest - data.sh_rest).max() <= 0.5 / 128 + F32
    assert np.abs(back.means - data.means).max() <= 2.0 ** -19 + F32


def test_large_positions_lower_the_fractional_bits_instead_of_overflowing(tmp_path):
    data = scene(100, 0, seed=2)
    data.means *= 5000  # beyond +-2048, the range of 12 fractional bits
    path = tmp_path / "big.spz"
    write_spz(path, data, convert_axes=False)
    bits = gzip.decompress(path.read_bytes())[13]
    assert 2 ** 23 / 2 ** bits > 5000 and bits < 12
    back = read_spz(path, convert_axes=False)
    assert np.abs(back.means - data.means).max() <= error_bounds(bits)["position"] * (1 + 1e-6)


def test_axes_follow_the_spz_convention(tmp_path):
    """Blender's up (+z) is SPZ's up (+y), Blender's forward (+y) is SPZ's front (-z), and the
    view-dependent colour seen along a Blender direction d is the one seen along the turned d."""
    data = scene(3, 3, seed=1)
    data.means[:] = [(0, 0, 1), (0, 1, 0), (1, 0, 0)]
    data.scales_log[:] = np.log([0.01, 0.01, 0.2])  # every splat long along Blender's z
    data.quats[:] = (1, 0, 0, 0)
    path = tmp_path / "axes.spz"
    write_spz(path, data, sh_bits=(8, 8))
    raw = read_spz(path, convert_axes=False)  # the file's own axes
    np.testing.assert_allclose(raw.means, [(0, 1, 0), (0, 0, -1), (1, 0, 0)], atol=1e-3)
    long_axis = np.array([np.linalg.svd(np.diag(np.exp(s)) @ _rot(q).T)[2][0] for s, q in zip(raw.scales_log,
                                                                                                raw.quats)])
    np.testing.assert_allclose(np.abs(long_axis), np.tile([0, 1, 0], (3, 1)), atol=1e-2)
    dirs = np.random.default_rng(0).normal(size=(3, 3))
    seen = eval_sh_colour(data.sh_dc, data.sh_rest, dirs)
    seen_in_file = eval_sh_colour(raw.sh_dc, raw.sh_rest, dirs @ BLENDER_TO_SPZ[:3, :3].T)
    np.testing.assert_allclose(seen_in_file, seen, atol=0.02)
    np.testing.assert_allclose(SPZ_TO_BLENDER @ BLENDER_TO_SPZ, np.eye(4))


def test_spz_and_gltf_share_one_y_up_turn():
    np.testing.assert_array_equal(BLENDER_TO_SPZ, BLENDER_TO_GLTF)


def test_spz_is_reached_by_its_suffix_with_writer_options(tmp_path):
    data = scene(50, 1)
    write_splats(tmp_path / "x.spz", data, version=4)
    assert (tmp_path / "x.spz").read_bytes()[:5] == b"NGSP\x04"
    check_within_bounds(read_splats(tmp_path / "x.spz"), data, error_bounds(), OUR_SH, axes_turned=True)


def _rot(q):
    from blender_gs_addon.splats.transform import quat_to_matrix

    return quat_to_matrix(q[None])[0]


def test_antialiased_flag_travels_as_the_ply_render_mode_comment(tmp_path):
    data = scene(10, 0)
    data.comments = ["SplatRenderMode: mip"]
    write_spz(tmp_path / "aa.spz", data)
    assert gzip.decompress((tmp_path / "aa.spz").read_bytes())[14] & 1
    back = read_spz(tmp_path / "aa.spz")
    assert back.comments == ["SplatRenderMode: mip"]
    write_spz(tmp_path / "plain.spz", scene(10, 0))
    assert not gzip.decompress((tmp_path / "plain.spz").read_bytes())[14] & 1


# ----------------------------------------------------------------------------- files written by independent code

def spz_header(version, count, degree, bits=12, flags=0):
    return struct.pack("<IIIBBBB", 0x5053474E, version, count, degree, bits, flags, 0)


def hand_written_arrays(version):
    """Two splats, bytes chosen by hand from the format description, and what they mean."""
    pos = b"".join(struct.pack("<i", v)[:3] for v in (6144, -2048, 1, 0, 0, -4096))  # 1.5 -0.5 1/4096 | 0 0 -1
    alphas = bytes([255, 51])  # alpha 1 (clamped), 0.2
    colors = bytes([128, 0, 255, 166, 166, 166])  # f_dc (128/255-0.5)/0.15 ...
    scales = bytes([160, 96, 0, 176, 176, 176])  # log s = 0, -4, -10 | 1
    if version == 2:
        rots = bytes([128, 128, 128, 255, 128, 128])  # ~identity | x ~ 1
    else:
        # identity: largest w (index 3), others 0; a quarter turn about z: z = w = sqrt(1/2):
        # largest index 2 (z), stored x=0 y=0 w=+511 (w positive)
        rots = struct.pack("<II", 3 << 30, (2 << 30) | 511)
    sh = bytes([128 + 64, 128, 128 - 64] + [128] * 6 + [0, 255, 128] + [128] * 6)  # degree 1: 0.5, 0, -0.5, ...
    arrays = [pos, alphas, colors, scales, rots, sh]
    expected = {
        "means": [(1.5, -0.5, 1 / 4096), (0, 0, -1)],
        "alpha": [1.0, 0.2],
        "f_dc": [((128 / 255 - 0.5) / 0.15, (0 - 0.5) / 0.15, (1 - 0.5) / 0.15), ((166 / 255 - 0.5) / 0.15,) * 3],
        "log_scale": [(0, -4, -10), (1, 1, 1)],
        "sh0": [(0.5, 0, -0.5), (-1, 127 / 128, 0)],
    }
    return arrays, expected


@pytest.mark.parametrize("version", [2, 3, 4])
def test_files_written_by_independent_code(tmp_path, version):
    zstandard = pytest.importorskip("zstandard") if version == 4 else None
    arrays, want = hand_written_arrays(version)
    path = tmp_path / f"v{version}.spz"
    if version == 4:
        packed = [zstandard.ZstdCompressor(level=3).compress(a) for a in arrays]
        head = struct.pack("<IIIBBBBI12x", 0x5053474E, 4, 2, 1, 12, 0, 6, 32)
        toc = b"".join(struct.pack("<QQ", len(p), len(a)) for p, a in zip(packed, arrays))
        path.write_bytes(head + toc + b"".join(packed))
    else:
        path.write_bytes(gzip.compress(spz_header(version, 2, 1) + b"".join(arrays)))
    d = read_spz(path, convert_axes=False)
    np.testing.assert_allclose(d.means, want["means"], atol=1e-7)
    np.testing.assert_allclose(d.alphas(), want["alpha"], atol=2e-4)
    np.testing.assert_allclose(d.sh_dc, want["f_dc"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d.scales_log, want["log_scale"], atol=1e-6)
    np.testing.assert_allclose(d.sh_rest[:, 0], want["sh0"], atol=1e-6)
    q = d.unit_quats()
    if version == 2:
        np.testing.assert_allclose(q[0], (1, 0, 0, 0), atol=1e-2)
        np.testing.assert_allclose(np.abs(q[1]), (0, 1, 0, 0), atol=1e-2)
    else:
        np.testing.assert_allclose(q[0], (1, 0, 0, 0), atol=1e-7)
        np.testing.assert_allclose(q[1], (np.sqrt(0.5), 0, 0, np.sqrt(0.5)), atol=1e-6)


def test_sh_range_extension_record_is_applied(tmp_path):
    arrays, _ = hand_written_arrays(3)
    record = struct.pack("<IBBff", 0xADBE0001, 8, 8, -2.0, 2.0)
    path = tmp_path / "ext.spz"
    path.write_bytes(gzip.compress(spz_header(3, 2, 1, flags=2) + record + b"".join(arrays)))
    d = read_spz(path, convert_axes=False)
    np.testing.assert_allclose(d.sh_rest[0, 0], [-2 + 192 / 255 * 4, -2 + 128 / 255 * 4, -2 + 64 / 255 * 4], atol=1e-6)


# ----------------------------------------------------------------------------- against splat-transform

@pytest.mark.parametrize("version", [3, 4])
def test_our_files_are_read_by_splat_transform_within_bounds(tmp_path, version):
    data = scene(3000, 3, seed=11)
    ours = tmp_path / "ours.spz"
    write_spz(ours, data, version=version)
    splat_transform(ours, tmp_path / "theirs.ply")
    theirs = read_ply(tmp_path / "theirs.ply")
    # that tool keeps the file's own axes, so compare with the data turned into SPZ's axes
    check_within_bounds(theirs, bake_transform(data, BLENDER_TO_SPZ), error_bounds(), OUR_SH)


@pytest.mark.parametrize("version", [3, 4])
def test_splat_transform_files_import_within_bounds(tmp_path, version):
    data = scene(3000, 3, seed=12)
    write_ply(tmp_path / "src.ply", data)
    splat_transform("--spz-version", version, tmp_path / "src.ply", tmp_path / "theirs.spz")
    assert (tmp_path / "theirs.spz").read_bytes()[:2] == (b"\x1f\x8b" if version == 3 else b"NG")
    bounds = error_bounds()
    raw = read_spz(tmp_path / "theirs.spz", convert_axes=False)  # it stores the PLY's axes unchanged
    check_within_bounds(raw, data, bounds, (bounds["sh_band1"], bounds["sh_higher"]))
    turned = read_spz(tmp_path / "theirs.spz")
    np.testing.assert_allclose(turned.means, raw.means @ SPZ_TO_BLENDER[:3, :3].T)


def test_renders_of_decoded_files_match_the_original(tmp_path):
    """Our file read back, and the tool's file of the same splats, render like the original."""
    data = scene(4000, 3, seed=13, sh_scale=0.15)
    data.scales_log -= 1.0  # smaller splats: a scene with structure rather than one blur
    write_ply(tmp_path / "src.ply", data)
    write_spz(tmp_path / "ours.spz", data)
    splat_transform(tmp_path / "src.ply", tmp_path / "theirs.spz")
    reference = render_views(data)
    threshold = noise_psnr(1 / 38.25, [8 / 128, 16 / 128, 16 / 128], 1 / 16, 1 / 255)
    for decoded in (read_spz(tmp_path / "ours.spz"), read_spz(tmp_path / "theirs.spz", convert_axes=False)):
        assert psnr(render_views(decoded), reference) > threshold
    assert reference.std() > 0.05  # the views show structure, not an empty frame


# ----------------------------------------------------------------------------- bad input

def v4_file(arrays, count=2, degree=1, streams=6, toc=32, sizes=None, packed=None):
    zstandard = pytest.importorskip("zstandard")
    packed = packed or [zstandard.ZstdCompressor().compress(a) for a in arrays]
    sizes = sizes or [len(a) for a in arrays]
    head = struct.pack("<IIIBBBBI12x", 0x5053474E, 4, count, degree, 12, 0, streams, toc)
    return head + b"".join(struct.pack("<QQ", len(p), s) for p, s in zip(packed, sizes)) + b"".join(packed)


def malformed_corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, a phrase the error must contain)."""
    arrays, _ = hand_written_arrays(3)
    body = b"".join(arrays)
    good = spz_header(3, 2, 1) + body
    return {
        "empty": (b"", "empty"),
        "garbage": (bytes(range(256)) * 4, "not an SPZ file"),
        "bad_gzip": (b"\x1f\x8b\x08\x00" + bytes(range(60)), "bad gzip data"),
        "truncated_gzip": (gzip.compress(good)[:40], "truncated"),
        "short_header": (gzip.compress(good[:10]), "inside the 16-byte SPZ header"),
        "wrong_magic": (gzip.compress(b"XXXX" + good[4:]), "magic number"),
        "version_1": (gzip.compress(spz_header(1, 2, 1) + body), "unsupported SPZ version 1"),
        "version_9": (gzip.compress(spz_header(9, 2, 1) + body), "unsupported SPZ version 9"),
        "version_4_in_gzip": (gzip.compress(spz_header(4, 2, 1) + body), "unsupported SPZ version 4"),
        "sh_degree_4": (gzip.compress(spz_header(3, 2, 4) + body), "SH degree 4"),
        "zero_splats": (gzip.compress(spz_header(3, 0, 1)), "no splats"),
        "count_too_large": (gzip.compress(spz_header(3, 1000, 1) + body), "1000 splats"),
        "count_too_small": (gzip.compress(spz_header(3, 1, 1) + body), "wrong splat count"),
        "v4_header_only": (v4_file(arrays)[:20], "truncated"),
        "v4_toc_outside": (v4_file(arrays, toc=4000), "outside the file"),
        "v4_toc_inside_header": (v4_file(arrays, toc=8), "outside the file"),
        "v4_wrong_stream_count": (v4_file(arrays, streams=5), "5 streams"),
        "v4_wrong_sizes": (v4_file(arrays, sizes=[9, 1, 3, 3, 4, 9]), "2 splats need 18"),
        "v4_bad_zstd": (v4_file(arrays, packed=[b"\x28\xb5\x2f\xfd" + bytes(20)] * 6), "bad zstd data"),
        "v4_truncated": (v4_file(arrays)[:-7], "truncated"),
        "v4_version_3": (v4_file(arrays).replace(b"NGSP\x04", b"NGSP\x03", 1), "unsupported SPZ version 3"),
        # counts far beyond the data: refused from the data's real size, nothing of the claimed size allocated
        "v4_count_beyond_data": (v4_file(arrays, count=2 ** 32 - 1, sizes=[9 * (2 ** 32 - 1)] + [1] * 5),
                                 "decompresses to 18 bytes"),
        "gzip_count_beyond_data": (gzip.compress(spz_header(3, 2 ** 32 - 1, 1) + body), "4294967295 splats"),
    }


@pytest.mark.parametrize("name", sorted(malformed_corpus()))
def test_malformed_files_give_a_clear_error_naming_the_file(tmp_path, name):
    check_refusal(read_spz, tmp_path / f"{name}.spz", *malformed_corpus()[name])


def test_fuzzed_files_give_format_error_or_valid_data(tmp_path):
    """Random byte flips and truncations of v3 and v4 files: never another exception."""
    bases = []
    for version in (3, 4):
        write_spz(tmp_path / "base.spz", scene(12, 1, seed=version), version=version)
        raw = (tmp_path / "base.spz").read_bytes()
        bases.append(("fuzz.spz", raw, min(len(raw), 128)))  # v4 keeps its structure in the first 128 bytes
    fuzz_reader(read_spz, bases, tmp_path, seed=321, max_flips=4, head_share=0.5)


def test_write_refuses_what_spz_cannot_hold(tmp_path):
    with pytest.raises(SplatFormatError, match="version 2 cannot be written"):
        write_spz(tmp_path / "x.spz", scene(5, 0), version=2)
    huge = scene(5, 0)
    huge.means[0, 0] = 1e9
    with pytest.raises(SplatFormatError, match="do not fit"):
        write_spz(tmp_path / "x.spz", huge)
    assert not (tmp_path / "x.spz").exists()


def test_version_4_without_zstandard_says_what_is_missing(tmp_path):
    """The installed extension may lack zstandard: version 3 still works, version 4 names the package."""
    write_spz(tmp_path / "v4.spz", scene(20, 1), version=4)
    code = f"""
import sys
sys.modules["zstandard"] = None  # `import zstandard` now fails as if it were not installed
from blender_gs_addon.splats import SplatFormatError
from blender_gs_addon.splats.spz import read_spz, write_spz
for act in (lambda: read_spz({str(tmp_path / "v4.spz")!r}),
            lambda: write_spz({str(tmp_path / "new.spz")!r}, read_spz({str(tmp_path / "v3.spz")!r}), version=4)):
    try:
        act()
    except SplatFormatError as e:
        print("ERROR:", e)
"""
    write_spz(tmp_path / "v3.spz", scene(20, 1))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT))
    errors = [line for line in out.stdout.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 2, out.stdout + out.stderr
    assert all("'zstandard' is not installed" in e and "version 3" in e for e in errors)
    assert "v4.spz" in errors[0] and "new.spz" in errors[1]
    assert not (tmp_path / "new.spz").exists()
