"""Tiny PNG writer and reader (numpy + zlib), so no image library is needed.

Writes 8-bit gray/RGB/RGBA and 16-bit gray/RGB; reads any non-interlaced 8/16-bit
gray, gray+alpha, RGB or RGBA PNG (all five row filters). Rows are top-down.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from ..core import atomic

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_CHANNELS = {v: k for k, v in _COLOR_TYPES.items()}


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(image: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of ``image``: [H, W] or [H, W, C] (C in 1..4), dtype uint8 or uint16."""
    arr = np.asarray(image)
    if arr.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"PNG pixels must be uint8 or uint16, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in _COLOR_TYPES:
        raise ValueError(f"PNG image must be [H, W] or [H, W, 1..4], got shape {arr.shape}")
    h, w, c = arr.shape
    bit_depth = 8 if arr.dtype == np.uint8 else 16
    rows = arr.astype(">u2") if bit_depth == 16 else arr
    data = np.ascontiguousarray(rows).view(np.uint8).reshape(h, -1)
    bpp = c * (bit_depth // 8)
    raw = np.empty((h, 1 + data.shape[1]), dtype=np.uint8)
    raw[:, 0] = 1  # filter type "sub" on every row: each byte minus the one a pixel to its left
    raw[:, 1:1 + bpp] = data[:, :bpp]
    raw[:, 1 + bpp:] = data[:, bpp:] - data[:, :-bpp]  # uint8 arithmetic wraps modulo 256
    header = struct.pack(">IIBBBBB", w, h, bit_depth, _COLOR_TYPES[c], 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), compress_level))
        + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike, image: np.ndarray, compress_level: int = 6) -> None:
    """Write ``image`` ([H, W] or [H, W, C], uint8/uint16) to ``path`` atomically."""
    atomic.write_bytes(path, encode_png(image, compress_level))


def _unfilter(raw: np.ndarray, h: int, stride: int, bpp: int) -> np.ndarray:
    """Undo the PNG row filters: ``raw`` [h * (1 + stride)] uint8 -> [h, stride] uint8.

    ``bpp``: bytes per pixel (the left neighbour is ``bpp`` bytes back)."""
    if raw.size < h * (stride + 1):
        raise ValueError("PNG image data is shorter than its header says")
    lines = raw[: h * (stride + 1)].reshape(h, stride + 1)
    kinds = lines[:, 0]  # [h] row filter types
    filt = lines[:, 1:]  # [h, stride]
    if h and int(kinds.max()) > 4:
        raise ValueError(f"bad PNG row filter {int(kinds.max())}")
    w = stride // bpp
    if h == 0 or w == 0:
        return np.zeros((h, stride), np.uint8)
    if np.any(kinds >= 3):  # average / Paeth depend on the left and upper neighbours
        return _unfilter_wavefront(filt, kinds, h, w, bpp)
    out = np.array(filt)
    sub = kinds == 1
    if sub.any():  # left-running sum per byte of the pixel, modulo 256
        out[sub] = np.cumsum(out[sub].reshape(-1, w, bpp), axis=1, dtype=np.uint8).reshape(-1, stride)
    for y in np.flatnonzero(kinds == 2):
        if y > 0:
            out[y] += out[y - 1]  # uint8 addition wraps modulo 256
    return out


def _unfilter_wavefront(filt: np.ndarray, kinds: np.ndarray, h: int, w: int, bpp: int) -> np.ndarray:
    """Unfilter any mix of row filters, one anti-diagonal at a time.

    Pixel (y, x) depends only on (y, x-1), (y-1, x) and (y-1, x-1), so all pixels with the
    same y + x are independent. They are kept skewed: diagonal d is the contiguous array
    ``t[d + 2, 1:]`` indexed by y + 1, so the left neighbour of (y, x) sits in diagonal d-1 at
    y + 1, the upper one in d-1 at y, the upper-left one in d-2 at y. Never written entries
    (row -1, column -1) stay zero, as the filters require. filt [h, w * bpp] -> [h, w * bpp].
    """
    nd = h + w - 1
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")  # [h, w]
    fs = np.zeros((nd, h, bpp), np.uint8)  # filtered bytes, skewed
    fs[ys + xs, ys] = filt.reshape(h, w, bpp)
    t = np.zeros((nd + 2, h + 1, bpp), np.int16)  # unfiltered bytes, skewed, with zero borders
    masks = [(kinds == k)[:, None] for k in range(5)]  # [h, 1] per filter type
    counts = [np.concatenate([[0], np.cumsum(m[:, 0])]).tolist() for m in masks]
    for d in range(nd):
        lo, hi = max(0, d - w + 1), min(h - 1, d) + 1  # rows crossing diagonal d
        a = t[d + 1, lo + 1 : hi + 1]  # left
        b = t[d + 1, lo:hi]  # up
        c = t[d, lo:hi]  # up-left
        pred = None  # None: zero predictor (filter "none")
        for k in (4, 3, 2, 1):
            n = counts[k][hi] - counts[k][lo]
            if n == 0:
                continue
            if k == 4:
                pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - c - c)
                p = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
            elif k == 3:
                p = (a + b) >> 1
            else:
                p = b if k == 2 else a
            if n == hi - lo:
                pred = p
                break
            pred = np.where(masks[k][lo:hi], p, 0 if pred is None else pred)
        cur = fs[d, lo:hi]
        t[d + 2, lo + 1 : hi + 1] = cur if pred is None else (cur + pred) & 0xFF
    return t[ys + xs + 2, ys + 1].astype(np.uint8).reshape(h, w * bpp)


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Pixels of a PNG file: [H, W] for gray, else [H, W, C]; uint8 or uint16."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:8] != _SIGNATURE:
        raise ValueError(f"{os.fspath(path)}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{os.fspath(path)}: PNG without header")
    w, h, bit_depth, color_type, _, _, interlace = header
    if color_type not in _CHANNELS or bit_depth not in (8, 16) or interlace:
        raise ValueError(
            f"{os.fspath(path)}: unsupported PNG (colour type {color_type}, depth {bit_depth}, interlace {interlace})"
        )
    c = _CHANNELS[color_type]
    bpp = c * bit_depth // 8
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    rows = _unfilter(raw, h, w * bpp, bpp)
    pix = rows.view(">u2").astype(np.uint16) if bit_depth == 16 else rows
    pix = pix.reshape(h, w, c)
    return pix[:, :, 0] if c == 1 else pix
