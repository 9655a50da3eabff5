"""PLY files of named scalar columns: one general reader and writer (bpy-free, numpy only).

Reads any element of scalar properties into named columns (binary of either endianness, or
ascii), building a numpy structured dtype from the header and reading an element in one call
(no per-row Python loops); writes named columns as binary little-endian, atomically. The 3DGS
splat layout on top of this is the add-on's ``splats.ply``; the dataset's initial point
cloud is ``procgen.render.initial_points``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import atomic

# PLY scalar type name -> numpy type code (without byte order)
PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
NUMPY_TO_PLY = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort", "i4": "int",
                "u4": "uint", "f4": "float", "f8": "double"}
FLOAT_TYPES = {"float", "float32", "double", "float64"}
MAX_HEADER = 1 << 20  # a header longer than 1 MiB is not a PLY file we can use


class PlyFormatError(ValueError):
    """A PLY file could not be read or written; names the file and what is wrong."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path if self.path is not None else '<ply data>'}: {reason}")


@dataclass
class _Element:
    name: str
    count: int
    props: list[tuple[str, str]]  # (name, ply type); a list property has type "list:<count>:<item>"


@dataclass
class _Header:
    fmt: str  # ascii | binary_little_endian | binary_big_endian
    elements: list[_Element]
    comments: list[str]
    size: int  # bytes up to and including the end_header line


