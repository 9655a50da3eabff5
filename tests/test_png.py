"""The PNG reader's row unfiltering against a byte-by-byte reference and files written here.

Every file is encoded in this module from the PNG specification with a chosen filter type per
row (none, sub, up, average, Paeth, or a random mix), for 8- and 16-bit gray, gray+alpha, RGB
and RGBA, widths of one pixel and odd sizes.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from procgen.render.png import _unfilter, read_png

_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)


def reference_unfilter(raw: np.ndarray, h: int, stride: int, bpp: int) -> np.ndarray:
    """Byte-by-byte unfiltering, written straight from the specification."""
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = [0] * stride
    pos = 0
    for y in range(h):
        kind = int(raw[pos])
        line = [int(v) for v in raw[pos + 1 : pos + 1 + stride]]
        pos += 1 + stride
        cur = [0] * stride
        for x in range(stride):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
            cur[x] = (line[x] + pred) % 256
        out[y] = cur
        prev = cur
    return out


def filter_rows(img: np.ndarray, kinds: list[int]) -> bytes:
    """Filtered scanlines of ``img`` ([H, W, C] uint8/uint16) with row filter ``kinds[y]`` on row y."""
    h, w, c = img.shape
    rows = np.ascontiguousarray(img.astype(">u2") if img.dtype == np.uint16 else img)
    rows = rows.view(np.uint8).reshape(h, -1).astype(int)  # [H, stride] bytes
    bpp = rows.shape[1] // w
    out = []
    for y in range(h):
        prev = rows[y - 1] if y else np.zeros_like(rows[0])
        line = [kinds[y]]
        for x in range(rows.shape[1]):
            a = int(rows[y, x - bpp]) if x >= bpp else 0
            b = int(prev[x])
            cc = int(prev[x - bpp]) if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][kinds[y]]
            line.append((int(rows[y, x]) - pred) % 256)
        out.append(bytes(line))
    return b"".join(out)


def encode_filtered_png(img: np.ndarray, kinds: list[int]) -> bytes:
    h, w, c = img.shape
    depth = 16 if img.dtype == np.uint16 else 8

    def chunk(k: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, depth, _COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(filter_rows(img, kinds))) + chunk(b"IEND", b""))


def _image(rng, h: int, w: int, c: int, dtype, smooth: bool) -> np.ndarray:
    top = np.iinfo(dtype).max
    if smooth:  # gradients plus few distinct values: many Paeth ties and small differences
        yy, xx = np.mgrid[0:h, 0:w]
        base = (yy * 37 + xx * 11)[:, :, None] + np.arange(c) * 50
        img = (base + rng.integers(0, 3, size=(h, w, c))) % (top + 1)
    else:  # the whole range, so every sum wraps modulo 256 somewhere
        img = rng.integers(0, top + 1, size=(h, w, c))
    return img.astype(dtype)


SHAPES = [(1, 1), (1, 6), (6, 1), (5, 7), (9, 4)]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("filters", ["none", "sub", "up", "average", "paeth", "mixed"])
def test_reader_undoes_each_row_filter(tmp_path, dtype, channels, filters):
    rng = np.random.default_rng(channels * 10 + (dtype == np.uint16))
    for h, w in SHAPES:
        for smooth in (False, True):
            img = _image(rng, h, w, channels, dtype, smooth)
            if filters == "mixed":
                kinds = rng.integers(0, 5, size=h).tolist()
            else:
                kinds = [["none", "sub", "up", "average", "paeth"].index(filters)] * h
            path = tmp_path / f"{h}x{w}_{smooth}.png"
            path.write_bytes(encode_filtered_png(img, kinds))
            back = read_png(path)
            assert back.dtype == dtype
            assert np.array_equal(back, img if channels > 1 else img[:, :, 0]), (h, w, smooth, kinds)


@pytest.mark.parametrize("bpp", [1, 2, 3, 4, 6, 8])
def test_unfilter_matches_reference_on_random_bytes(bpp):
    """Any filtered bytes (not only those of an encoder) unfilter like the reference."""
    rng = np.random.default_rng(bpp)
    for h, w in [(1, 1), (3, 1), (1, 5), (17, 11), (8, 23)]:
        stride = w * bpp
        raw = rng.integers(0, 256, size=(h, 1 + stride), dtype=np.uint8)
        raw[:, 0] = rng.integers(0, 5, size=h)
        raw = raw.reshape(-1)
        assert np.array_equal(_unfilter(raw, h, stride, bpp), reference_unfilter(raw, h, stride, bpp))


def test_unfilter_rejects_unknown_filter_type():
    raw = np.array([0, 1, 2, 5, 3, 4], dtype=np.uint8)  # second row has filter type 5
    with pytest.raises(ValueError, match="filter 5"):
        _unfilter(raw, 2, 2, 1)
