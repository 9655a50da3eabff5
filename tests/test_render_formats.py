"""File formats of the renderer without Blender: PNG, PLY, COLMAP poses, split, voxel grid."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from procgen.render import initial_points, layout
from procgen.render.png import encode_png, read_png, write_png


@pytest.mark.parametrize("shape,dtype", [((5, 7), np.uint16), ((5, 7, 3), np.uint8), ((4, 3, 4), np.uint8),
                                         ((3, 6, 3), np.uint16), ((1, 1), np.uint8)])
def test_png_round_trip(tmp_path, shape, dtype):
    rng = np.random.default_rng(0)
    img = rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    write_png(tmp_path / "a.png", img)
    back = read_png(tmp_path / "a.png")
    assert back.dtype == dtype and np.array_equal(back, img)


def _filtered_png(img: np.ndarray, kind: int) -> bytes:
    """An 8-bit RGB PNG whose rows all use row filter ``kind`` (written here from the PNG spec)."""
    h, w, c = img.shape
    rows = img.reshape(h, w * c).astype(int)
    out = []
    for y in range(h):
        prev = rows[y - 1] if y else np.zeros(w * c, int)
        line = []
        for x in range(w * c):
            a = rows[y, x - c] if x >= c else 0
            b = prev[x]
            cc = prev[x - c] if x >= c else 0
            p = a + b - cc
            pb_or_c = b if abs(p - b) <= abs(p - cc) else cc
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - cc) else pb_or_c
            pred = [0, a, b, (a + b) // 2, paeth][kind]
            line.append((rows[y, x] - pred) % 256)
        out.append(bytes([kind] + line))
    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(out))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_png_reader_undoes_every_row_filter(tmp_path, kind):
    img = np.random.default_rng(kind).integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    (tmp_path / "f.png").write_bytes(_filtered_png(img, kind))
    assert np.array_equal(read_png(tmp_path / "f.png"), img)


def test_png_rejects_float_pixels():
    with pytest.raises(TypeError):
        encode_png(np.zeros((2, 2), np.float32))


def test_ply_layout_and_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    p, n = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    c = rng.integers(0, 256, size=(50, 3), dtype=np.uint8)
    initial_points.write_ply(tmp_path / "p.ply", p, c, n)
    blob = (tmp_path / "p.ply").read_bytes()
    header = blob[: blob.index(b"end_header\n")].decode().splitlines()
    assert header[1] == "format binary_little_endian 1.0" and header[2] == "element vertex 50"
    assert header[3:12] == [f"property float {k}" for k in ("x", "y", "z", "nx", "ny", "nz")] + \
        [f"property uchar {k}" for k in ("red", "green", "blue")]
    assert len(blob) == blob.index(b"end_header\n") + 11 + 50 * (6 * 4 + 3)
    v = initial_points.read_ply(tmp_path / "p.ply")
    assert np.allclose(np.stack([v["x"], v["y"], v["z"]], -1), p, atol=1e-6)
    assert np.array_equal(np.stack([v["red"], v["green"], v["blue"]], -1), c)


def test_voxel_downsample_averages_per_cell():
    pts = np.array([[0.1, 0.1, 0.1], [0.3, 0.3, 0.3], [1.5, 0.2, 0.2]])
    cols = np.array([[0, 0, 0], [100, 200, 50], [10, 10, 10]])
    nrm = np.array([[0, 0, 1.0], [0, 0, 1.0], [1.0, 0, 0]])
    p, c, n = initial_points.voxel_downsample(pts, cols, nrm, 1.0)
    assert np.allclose(p, [[0.2, 0.2, 0.2], [1.5, 0.2, 0.2]])
    assert np.array_equal(c, [[50, 100, 25], [10, 10, 10]]) and np.allclose(n, [[0, 0, 1], [1, 0, 0]])
    many = np.random.default_rng(2).uniform(size=(5000, 3))
    assert len(initial_points.voxel_downsample(many, np.zeros_like(many), many,
                                               initial_points.choose_voxel(many, 500))[0]) <= 500
    # a budget of one point ends with one cell; zero is refused instead of searching forever
    one_voxel = initial_points.choose_voxel(many, 1)
    assert len(initial_points.voxel_downsample(many, np.zeros_like(many), many, one_voxel)[0]) == 1
    with pytest.raises(ValueError, match="max_points must be at least 1"):
        initial_points.choose_voxel(many, 0)


def test_split_holds_out_every_eighth_frame():
    names = [f"images/{i:05d}.png" for i in range(20)]
    train, test = layout.split(names)
    assert test == [names[0], names[8], names[16]] and len(train) == 17 and not set(train) & set(test)
    assert layout.split(names[:1]) == (names[:1], [])
