"""SPZ, the compressed splat format: read versions 2, 3 and 4, write 3 and 4 (bpy-free).

Layout (little-endian). Versions 2 and 3 are one gzip stream holding a 16-byte header and
then each attribute for all splats in turn: positions, alphas, colours, scales, rotations,
SH. Version 4 has a plain 32-byte header, optional extension records, a table of
(compressed size, size) uint64 pairs at the offset the header gives, and then each
attribute as its own zstd stream, in the same order. Header: magic ``NGSP``, version u32,
splat count u32, SH degree u8, fractional bits u8, flags u8 (1 antialiased, 2 extension
records follow the header), then a reserved byte (v2, v3) or the stream count u8, the
table offset u32 and 12 reserved bytes (v4).

Quantisation of each field and the largest error a file can hold (``ERROR_BOUNDS``; the
tests check every one, on our files and on files written by independent code):

  field      bytes  stored as                                   largest error
  position   3 x 3  signed 24-bit fixed point, f fractional bits 2^-(f+1) per axis (f = 12: 1.2e-4)
  alpha      1      round(255 sigmoid(opacity))                 0.5/255 in sigmoid(opacity)
  colour     3      round(f_dc * 0.15 * 255 + 127.5)            0.5/38.25 = 0.0131 in f_dc (|f_dc| <= 3.33)
  scale      3      round(16 (log s + 10))                      1/32 in log s (log s in [-10, 5.94])
  rotation   4      smallest three components of the unit       6.9e-4 per stored component, 4.8e-3 rad
                    quaternion (sign and 9 bits each) and the   in rotation angle
                    2-bit index of the largest
             (v2: 3 bytes x y z as round(127.5 q + 127.5) with w >= 0 derived: 3.9e-3 per component)
  SH         1 each 128 + 128 c snapped to buckets of           (bucket/2 + 1/2)/128 in c (|c| <= 1):
                    2^(8 - bits); bits 5 for band 1, 4 above    0.035 band 1, 0.066 bands 2-3;
                                                                this writer rounds once: bucket/256
Values outside the ranges are clamped. Normals and extra properties are not stored.

Axes: SPZ holds right-up-back axes (y up). SplatData holds Blender's world (z up), so files
are written with (x, y, z) -> (x, z, -y), a quarter turn about x applied to positions,
rotations and SH bands, and read with the inverse (Blender's own SPZ importer makes the
same splats of a file). ``convert_axes=False`` stores the axes unchanged, as tools that
treat SPZ like a PLY's axes do. The SH bands of a converted file
mix within each band, so their bound holds for the band's root-sum-square error times
sqrt(2l + 1) rather than per coefficient.
"""
from __future__ import annotations

import os
import zlib

import numpy as np

from .data import SplatData
from .errors import SplatFormatError, read_file
from .gzip_parallel import gzip_blocks
from .ply import atomic_write, check_finite
from .transform import bake_transform

MAGIC = 0x5053474E  # b"NGSP" little-endian
FLAG_ANTIALIASED, FLAG_EXTENSIONS = 0x1, 0x2
COLOR_SCALE = 0.15  # f_dc per unit of the colour byte range: wider than SH_C0 so out-of-gamut DC survives
SQRT1_2 = 0.7071067811865476
DEFAULT_FRACTIONAL_BITS = 12  # the usual choice: steps of 1/4096 (0.24 mm), coordinates within +-2048
DEFAULT_SH_BITS = (5, 4)  # (band 1, bands 2-3), the format's customary choice
ALPHA_EPS = 1e-4  # keeps logits finite for alpha bytes 0 and 255 while rounding back to the same byte
MAX_EXTENSION_BYTES = 1 << 20
# deflate level of version 3: at 1M splats of SH degree 3, level 4 wrote in a fifth of level 6's time
# for a file 2.6% larger (level 9 for the smallest file); zstd level of version 4
GZIP_LEVEL, ZSTD_LEVEL = 4, 9

HEADER_V3 = np.dtype([("magic", "<u4"), ("version", "<u4"), ("count", "<u4"), ("sh_degree", "u1"),
                      ("fractional_bits", "u1"), ("flags", "u1"), ("reserved", "u1")])
HEADER_V4 = np.dtype([("magic", "<u4"), ("version", "<u4"), ("count", "<u4"), ("sh_degree", "u1"),
                      ("fractional_bits", "u1"), ("flags", "u1"), ("streams", "u1"), ("toc", "<u4"),
                      ("reserved", "u1", 12)])
