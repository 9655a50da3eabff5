"""3DGS splat PLY files (bpy-free): the INRIA layout on top of the general PLY reader and writer.

The general part (any element of scalar properties as named columns, binary or ascii) is
``procgen.core.ply``; here the 3DGS layout (one ``vertex`` element of float properties) is read
in any property order into SplatData and written back bit-exact. Every error is a
SplatFormatError that names the file.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from numpy.lib.recfunctions import structured_to_unstructured

from procgen.core import atomic
from procgen.core import ply as ply_file
from procgen.core.ply import FLOAT_TYPES, NUMPY_TO_PLY, PLY_TYPES, PlyFormatError

from .data import SplatData, check_property_names, field_columns
from .errors import SplatFormatError
from .table import fields_from_table, table_from_fields


@contextmanager
def splat_errors() -> Iterator[None]:
    """The general PLY reader's and writer's errors raised as SplatFormatError, the splat formats' one error."""
    try:
        yield
    except PlyFormatError as exc:
        raise SplatFormatError(exc.path, exc.reason) from None


def _check_splat_header(path: str, header, vertex) -> tuple[int, bool]:
    """Reject what is not an uncompressed 3DGS file before reading its data -> (k1, has normals)."""
    if any(e.name == "chunk" for e in header.elements):
        raise SplatFormatError(path, "this is a compressed PLY (quantised splats in a 'chunk' element): give it "
                                     "the suffix .compressed.ply to read it as one")
    k1, has_normals = check_property_names([n for n, _ in vertex.props], path)
    types = dict(vertex.props)
    for n in (p for props in field_columns(k1, has_normals).values() for p in props):
        if types[n] not in FLOAT_TYPES:
            raise SplatFormatError(path, f"property {n!r} has type {types[n]}; splat properties must be float")
    if vertex.count == 0:
        raise SplatFormatError(path, "the file holds no splats (vertex count 0)")
    return k1, has_normals


def read_ply_table(path: str | os.PathLike, finite: bool = True) -> "PlyTable":
    """Read and validate a 3DGS PLY file into a PlyTable (the rows as stored; see read_ply).
    ``finite=False`` accepts NaN and infinite values (for an editor that removes them)."""
    path = os.fspath(path)
    with splat_errors():
        header, vertex_i, arr, (k1, has_normals) = ply_file.read_element(path, "vertex", _check_splat_header)
    props = list(header.elements[vertex_i].props)
    names = [n for n, _ in props]
    core = [p for fprops in field_columns(k1, has_normals).values() for p in fprops]
    # one [N, P] float32 table: a free view when every property is float32 (the common case)
    field_types = {arr.dtype.fields[n][0] for n in names}
    if field_types == {np.dtype(np.float32)}:
        table, table_names = arr.view(np.float32).reshape(len(arr), len(names)), names
    else:
        table, table_names = structured_to_unstructured(arr[core], dtype=np.float32), core
    in_table = set(table_names)
    extra = {n: np.ascontiguousarray(arr[n]) for n in names if n not in in_table}
    result = PlyTable(path, table, list(table_names), extra, props, header.comments, k1, has_normals)
    if finite and not np.isfinite(table).all():
        result.to_splats()  # raises when a splat field (not an extra) is NaN/inf
    return result


def read_ply(path: str | os.PathLike, finite: bool = True) -> SplatData:
    """Read a 3DGS PLY file. Raises SplatFormatError naming the file for anything malformed.

    Accepted: any property order, normals absent, extra properties (kept in ``extra``, in
    file order), other elements after the vertices, binary (either endianness) or ascii.
    Rejected: non-float splat properties, NaN/inf values (unless ``finite=False``), too few
    bytes for the vertex count.
    """
    return read_ply_table(path, finite).to_splats(finite)


