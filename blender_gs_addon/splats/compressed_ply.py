"""The compressed PLY of web viewers (suffix ``.compressed.ply``): read and write (bpy-free).

A binary little-endian PLY with three elements:
  chunk  ceil(N / 256) records of float32 min_x min_y min_z max_x max_y max_z,
         min_scale_x..z max_scale_x..z and (optional) min_r min_g min_b max_r max_g max_b:
         the ranges of splats 256 c .. 256 c + 255;
  vertex N records of uint32 packed_position, packed_rotation, packed_scale, packed_color;
  sh     N records of uchar f_rest_0 .. f_rest_(3 (K-1) - 1), grouped by channel as in the 3DGS PLY
         (absent for SH degree 0).
Positions and log scales are stored as 11, 10 and 11 bits within their chunk's range;
colour (0.5 + C0 f_dc) as 8 bits per channel within its chunk's range, then alpha
(sigmoid of the opacity) as 8 bits of 0..1. Rotations keep the index (2 bits) of the
largest of (w, x, y, z), made positive, and the other three as 10-bit unorms of
q / sqrt(2) + 1/2. SH coefficients are 8-bit: byte trunc((c / 8 + 1/2) 256), read back as
(byte + 1/2) / 256 (bytes 0 and 255 as the ends), so c covers -4..4.

Largest error of each field (``splat_error_bounds`` gives them per splat from a file's chunks):
  position   (max - min) / (2 * 2047) on x and z, / (2 * 1023) on y, per chunk
  log scale  the same with the chunk's scale range (log scales clamped to +-20)
  colour     (max - min) / (2 * 255) of 0.5 + C0 f_dc per chunk, so / C0 in f_dc
  alpha      0.5 / 255
  rotation   sqrt(2) / 2 / 1023 = 6.9e-4 per stored component, 4.8e-3 rad in angle
  SH         1/32 for |c| <= 4 (1/64 away from the two end bytes)
The writer sorts splats along a Morton curve first (``sort=True``), so each chunk covers a
small region and its ranges, hence the errors, are small. Normals and extra properties
are not stored; header comments are kept. Axes are the PLY's, unchanged.
"""
from __future__ import annotations

import os

import numpy as np

from procgen.core.ply import PlyElement, ply_elements_header, read_ply_elements

from .data import SH_C0, SplatData, sh_degree_from_rest_count
from .errors import SplatFormatError
from .ply import atomic_write, check_finite, read_ply, splat_errors

CHUNK = 256
POSITION = ("min_x", "min_y", "min_z", "max_x", "max_y", "max_z")
SCALE = ("min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z")
COLOR = ("min_r", "min_g", "min_b", "max_r", "max_g", "max_b")
PACKED = ("packed_position", "packed_rotation", "packed_scale", "packed_color")
BITS = (11, 10, 11)  # x, y, z (positions and scales)
ROT_SCALE = np.sqrt(2.0)  # stored components lie in +-1/sqrt(2)
SCALE_CLAMP = 20.0
ALPHA_EPS = 1e-4  # keeps logits finite for alpha bytes 0 and 255 while rounding back to the same byte
ROTATION_COMPONENT = ROT_SCALE / 2 / 1023
SH_ERROR = 1 / 32


# ----------------------------------------------------------------------------- reading

def _read_elements(path: str) -> dict[str, PlyElement]:
    with splat_errors():
        return read_ply_elements(path)


def read_compressed_ply(path: str | os.PathLike) -> SplatData:
    """Read a compressed PLY into SplatData. Raises SplatFormatError naming the file when malformed.

    A plain 3DGS PLY given this suffix is read as one.
    """
    path = os.fspath(path)
    elements = _read_elements(path)
    if "chunk" not in elements and "vertex" in elements and "x" in elements["vertex"]:
        return read_ply(path)
    chunks, packed, sh = _checked_elements(path, elements)
    n = len(packed)
    index = np.arange(n) // CHUNK
    pos = _unpack_ranges(packed["packed_position"], _ranges(chunks, POSITION)[index])
    log_scales = _unpack_ranges(packed["packed_scale"], _ranges(chunks, SCALE)[index])
    color, alpha = _unpack_color(packed["packed_color"], _ranges(chunks, COLOR)[index] if "min_r" in chunks else None)
    alpha = np.clip(alpha, ALPHA_EPS, 1.0 - ALPHA_EPS)
    k1 = sh.shape[1] // 3 if sh is not None else 0
    data = SplatData(
        means=pos, scales_log=log_scales, quats=unpack_rotations(packed["packed_rotation"]),
        opacity_logit=np.log(alpha / (1.0 - alpha)).astype(np.float32),
        sh_dc=((color - 0.5) / SH_C0).astype(np.float32),
        sh_rest=np.zeros((n, 0, 3), np.float32) if sh is None else
        unpack_sh(sh, k1),
        comments=list(packed.comments),
    )
    check_finite(data, path)
    return data