STREAMS = ("positions", "alphas", "colors", "scales", "rotations", "sh")

# Blender's world (x right, y forward, z up) -> SPZ's right-up-back axes, and back
BLENDER_TO_SPZ = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], np.float64)
SPZ_TO_BLENDER = BLENDER_TO_SPZ.T.copy()


def error_bounds(fractional_bits: int = DEFAULT_FRACTIONAL_BITS, version: int = 3) -> dict[str, float]:
    """Largest quantisation error of each field of a file (see the module docstring).

    Rotations: each stored component is off by at most ``d``. In version 3 and 4 the
    derived largest component c (>= 1/2) is off by at most 3 d (1 + d) / (1 - 3 d), since
    each stored one is at most c; the unit quaternions then differ by |dq| and the
    rotations by the angle 4 asin(|dq| / 2). In version 2 the derived w is off by at most
    sqrt(e (2 + e)) with e = sqrt(3) d, and is not renormalised (no angle bound stated).
    """
    d = SQRT1_2 / 511 / 2 if version >= 3 else 0.5 / 127.5
    if version >= 3:
        derived = 3 * d * (1 + d) / (1 - 3 * d)
    else:
        e = np.sqrt(3.0) * d
        derived = np.sqrt(e * (2 + e))
    dq = float(np.sqrt(3 * d * d + derived * derived))
    return {
        "position": 2.0 ** -(fractional_bits + 1),
        "alpha": 0.5 / 255,
        "f_dc": 0.5 / (COLOR_SCALE * 255),
        "log_scale": 1 / 32,
        "rotation_component": d,
        "quaternion": dq,
        "rotation_angle": 4 * float(np.arcsin(dq / 2)) if version >= 3 else float("nan"),
        "sh_band1": (2 ** (8 - DEFAULT_SH_BITS[0]) / 2 + 0.5) / 128,
        "sh_higher": (2 ** (8 - DEFAULT_SH_BITS[1]) / 2 + 0.5) / 128,
    }


ERROR_BOUNDS = error_bounds()


def sh_coefficients(degree: int) -> int:
    """SH coefficients per channel beyond the DC term."""
    return (degree + 1) ** 2 - 1


def stream_sizes(count: int, sh_degree: int, version: int) -> dict[str, int]:
    """Bytes of each attribute array for ``count`` splats."""
    return {"positions": 9 * count, "alphas": count, "colors": 3 * count, "scales": 3 * count,
            "rotations": (3 if version == 2 else 4) * count, "sh": 3 * sh_coefficients(sh_degree) * count}


# ----------------------------------------------------------------------------- reading

def read_spz(path: str | os.PathLike, *, convert_axes: bool = True) -> SplatData:
    """Read an SPZ file (version 2, 3 or 4) into SplatData in Blender's axes.

    Raises SplatFormatError naming the file for anything malformed: not SPZ, bad gzip or
    zstd data, truncated streams, counts that disagree, unsupported version or SH degree,
    and a version 4 file where the zstandard package is missing.
    """
    path = os.fspath(path)
    raw = read_file(path)
    if raw[:2] != b"\x1f\x8b" and raw[:4] != b"NGSP":
        raise SplatFormatError(path, "not an SPZ file: neither a gzip stream nor the 'NGSP' header of version 4")
    try:
        header, streams = (_parse_gzip if raw[:2] == b"\x1f\x8b" else _parse_v4)(path, raw)
        data = decode(header, streams)
    except MemoryError:
        raise SplatFormatError(path, "the file claims more splats than fit in memory (a wrong count, or a "
                                     "file too large for this machine)") from None
    check_finite(data, path)
    return bake_transform(data, SPZ_TO_BLENDER) if convert_axes else data


def _check_header(path: str, h: np.void, gzip: bool) -> None:
    if int(h["magic"]) != MAGIC:
        raise SplatFormatError(path, "not an SPZ file: the header's magic number is not 'NGSP'")
    version = int(h["version"])
    if version not in ((2, 3) if gzip else (4,)):
        hint = {2: "a version 2 file must be a gzip stream", 3: "a version 3 file must be a gzip stream",
                4: "a version 4 file must not be gzip-compressed"}.get(version, "this reader knows versions 2, 3 and 4")
        raise SplatFormatError(path, f"unsupported SPZ version {version}: {hint}")
    if int(h["count"]) == 0:
        raise SplatFormatError(path, "the file holds no splats (count 0)")
    if int(h["sh_degree"]) > 3:
        raise SplatFormatError(path, f"SH degree {int(h['sh_degree'])} is not supported (0 to 3)")
    if int(h["fractional_bits"]) > 30:
        raise SplatFormatError(path, f"{int(h['fractional_bits'])} fractional bits for positions is not valid")