@dataclass
class PlyTable:
    """A PLY file's vertex properties as read: float columns in one [N, P] table, others apart."""

    path: str
    table: np.ndarray  # [N, P] float32, columns named by ``names`` (file order)
    names: list[str]
    extra: dict[str, np.ndarray]  # properties not in the table (non-float extras), [N] each
    layout: list[tuple[str, str]]  # every vertex property (name, ply type) in file order
    comments: list[str]
    k1: int  # SH coefficients per channel minus one
    has_normals: bool

    def __len__(self) -> int:
        return int(self.table.shape[0])

    @property
    def sh_degree(self) -> int:
        return int(round((self.k1 + 1) ** 0.5)) - 1

    def core_names(self) -> list[str]:
        return [p for props in field_columns(self.k1, self.has_normals).values() for p in props]

    def to_splats(self, finite: bool = True) -> SplatData:
        """SplatData of the file (NaN/inf in splat fields raise SplatFormatError unless not ``finite``)."""
        fields = fields_from_table(self.table, self.names, self.k1, self.has_normals)
        core = set(self.core_names())
        pos = {n: i for i, n in enumerate(self.names)}
        extra = {}
        for n, _ in self.layout:
            if n in core:
                continue
            extra[n] = self.extra[n] if n in self.extra else np.ascontiguousarray(self.table[:, pos[n]])
        data = SplatData(**fields, extra=extra, layout=self.layout, comments=self.comments)
        if finite:
            check_finite(data, self.path)
        return data


def check_finite(data: SplatData, path=None) -> None:
    """Reject NaN/inf in the splat fields, saying how many values are bad."""
    bad = {}
    fields = {"means": data.means, "scales": data.scales_log, "rotations": data.quats,
              "opacities": data.opacity_logit, "f_dc": data.sh_dc, "f_rest": data.sh_rest}
    if data.normals is not None:
        fields["normals"] = data.normals
    for name, arr in fields.items():
        if not np.isfinite(arr).all():
            bad[name] = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        total = sum(bad.values())
        detail = ", ".join(f"{k}: {v}" for k, v in bad.items())
        raise SplatFormatError(path, f"{total} values are NaN or infinite ({detail})")


def _write_layout(data: SplatData) -> list[tuple[str, str]]:
    """Property (name, ply type) list to write: the source layout when it still fits, else canonical."""
    cols = data.columns()
    core = {p for props in field_columns(data).values() for p in props}
    _is_core = core.__contains__
    if data.layout is not None and [n for n, _ in data.layout] == [n for n, _ in data.layout if n in cols] \
            and {n for n, _ in data.layout} == set(cols):
        out = []
        for n, t in data.layout:
            if _is_core(n) and t not in ("float", "float32"):
                t = "float"
            out.append((n, t))
        return out
    out = []
    src_types = dict(data.layout or [])
    for n, v in cols.items():
        if n in src_types and not _is_core(n):
            out.append((n, src_types[n]))
        else:
            out.append((n, NUMPY_TO_PLY.get(v.dtype.str[1:], "float") if not _is_core(n) else "float"))
    return out


def write_ply(path: str | os.PathLike, data: SplatData) -> None:
    """Write binary little-endian 3DGS PLY atomically (temporary file, then rename).

    Uses ``data.layout`` (the source file's property order and extra types) when it still
    matches the data, so that read then write is bit-exact.
    """
    path = os.fspath(path)
    data.validate()
    layout = _write_layout(data)
    names = [n for n, _ in layout]
    if all(PLY_TYPES[t] == "f4" for _, t in layout):
        body = _float_rows(data, names)
    else:
        body = np.empty(len(data), np.dtype([(n, "<" + PLY_TYPES[t]) for n, t in layout]))
        cols = data.columns()
        for n in names:
            body[n] = cols[n]
    write_ply_records(path, layout, len(data), body, data.comments)


def write_ply_records(path: str | os.PathLike, props: list[tuple[str, str]], count: int, records,
                      comments=()) -> None:
    """``procgen.core.ply.write_ply_records`` (one ``vertex`` element, atomically) with splat errors."""
    with splat_errors():
        ply_file.write_ply_records(path, props, count, records, comments)


def _float_rows(data: SplatData, names: list[str], rows: int = 32768):
    """The records of an all-float layout as [rows, P] float32 blocks: each block is built while
    the cache still holds it and written before the next, and no [N, P] copy is ever held."""
    pos = {n: i for i, n in enumerate(names)}
    for start in range(0, len(data), rows):
        part = data.subset(slice(start, start + rows))  # row slices: views, not copies
        body = table_from_fields(part, names)  # [rows, P], rows are the file's records
        for n, v in part.extra.items():
            body[:, pos[n]] = v
        yield body.astype("<f4", copy=False)


def atomic_write(path: str, parts) -> None:
    """Write bytes / numpy arrays (or iterables of them) to ``path`` atomically; OSError -> SplatFormatError."""
    try:
        atomic.write_bytes(path, parts)
    except OSError as exc:
        raise SplatFormatError(path, f"cannot write: {exc.strerror or exc}") from None