def _checked_elements(path: str, elements: dict):
    """(chunk element, vertex element, sh bytes [N, 3 (K-1)] or None) after checking names, types, counts."""
    for name in ("chunk", "vertex"):
        if name not in elements:
            raise SplatFormatError(path, f"not a compressed PLY: it has no {name!r} element")
    chunks, packed = elements["chunk"], elements["vertex"]
    _require(path, chunks, POSITION + SCALE, ("float", "float32"))
    if "min_r" in chunks:
        _require(path, chunks, COLOR, ("float", "float32"))
    _require(path, packed, PACKED, ("uint", "uint32"))
    n = len(packed)
    if n == 0:
        raise SplatFormatError(path, "the file holds no splats (vertex count 0)")
    if len(chunks) < -(-n // CHUNK):
        raise SplatFormatError(path, f"{len(chunks)} chunk records cannot cover {n} splats "
                                     f"({-(-n // CHUNK)} are needed, one per {CHUNK})")
    columns = [n_ for n_ in POSITION + SCALE + COLOR if n_ in chunks]
    if not all(np.isfinite(chunks[c]).all() for c in columns):
        raise SplatFormatError(path, "chunk ranges contain NaN or infinite values")
    return chunks, packed, _sh_bytes(path, elements.get("sh"), n)


def _require(path: str, element, names: tuple[str, ...], types: tuple[str, ...]) -> None:
    have = dict(element.props)
    missing = [n for n in names if n not in have]
    if missing:
        raise SplatFormatError(path, f"compressed PLY element {element.name!r} lacks " + ", ".join(missing))
    wrong = [f"{n} ({have[n]})" for n in names if have[n] not in types]
    if wrong:
        raise SplatFormatError(path, f"compressed PLY element {element.name!r} has properties of the wrong type, "
                                     f"expected {types[0]}: " + ", ".join(wrong))


def _sh_bytes(path: str, sh, n: int) -> np.ndarray | None:
    if sh is None:
        return None
    names = [f"f_rest_{i}" for i in range(len(sh.props))]
    if [p for p, _ in sh.props] != names or len(names) % 3 or sh_degree_from_rest_count(len(names) // 3) is None:
        raise SplatFormatError(path, f"the 'sh' element's {len(names)} properties are not f_rest_0.. of SH "
                                     "bands of degree 1 to 3")
    if any(t not in ("uchar", "uint8") for _, t in sh.props):
        raise SplatFormatError(path, "the 'sh' element's properties must be uchar")
    if len(sh) != n:
        raise SplatFormatError(path, f"the 'sh' element has {len(sh)} records for {n} splats")
    return sh.data.view(np.uint8).reshape(n, len(names))


def _ranges(chunks, names: tuple[str, ...]) -> np.ndarray:  # -> [C, 2, 3] (min, max) x (x, y, z)
    return np.stack([chunks[c] for c in names], axis=1).astype(np.float32).reshape(-1, 2, 3)


def _unorm(packed: np.ndarray, shifts: tuple[int, ...], bits: tuple[int, ...]) -> np.ndarray:
    """[N] uint32 -> [N, len(bits)] float32 in 0..1."""
    return np.stack([((packed >> s) & ((1 << b) - 1)).astype(np.float32) / np.float32((1 << b) - 1)
                     for s, b in zip(shifts, bits)], axis=1)


def _unpack_ranges(packed: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """11/10/11-bit fractions of each splat's chunk range -> [N, 3] float32."""
    t = _unorm(packed, (21, 11, 0), BITS).astype(np.float64)
    lo, hi = ranges[:, 0].astype(np.float64), ranges[:, 1].astype(np.float64)
    return (lo * (1 - t) + hi * t).astype(np.float32)


def _unpack_color(packed: np.ndarray, ranges: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """-> colour [N, 3] (0.5 + C0 f_dc) and alpha [N] (float64)."""
    t = _unorm(packed, (24, 16, 8, 0), (8, 8, 8, 8)).astype(np.float64)
    color = t[:, :3] if ranges is None else ranges[:, 0] * (1 - t[:, :3]) + ranges[:, 1] * t[:, :3]
    return color, t[:, 3]


def unpack_rotations(packed: np.ndarray) -> np.ndarray:
    """[N] uint32 -> [N, 4] (w, x, y, z): the largest component from the unit norm, placed at its index."""
    others = (_unorm(packed, (20, 10, 0), (10, 10, 10)).astype(np.float64) - 0.5) * ROT_SCALE
    largest = (packed >> 30).astype(np.intp)
    q = np.empty((len(packed), 4), np.float64)
    np.put_along_axis(q, _OTHERS[largest], others, axis=1)
    np.put_along_axis(q, largest[:, None], np.sqrt(np.maximum(0.0, 1.0 - (others ** 2).sum(1)))[:, None], axis=1)
    return q.astype(np.float32)


def unpack_sh(b: np.ndarray, k1: int) -> np.ndarray:
    """[N, 3 (K-1)] bytes grouped per channel -> [N, K-1, 3] coefficients (byte + 1/2) / 32 - 4,
    with bytes 0 and 255 at the ends -4 and 4."""
    b = np.ascontiguousarray(b.reshape(len(b), 3, k1).transpose(0, 2, 1))
    v = b.astype(np.float32)
    v += np.float32(0.5)
    v *= np.float32(1 / 32)
    v -= np.float32(4)
    np.putmask(v, b == 0, np.float32(-4))
    np.putmask(v, b == 255, np.float32(4))
    return v


_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]], np.intp)


def splat_error_bounds(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Largest error of each field of each splat of a compressed PLY, from its chunk ranges ([N] or [N, 3])."""
    elements = _read_elements(os.fspath(path))
    chunks, packed, _ = _checked_elements(os.fspath(path), elements)
    index = np.arange(len(packed)) // CHUNK
    steps = 2.0 * (2.0 ** np.array(BITS) - 1)
    out = {"position": np.ptp(_ranges(chunks, POSITION), axis=1)[index] / steps,
           "log_scale": np.ptp(_ranges(chunks, SCALE), axis=1)[index] / steps,
           "alpha": np.full(len(packed), 0.5 / 255), "rotation_component": np.full(len(packed), ROTATION_COMPONENT),
           "sh": np.full(len(packed), SH_ERROR)}
    color = np.ptp(_ranges(chunks, COLOR), axis=1)[index] if "min_r" in chunks else np.ones((len(packed), 3))
    out["f_dc"] = color / (2 * 255) / SH_C0
    return out


# ----------------------------------------------------------------------------- writing

def write_compressed_ply(path: str | os.PathLike, data: SplatData, *, sort: bool = True) -> None:
    """Write SplatData as a compressed PLY, atomically. ``sort``: Morton order first (smaller errors)."""
    path = os.fspath(path)
    data.validate()
    if len(data) == 0:
        raise SplatFormatError(path, "there are no splats to write")
    check_finite(data, path)
    if sort:
        data = data.subset(morton_order(data.means))
    n, k1 = len(data), data.sh_rest.shape[1]
    chunks = -(-n // CHUNK)
    color = 0.5 + SH_C0 * data.sh_dc.astype(np.float64)
    log_scales = np.clip(data.scales_log, -SCALE_CLAMP, SCALE_CLAMP)
    pos_r, scale_r, color_r = (_chunk_ranges(v, chunks) for v in (data.means, log_scales, color))
    records = np.empty((n, 4), "<u4")
    records[:, 0] = _pack_ranges(data.means, pos_r, BITS)
    records[:, 1] = pack_rotations(data.quats)
    records[:, 2] = _pack_ranges(log_scales, scale_r, BITS)
    alpha = 1.0 / (1.0 + np.exp(-data.opacity_logit.astype(np.float64)))
    records[:, 3] = _pack_ranges(color, color_r, (8, 8, 8)) << 8 | _pack_unorm(alpha, 8)
    table = np.concatenate([pos_r.reshape(chunks, 6), scale_r.reshape(chunks, 6), color_r.reshape(chunks, 6)], 1)
    elements = [("chunk", chunks, [(c, "float") for c in POSITION + SCALE + COLOR]),
                ("vertex", n, [(p, "uint") for p in PACKED])]
    parts = [table.astype("<f4"), records]
    if k1:
        elements.append(("sh", n, [(f"f_rest_{i}", "uchar") for i in range(3 * k1)]))
        parts.append(pack_sh(data.sh_rest.transpose(0, 2, 1).reshape(n, 3 * k1)))
    atomic_write(path, [ply_elements_header(elements, data.comments), *parts])


def _chunk_ranges(values: np.ndarray, chunks: int) -> np.ndarray:
    """[N, 3] -> [C, 2, 3] float32 (min, max) of each run of 256 (the last run padded with its last row)."""
    pad = chunks * CHUNK - len(values)
    v = np.concatenate([values, np.repeat(values[-1:], pad, axis=0)]) if pad else values
    v = v.reshape(chunks, CHUNK, 3)
    return np.stack([v.min(axis=1), v.max(axis=1)], axis=1).astype(np.float32)


def _pack_unorm(t: np.ndarray, bits: int) -> np.ndarray:
    top = (1 << bits) - 1
    return np.clip(np.floor(t * top + 0.5), 0, top).astype(np.uint32)


def _pack_ranges(values: np.ndarray, ranges: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    """[N, 3] values -> fractions of their chunk's (float32) range packed as bits[0], bits[1], bits[2] (high first)."""
    index = np.arange(len(values)) // CHUNK
    lo, hi = ranges[index, 0].astype(np.float64), ranges[index, 1].astype(np.float64)
    span = hi - lo
    t = np.where(span > 0, (values - lo) / np.where(span > 0, span, 1.0), 0.0)
    out = np.zeros(len(values), np.uint32)
    for axis, b in enumerate(bits):
        out = out << b | _pack_unorm(t[:, axis], b)
    return out


def pack_rotations(quats: np.ndarray) -> np.ndarray:
    """[N, 4] (w, x, y, z), any norm -> [N] uint32: 2-bit index of the largest, three 10-bit components."""
    q = quats.astype(np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1.0), (1.0, 0.0, 0.0, 0.0))
    largest = np.argmax(np.abs(q), axis=1)
    q[np.take_along_axis(q, largest[:, None], axis=1)[:, 0] < 0] *= -1  # -q is the same rotation
    others = np.take_along_axis(q, _OTHERS[largest], axis=1) / ROT_SCALE + 0.5
    out = largest.astype(np.uint32)
    for axis in range(3):
        out = out << 10 | _pack_unorm(others[:, axis], 10)
    return out


def pack_sh(sh: np.ndarray) -> np.ndarray:
    """Coefficients -> bytes trunc((c / 8 + 1/2) 256), clamped to 0..255."""
    b = sh * np.float32(32) + np.float32(128)
    np.clip(b, 0, 255, out=b)
    return b.astype(np.uint8)  # truncates, as the format's writers do


def morton_order(means: np.ndarray) -> np.ndarray:
    """Indices sorting [N, 3] positions along a 3D Morton (Z-order) curve of 21 bits per axis."""
    lo, hi = means.min(axis=0), means.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    cells = np.clip((means - lo) / span * (2 ** 21 - 1), 0, 2 ** 21 - 1).astype(np.uint64)
    code = np.zeros(len(means), np.uint64)
    for axis in range(3):
        code |= _spread_bits(cells[:, axis]) << np.uint64(axis)
    return np.argsort(code, kind="stable")


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Insert two zero bits between the 21 low bits of each value (uint64)."""
    v = v & np.uint64(0x1FFFFF)
    for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
                        (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v