def _parse_gzip(path: str, raw: bytes) -> tuple[np.void, dict[str, np.ndarray]]:
    """Versions 2 and 3: the header, then the arrays, in one gzip stream."""
    stream = zlib.decompressobj(31)
    try:
        head = stream.decompress(raw, HEADER_V3.itemsize)
        if len(head) < HEADER_V3.itemsize:
            raise SplatFormatError(path, f"the gzip stream ends after {len(head)} bytes, inside the 16-byte SPZ header")
        h = np.frombuffer(head, HEADER_V3)[0]
        _check_header(path, h, gzip=True)
        sizes = stream_sizes(int(h["count"]), int(h["sh_degree"]), int(h["version"]))
        want = sum(sizes.values())
        extra = MAX_EXTENSION_BYTES if int(h["flags"]) & FLAG_EXTENSIONS else 0
        body = stream.decompress(stream.unconsumed_tail, want + extra + 1)
    except zlib.error as exc:
        raise SplatFormatError(path, f"bad gzip data: {exc}") from None
    if len(body) < want:
        what = "the gzip stream is truncated" if not stream.eof else "the data is shorter than the header says"
        raise SplatFormatError(path, f"{what}: {int(h['count'])} splats of SH degree {int(h['sh_degree'])} need "
                                     f"{want} bytes after the header, found {len(body)}")
    if len(body) > want + extra:
        raise SplatFormatError(path, f"more data than {int(h['count'])} splats of SH degree "
                                     f"{int(h['sh_degree'])} hold: wrong splat count or SH degree")
    view = np.frombuffer(body, np.uint8)
    streams, offset = {"extensions": view[:len(body) - want]}, len(body) - want
    for name in STREAMS:
        streams[name] = view[offset:offset + sizes[name]]
        offset += sizes[name]
    return h, streams


def _parse_v4(path: str, raw: bytes) -> tuple[np.void, dict[str, np.ndarray]]:
    """Version 4: plain header, extension records, table of contents, one zstd stream per attribute."""
    if len(raw) < HEADER_V4.itemsize:
        raise SplatFormatError(path, f"file is truncated: {len(raw)} bytes, shorter than the 32-byte header")
    h = np.frombuffer(raw, HEADER_V4, count=1)[0]
    _check_header(path, h, gzip=False)
    sizes = stream_sizes(int(h["count"]), int(h["sh_degree"]), 4)
    names = [n for n in STREAMS if sizes[n]]
    n, toc = int(h["streams"]), int(h["toc"])
    if n != len(names):
        raise SplatFormatError(path, f"the header lists {n} streams; SH degree {int(h['sh_degree'])} "
                                     f"needs {len(names)}")
    if toc < HEADER_V4.itemsize or toc + 16 * n > len(raw):
        raise SplatFormatError(path, f"the table of streams at byte {toc} lies outside the file ({len(raw)} bytes)")
    table = np.frombuffer(raw, "<u8", count=2 * n, offset=toc).reshape(n, 2)
    offset = toc + 16 * n
    if offset + int(table[:, 0].astype(np.float64).sum()) > len(raw):
        raise SplatFormatError(path, f"file is truncated: its streams need {int(table[:, 0].astype(np.float64).sum())} "
                                     f"bytes after byte {offset}, the file has {len(raw) - offset}")
    decompress = _zstd_decompressor(path)
    streams = {"extensions": np.frombuffer(raw, np.uint8, count=toc - HEADER_V4.itemsize, offset=HEADER_V4.itemsize)}
    for name, (packed, size) in zip(names, table.tolist()):
        if size != sizes[name]:
            raise SplatFormatError(path, f"the {name} stream holds {size} bytes; {int(h['count'])} splats "
                                         f"need {sizes[name]}")
        streams[name] = np.frombuffer(decompress(name, raw[offset:offset + packed], size), np.uint8)
        offset += packed
    streams.setdefault("sh", np.zeros(0, np.uint8))
    return h, streams