def _parse_header(path: str, head: bytes) -> _Header:
    if not head:
        raise PlyFormatError(path, "file is empty")
    if not (head.startswith(b"ply\n") or head.startswith(b"ply\r\n")):
        raise PlyFormatError(path, "not a PLY file (it does not start with 'ply')")
    end = head.find(b"end_header")
    if end < 0 and len(head) >= MAX_HEADER:
        raise PlyFormatError(path, f"PLY header has no 'end_header' line in its first {MAX_HEADER // 1024} KiB "
                                   f"({MAX_HEADER:,} bytes), the most this reader takes (too many comments?)")
    if end < 0:
        raise PlyFormatError(path, "PLY header has no 'end_header' line (truncated or not a PLY file)")
    eol = head.find(b"\n", end)
    if eol < 0:
        raise PlyFormatError(path, "PLY header is truncated after 'end_header'")
    try:
        text = head[:end].decode("ascii")
    except UnicodeDecodeError:
        raise PlyFormatError(path, "PLY header contains non-ASCII bytes") from None
    fmt = None
    elements: list[_Element] = []
    comments: list[str] = []
    for lineno, raw in enumerate(text.replace("\r", "").split("\n")[1:], start=2):
        words = raw.split()
        if not words:
            continue
        key = words[0]
        if key == "format":
            if len(words) != 3 or words[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise PlyFormatError(path, f"unknown PLY format line {raw.strip()!r}")
            fmt = words[1]
        elif key in ("comment", "obj_info"):
            if key == "comment":
                comments.append(raw.strip()[len("comment"):].strip())
        elif key == "element":
            if len(words) != 3:
                raise PlyFormatError(path, f"bad element line {lineno}: {raw.strip()!r}")
            try:
                count = int(words[2])
            except ValueError:
                raise PlyFormatError(path, f"element count {words[2]!r} is not an integer") from None
            if count < 0:
                raise PlyFormatError(path, f"negative element count {count}")
            elements.append(_Element(words[1], count, []))
        elif key == "property":
            if not elements:
                raise PlyFormatError(path, f"property before any element on header line {lineno}")
            if len(words) == 3 and words[1] in PLY_TYPES:
                elements[-1].props.append((words[2], words[1]))
            elif len(words) == 5 and words[1] == "list" and words[2] in PLY_TYPES and words[3] in PLY_TYPES:
                elements[-1].props.append((words[4], f"list:{words[2]}:{words[3]}"))
            else:
                raise PlyFormatError(path, f"unknown property type on header line {lineno}: {raw.strip()!r}")
        else:
            raise PlyFormatError(path, f"unknown PLY header line {lineno}: {raw.strip()!r}")
    if fmt is None:
        raise PlyFormatError(path, "PLY header has no format line")
    return _Header(fmt, elements, comments, eol + 1)


def _struct_dtype(path: str, el: _Element, byteorder: str) -> np.dtype:
    names = [n for n, _ in el.props]
    if len(set(names)) != len(names):
        raise PlyFormatError(path, f"element {el.name!r} has duplicate property names")
    for n, t in el.props:
        if t.startswith("list:"):
            raise PlyFormatError(path, f"element {el.name!r} has a list property {n!r}; only scalar "
                                         "properties are read (and the data after a list cannot be located)")
    return np.dtype([(n, byteorder + PLY_TYPES[t]) for n, t in el.props])


def _read_header(path: str, f) -> tuple[_Header, int]:
    """(header, file size in bytes) of the open file ``f``."""
    size = os.fstat(f.fileno()).st_size
    return _parse_header(path, f.read(min(size, MAX_HEADER))), size


def _element_index(path: str, header: _Header, name: str) -> int:
    index = next((i for i, e in enumerate(header.elements) if e.name == name), None)
    if index is None:
        raise PlyFormatError(path, f"PLY file has no {name!r} element")
    return index


def _read_body(path: str, f, size: int, header: _Header, index: int) -> np.ndarray:
    """The records of element ``index``: a structured array [count], one field per property."""
    if header.fmt == "ascii":
        return _read_ascii(path, f, header, index)
    order = "<" if header.fmt == "binary_little_endian" else ">"
    offset = header.size
    for e in header.elements[:index]:
        offset += _struct_dtype(path, e, order).itemsize * e.count
    el = header.elements[index]
    dtype = _struct_dtype(path, el, order)
    need = offset + dtype.itemsize * el.count
    if need > size:
        raise PlyFormatError(path, f"file is truncated: the header promises {el.count} {el.name!r} records "
                                     f"({need} bytes) but the file has {size} bytes")
    _check_no_trailing_records(path, size, header, order)
    f.seek(offset)
    arr = np.fromfile(f, dtype=dtype, count=el.count)
    if arr.shape[0] != el.count:
        raise PlyFormatError(path, f"could only read {arr.shape[0]} of {el.count} {el.name!r} records")
    return arr


def _check_no_trailing_records(path: str, size: int, header: _Header, order: str) -> None:
    """Refuse a header whose counts are smaller than the data (the rest would be dropped silently)."""
    end = header.size + sum(_struct_dtype(path, e, order).itemsize * e.count for e in header.elements)
    last = header.elements[-1]
    record = _struct_dtype(path, last, order).itemsize
    extra = size - end
    if record and extra >= record:
        raise PlyFormatError(path, f"the file holds {extra} bytes after the {last.count} {last.name!r} records "
                                     f"the header declares (room for {extra // record} more): the count in the "
                                     "header is wrong or the file has trailing data")


def _read_ascii(path: str, f, header: _Header, index: int) -> np.ndarray:
    f.seek(header.size)
    lines = f.read().split(b"\n")
    skip = sum(e.count for e in header.elements[:index])  # one line per record
    el = header.elements[index]
    body = lines[skip:skip + el.count]
    if len(body) < el.count:
        raise PlyFormatError(path, f"ascii PLY is truncated: {len(body)} of {el.count} {el.name!r} lines")
    try:
        values = np.array(b" ".join(body).split(), dtype=np.float64)
    except ValueError:
        raise PlyFormatError(path, f"ascii PLY {el.name!r} data contains a non-number") from None
    nprops = len(el.props)
    if values.size != nprops * el.count:
        raise PlyFormatError(path, f"ascii PLY {el.name!r} lines hold {values.size} numbers, "
                                     f"expected {nprops * el.count}")
    rest = [ln for ln in lines[skip + el.count:] if ln.strip()]
    if index == len(header.elements) - 1 and rest:
        raise PlyFormatError(path, f"ascii PLY has {len(rest)} more lines after the {el.count} {el.name!r} "
                                     "lines the header declares: the count in the header is wrong")
    values = values.reshape(el.count, nprops)
    arr = np.empty(el.count, _struct_dtype(path, el, "="))
    for i, (n, _) in enumerate(el.props):
        _check_ascii_range(path, el, n, values[:, i], arr.dtype[n])
        arr[n] = values[:, i]
    return arr


def _check_ascii_range(path: str, el: _Element, name: str, column: np.ndarray, dtype: np.dtype) -> None:
    """An ascii value must fit its declared type exactly (300.7 in a uchar must not wrap to 44)."""
    if dtype.kind not in "iu":
        return
    info = np.iinfo(dtype)
    bad = (column != np.round(column)) | (column < info.min) | (column > info.max)
    if bad.any():
        row = int(np.argmax(bad))
        raise PlyFormatError(path, f"ascii PLY {el.name!r} record {row}: property {name!r} is {column[row]:g}, "
                                     f"not a whole number in {info.min}..{info.max} as its type {dtype.name} needs")


@dataclass
class PlyElement:
    """One element of a PLY file as read: its scalar properties as named columns."""

    name: str
    data: np.ndarray  # [N] structured array, one field per property in file order, native byte order
    props: list[tuple[str, str]]  # (name, ply type) in file order
    comments: list[str]

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:  # [N] one property
        return self.data[name]

    def __contains__(self, name: str) -> bool:
        return name in self.data.dtype.names


def read_ply_element(path: str | os.PathLike, element: str = "vertex") -> PlyElement:
    """Read one element of any PLY file (binary of either endianness, or ascii).

    Raises PlyFormatError naming the file when it is not PLY, the element is missing or
    has list properties, or the file is shorter than its header says.
    """
    path = os.fspath(path)
    header, index, data, _ = read_element(path, element)
    return PlyElement(element, data, list(header.elements[index].props), header.comments)


def read_ply_elements(path: str | os.PathLike) -> dict[str, PlyElement]:
    """Every element of any PLY file by name, in file order (as read_ply_element reads one)."""
    path = os.fspath(path)
    out = {}
    try:
        with open(path, "rb") as f:
            header, size = _read_header(path, f)
            for index, el in enumerate(header.elements):
                data = _read_body(path, f, size, header, index)
                out[el.name] = PlyElement(el.name, data.astype(data.dtype.newbyteorder("="), copy=False),
                                          list(el.props), header.comments)
    except OSError as exc:
        raise PlyFormatError(path, f"cannot read file: {exc.strerror or exc}") from None
    return out


def read_element(path: str, element: str, check=None) -> tuple[_Header, int, np.ndarray, object]:
    """(header, element index, its records in native byte order, what ``check`` returned).

    check(path, header, element) runs before any data is read: it can refuse a file cheaply
    (the splat reader uses it to turn away a compressed or non-float file).
    """
    try:
        with open(path, "rb") as f:
            header, size = _read_header(path, f)
            index = _element_index(path, header, element)
            checked = None if check is None else check(path, header, header.elements[index])
            data = _read_body(path, f, size, header, index)
    except OSError as exc:
        raise PlyFormatError(path, f"cannot read file: {exc.strerror or exc}") from None
    data = data.astype(data.dtype.newbyteorder("="), copy=False)  # free unless the file's order is not ours
    return header, index, data, checked


def ply_header(count: int, props: list[tuple[str, str]], comments=(), element: str = "vertex") -> bytes:
    """Header of a binary little-endian PLY file with one element of scalar ``props`` (name, ply type)."""
    return ply_elements_header([(element, count, props)], comments)


def ply_elements_header(elements: list[tuple[str, int, list[tuple[str, str]]]], comments=()) -> bytes:
    """Header of a binary little-endian PLY file with the given (name, count, props) elements, in order."""
    lines = ["ply", "format binary_little_endian 1.0", *(f"comment {c}" for c in comments)]
    for name, count, props in elements:
        lines += [f"element {name} {count}", *(f"property {t} {n}" for n, t in props)]
    return ("\n".join(lines + ["end_header"]) + "\n").encode("ascii")


def write_ply_records(path: str | os.PathLike, props: list[tuple[str, str]], count: int, records,
                      comments=()) -> None:
    """Write one ``vertex`` element atomically: the header, then ``records`` as given.

    records: the little-endian rows laid out as ``props`` says: a numpy array, or an
    iterable of arrays or bytes (chunks are written as they come, never joined in memory).
    """
    path = os.fspath(path)
    try:
        atomic.write_bytes(path, [ply_header(count, props, comments), records])
    except OSError as exc:
        raise PlyFormatError(path, f"cannot write: {exc.strerror or exc}") from None


def write_ply_columns(path: str | os.PathLike, columns: dict[str, np.ndarray], dtypes: dict | None = None,
                      comments=()) -> None:
    """Write named columns ([N] each, in the given order) as a binary little-endian ``vertex`` element.

    dtypes: name -> numpy dtype stored in the file (default: the column's own); values are
    cast as numpy assignment casts. Atomic: the old file stays until the new one is complete.
    """
    path = os.fspath(path)
    dtypes = dtypes or {}
    fields = [(n, np.dtype(dtypes.get(n, np.asarray(c).dtype)).newbyteorder("<")) for n, c in columns.items()]
    for n, dt in fields:
        if dt.str[1:] not in NUMPY_TO_PLY:
            raise PlyFormatError(path, f"column {n!r}: PLY has no type for {dt}")
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise PlyFormatError(path, f"columns differ in length: {sorted(lengths)}")
    body = np.empty(lengths.pop() if lengths else 0, np.dtype(fields))
    for n, c in columns.items():
        body[n] = c
    write_ply_records(path, [(n, NUMPY_TO_PLY[dt.str[1:]]) for n, dt in fields], len(body), body, comments)
