"""Tiny PNG writer and reader (numpy + zlib), so no image library is needed.

Writes 8-bit gray/RGB/RGBA and 16-bit gray/RGB; reads any non-interlaced 8/16-bit
gray, gray+alpha, RGB or RGBA PNG (all five row filters). Rows are top-down.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

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
    raw = np.empty((h, 1 + w * c * (bit_depth // 8)), dtype=np.uint8)
    raw[:, 0] = 0  # filter type "none" on every row
    raw[:, 1:] = np.ascontiguousarray(rows).view(np.uint8).reshape(h, -1)
    header = struct.pack(">IIBBBBB", w, h, bit_depth, _COLOR_TYPES[c], 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), compress_level))
        + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike, image: np.ndarray, compress_level: int = 6) -> None:
    """Write ``image`` ([H, W] or [H, W, C], uint8/uint16) to ``path`` atomically."""
    data = encode_png(image, compress_level)
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _unfilter(raw: np.ndarray, h: int, stride: int, bpp: int) -> np.ndarray:
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    pos = 0
    for y in range(h):
        kind = raw[pos]
        line = raw[pos + 1 : pos + 1 + stride].astype(np.int32)
        pos += 1 + stride
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 0xFF
        else:  # sub, average and Paeth depend on the left neighbour: go byte by byte
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) >> 1
                elif kind == 4:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                else:
                    raise ValueError(f"bad PNG row filter {kind}")
                cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out


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