def _zstandard(path: str, doing: str):
    try:
        import zstandard
    except ImportError:
        raise SplatFormatError(path, f"SPZ version 4 uses zstd compression and the Python package 'zstandard' is not "
                                     f"installed, so this file cannot be {doing}; install 'zstandard' "
                                     f"(pip install zstandard) or use SPZ version 3 (gzip)") from None
    return zstandard


def _zstd_decompressor(path: str):
    zstandard = _zstandard(path, "read")
    dctx = zstandard.ZstdDecompressor()

    def decompress(name: str, packed: bytes, size: int) -> bytes:
        try:
            out = dctx.decompress(packed, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise SplatFormatError(path, f"bad zstd data in the {name} stream: {exc}") from None
        if len(out) != size:
            raise SplatFormatError(path, f"the {name} stream decompresses to {len(out)} bytes, not {size}")
        return out

    return decompress


# ----------------------------------------------------------------------------- decoding

def decode(h: np.void, streams: dict[str, np.ndarray]) -> SplatData:
    """SplatData (SPZ axes) from a header and the attribute arrays of a file."""
    n, degree, version = int(h["count"]), int(h["sh_degree"]), int(h["version"])
    k1 = sh_coefficients(degree)
    alpha = np.clip(streams["alphas"].astype(np.float64) / 255.0, ALPHA_EPS, 1.0 - ALPHA_EPS)
    rot = streams["rotations"].reshape(n, -1)
    quats = unpack_first_three(rot) if version == 2 else unpack_smallest_three(rot)
    sh_range = sh_range_from_extensions(streams["extensions"]) if int(h["flags"]) & FLAG_EXTENSIONS else None
    return SplatData(
        means=unpack_positions(streams["positions"].reshape(n, 9), int(h["fractional_bits"])),
        scales_log=(streams["scales"].reshape(n, 3).astype(np.float32) / np.float32(16) - np.float32(10)),
        quats=quats,
        opacity_logit=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=((streams["colors"].reshape(n, 3).astype(np.float64) / 255.0 - 0.5) / COLOR_SCALE).astype(np.float32),
        sh_rest=unpack_sh(streams["sh"].reshape(n, k1, 3), sh_range),
        comments=["SplatRenderMode: mip"] if int(h["flags"]) & FLAG_ANTIALIASED else [],
    )


def unpack_positions(b: np.ndarray, fractional_bits: int) -> np.ndarray:
    """[N, 9] bytes of 24-bit little-endian fixed point -> [N, 3] float32."""
    b = b.reshape(-1, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    fixed = (fixed ^ 0x800000) - 0x800000  # sign-extend 24 bits
    return (fixed * 2.0 ** -fractional_bits).astype(np.float32)


def unpack_smallest_three(b: np.ndarray) -> np.ndarray:
    """[N, 4] bytes (2-bit index of the largest, three signed 9-bit magnitudes) -> [N, 4] (w, x, y, z)."""
    comp = np.ascontiguousarray(b).view("<u4")[:, 0]
    largest = (comp >> 30).astype(np.intp)
    fields = np.stack([comp >> 20, comp >> 10, comp], axis=1) & 1023
    vals = (fields & 511) * (SQRT1_2 / 511)
    vals[(fields & 512) != 0] *= -1
    q = np.empty((len(comp), 4), np.float64)  # x, y, z, w
    np.put_along_axis(q, _OTHERS[largest], vals, axis=1)
    np.put_along_axis(q, largest[:, None], np.sqrt(np.maximum(0.0, 1.0 - (vals * vals).sum(1)))[:, None], axis=1)
    return np.ascontiguousarray(q[:, [3, 0, 1, 2]], dtype=np.float32)


def unpack_first_three(b: np.ndarray) -> np.ndarray:
    """Version 2: [N, 3] bytes x y z of a quaternion with w >= 0 -> [N, 4] (w, x, y, z)."""
    xyz = b.astype(np.float64) / 127.5 - 1.0
    w = np.sqrt(np.maximum(0.0, 1.0 - (xyz * xyz).sum(1)))
    return np.ascontiguousarray(np.column_stack([w, xyz]), dtype=np.float32)


def unpack_sh(b: np.ndarray, sh_range: tuple[float, float] | None = None) -> np.ndarray:
    """[N, K-1, 3] bytes -> coefficients: (b - 128) / 128, or min..max when an extension gives a range."""
    if sh_range is None:
        return (b.astype(np.float32) - np.float32(128)) / np.float32(128)
    lo, hi = sh_range
    return (lo + b.astype(np.float64) / 255.0 * (hi - lo)).astype(np.float32)


def sh_range_from_extensions(ext: np.ndarray) -> tuple[float, float] | None:
    """The SH value range of a quantisation record among the extension records, if one gives a range.

    Known records: 0xADBE0001 (u8 band-1 bits, u8 other bits, f32 min, f32 max) and
    0xADBE0002 (three f32 of a camera orbit). Unknown records end the walk (they carry no length).
    """
    raw, at = ext.tobytes(), 0
    while at + 4 <= len(raw):
        kind = int.from_bytes(raw[at:at + 4], "little")
        if kind == 0xADBE0001 and at + 14 <= len(raw):
            lo, hi = np.frombuffer(raw, "<f4", count=2, offset=at + 6).tolist()
            return (lo, hi) if hi > lo and (lo, hi) != (-1.0, 1.0) and np.isfinite([lo, hi]).all() else None
        if kind != 0xADBE0002:
            return None
        at += 16
    return None


# ----------------------------------------------------------------------------- encoding

def encode(data: SplatData, version: int = 3, fractional_bits: int = DEFAULT_FRACTIONAL_BITS,
           sh_bits: tuple[int, int] = DEFAULT_SH_BITS, path=None) -> dict[str, np.ndarray]:
    """The attribute arrays (uint8, in file order) of SplatData already in SPZ axes."""
    n = len(data)
    alpha = 1.0 / (1.0 + np.exp(-data.opacity_logit.astype(np.float64)))
    return {
        "positions": pack_positions(data.means, fractional_bits, path),
        "alphas": _to_u8(alpha * 255.0),
        "colors": _to_u8(data.sh_dc.astype(np.float64) * (COLOR_SCALE * 255.0) + 127.5),
        "scales": _to_u8((data.scales_log.astype(np.float64) + 10.0) * 16.0),
        "rotations": pack_smallest_three(data.quats),
        "sh": pack_sh(data.sh_rest, sh_bits).reshape(n, -1),
    }


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def fractional_bits_for(means: np.ndarray, wanted: int = DEFAULT_FRACTIONAL_BITS) -> int:
    """``wanted``, or fewer bits where the largest coordinate would not fit in 24 bits."""
    biggest = float(np.abs(means).max()) if means.size else 0.0
    bits = wanted
    while bits > 0 and np.rint(biggest * 2.0 ** bits) > 2 ** 23 - 1:
        bits -= 1
    return bits


def pack_positions(means: np.ndarray, fractional_bits: int, path=None) -> np.ndarray:
    """[N, 3] float -> [N, 9] bytes of 24-bit little-endian fixed point."""
    fixed = np.rint(means.astype(np.float64) * 2.0 ** fractional_bits)
    if fixed.size and (fixed.max() > 2 ** 23 - 1 or fixed.min() < -(2 ** 23)):
        raise SplatFormatError(path, f"positions up to {np.abs(means).max():.6g} do not fit SPZ's 24-bit fixed point "
                                     f"with {fractional_bits} fractional bits")
    as_bytes = fixed.astype("<i4").view(np.uint8).reshape(-1, 3, 4)
    return np.ascontiguousarray(as_bytes[:, :, :3]).reshape(-1, 9)


# other component indices (ascending) for each index of the largest
_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]], np.intp)


def pack_smallest_three(quats: np.ndarray) -> np.ndarray:
    """[N, 4] (w, x, y, z), any norm -> [N, 4] bytes: index of the largest of (x, y, z, w), three signed 9-bit
    values."""
    q = quats[:, [1, 2, 3, 0]].astype(np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), (0.0, 0.0, 0.0, 1.0))
    largest = np.argmax(np.abs(q), axis=1)
    q[np.take_along_axis(q, largest[:, None], axis=1)[:, 0] < 0] *= -1  # -q is the same rotation
    vals = np.take_along_axis(q, _OTHERS[largest], axis=1)
    mag = np.minimum(np.floor(np.abs(vals) * (511 / SQRT1_2) + 0.5), 511).astype(np.uint32)
    fields = (vals < 0).astype(np.uint32) << 9 | mag
    comp = largest.astype(np.uint32) << 30 | fields[:, 0] << 20 | fields[:, 1] << 10 | fields[:, 2]
    return comp.astype("<u4").view(np.uint8).reshape(-1, 4)


def pack_sh(sh_rest: np.ndarray, sh_bits: tuple[int, int] = DEFAULT_SH_BITS) -> np.ndarray:
    """[N, K-1, 3] -> bytes 128 + 128 c rounded to the nearest multiple of 2^(8 - bits) (band 1: bits[0])."""
    out = np.empty(sh_rest.shape, np.uint8)
    for sl, bits in ((slice(0, 3), sh_bits[0]), (slice(3, None), sh_bits[1])):
        if not 1 <= bits <= 8:
            raise ValueError(f"SH bits must be 1 to 8, got {bits}")
        bucket = 2 ** (8 - bits)
        # bucket index in float32: scaling by powers of two is exact, so this rounds like float64
        q = sh_rest[:, sl] * np.float32(128 / bucket) + np.float32(128 / bucket)
        np.rint(q, out=q)
        np.clip(q, 0, 256 // bucket, out=q)
        q *= bucket
        np.minimum(q, 255, out=q)
        out[:, sl] = q
    return out


# ----------------------------------------------------------------------------- writing

def write_spz(path: str | os.PathLike, data: SplatData, *, version: int = 3, convert_axes: bool = True,
              fractional_bits: int = DEFAULT_FRACTIONAL_BITS, sh_bits: tuple[int, int] = DEFAULT_SH_BITS,
              antialiased: bool | None = None, level: int | None = None) -> None:
    """Write SplatData (Blender's axes) as SPZ ``version`` 3 (gzip) or 4 (zstd), atomically.

    ``fractional_bits`` is lowered where coordinates would overflow 24 bits; ``sh_bits``
    (band 1, bands 2-3) up to 8 trades size for SH precision. ``antialiased`` defaults to
    the data's header comments ("SplatRenderMode: mip" or "antialiased 1").
    """
    path = os.fspath(path)
    data.validate()
    if version not in (3, 4):
        raise SplatFormatError(path, f"SPZ version {version} cannot be written: choose 3 (gzip, read by every "
                                     "viewer) or 4 (zstd)")
    if len(data) == 0:
        raise SplatFormatError(path, "there are no splats to write")
    if len(data) > 2 ** 32 - 1:
        raise SplatFormatError(path, f"{len(data)} splats do not fit SPZ's 32-bit count")
    check_finite(data, path)
    compressor = _zstd_compressor(path, level) if version == 4 else None
    src = bake_transform(data, BLENDER_TO_SPZ) if convert_axes else data
    bits = fractional_bits_for(src.means, fractional_bits)
    arrays = encode(src, version, bits, sh_bits, path)
    if antialiased is None:
        antialiased = any(c.strip().lower() in ("splatrendermode: mip", "antialiased 1") for c in data.comments)
    fields = {"magic": MAGIC, "version": version, "count": len(data), "sh_degree": data.sh_degree,
              "fractional_bits": bits, "flags": FLAG_ANTIALIASED if antialiased else 0}
    if version == 3:
        atomic_write(path, _gzip_parts(fields, arrays, GZIP_LEVEL if level is None else level))
    else:
        atomic_write(path, _v4_parts(fields, arrays, compressor))


def _gzip_parts(fields: dict, arrays: dict[str, np.ndarray], level: int):
    header = np.zeros(1, HEADER_V3)
    for k, v in fields.items():
        header[k] = v
    payload = np.concatenate([header.view(np.uint8)] + [arrays[n].reshape(-1) for n in STREAMS])
    return gzip_blocks(payload, level)


def _v4_parts(fields: dict, arrays: dict[str, np.ndarray], compress) -> list:
    names = [n for n in STREAMS if arrays[n].size]
    packed = [compress(arrays[n]) for n in names]
    header = np.zeros(1, HEADER_V4)
    for k, v in fields.items():
        header[k] = v
    header["streams"], header["toc"] = len(names), HEADER_V4.itemsize
    table = np.array([(len(p), arrays[n].size) for n, p in zip(names, packed)], "<u8")
    return [header.tobytes(), table.tobytes(), *packed]


def _zstd_compressor(path: str, level: int | None):
    zstandard = _zstandard(path, "written")
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL if level is None else level, write_content_size=True, threads=-1)
    return lambda arr: cctx.compress(memoryview(np.ascontiguousarray(arr)).cast("B"))
