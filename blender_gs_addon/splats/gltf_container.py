"""The glTF 2.0 container: .glb and .gltf (+ .bin / data: URIs), accessors in and out (bpy-free).

Only what splats need: loading the JSON and buffers with every index and byte range
checked (a bad file gives SplatFormatError naming the file and the problem), decoding
accessors into numpy arrays (strided, normalised integers, no-buffer-view zeros), and
building a file from numpy attribute arrays. Written by hand rather than with a glTF
package: the format is small, and a package with compiled dependencies would have to
ship as per-platform wheels inside the Blender extension.
"""
from __future__ import annotations

import base64
import json
import os
import struct
import urllib.parse
from dataclasses import dataclass, field

import numpy as np

from .errors import SplatFormatError, read_file
from .ply import atomic_write

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ARRAY_BUFFER = 34962
COMPONENTS = {5120: np.dtype("i1"), 5121: np.dtype("u1"), 5122: np.dtype("<i2"), 5123: np.dtype("<u2"),
              5125: np.dtype("<u4"), 5126: np.dtype("<f4")}
COMPONENT_OF = {np.dtype(v).str: k for k, v in COMPONENTS.items()}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_SINGULAR = {"meshes": "mesh", "accessors": "accessor", "bufferViews": "buffer view", "buffers": "buffer",
             "nodes": "node", "scenes": "scene"}
_NORM_DIVISORS = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


@dataclass
class GltfDocument:
    """A loaded glTF: its JSON and the bytes of each buffer (loaded on first use)."""

    path: str
    json: dict
    glb_bin: memoryview | None = None
    _buffers: dict[int, memoryview] = field(default_factory=dict)

    def fail(self, reason: str) -> SplatFormatError:
        return SplatFormatError(self.path, reason)

    def item(self, kind: str, index, where: str) -> dict:
        """``json[kind][index]`` as a dict, or an error saying ``where`` pointed out of range."""
        items = self.json.get(kind, [])
        if not isinstance(items, list):
            raise self.fail(f"'{kind}' must be a list")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(items):
            raise self.fail(f"{where} refers to {_SINGULAR.get(kind, kind)} {index!r}, "
                            f"but the file has {len(items)} {kind}")
        if not isinstance(items[index], dict):
            raise self.fail(f"{kind}[{index}] must be an object")
        return items[index]

    def buffer(self, index: int, where: str) -> memoryview:
        if index not in self._buffers:
            self._buffers[index] = _load_buffer(self, index, where)
        return self._buffers[index]


def load(path: str) -> GltfDocument:
    """Read a .glb (by its magic) or a .gltf JSON file; buffers are checked when first used."""
    raw = read_file(path)
    if raw[:4] == GLB_MAGIC:
        doc_json, glb_bin = _parse_glb(path, memoryview(raw))
    elif str(path).lower().endswith(".glb") and bytes(raw[:64]).lstrip()[:1] != b"{":
        raise SplatFormatError(path, f"not a .glb file: it starts with {bytes(raw[:4])!r}, not the magic "
                                     f"{GLB_MAGIC!r}")
    else:
        doc_json, glb_bin = _parse_json(path, raw, "file"), None
    version = doc_json.get("asset", {}).get("version") if isinstance(doc_json.get("asset"), dict) else None
    if not isinstance(version, str) or not version.startswith("2."):
        raise SplatFormatError(path, f"not a glTF 2.0 file (asset.version is {version!r})")
    return GltfDocument(path, doc_json, glb_bin)


def _parse_json(path: str, raw, what: str) -> dict:
    try:
        doc = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SplatFormatError(path, f"the {what} is not glTF JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SplatFormatError(path, f"the {what} is not a glTF JSON object")
    return doc


def _parse_glb(path: str, raw: memoryview) -> tuple[dict, memoryview | None]:
    if len(raw) < 20:
        raise SplatFormatError(path, f"truncated .glb: {len(raw)} bytes, less than a header and one chunk")
    _, version, length = struct.unpack_from("<4sII", raw, 0)
    if version != 2:
        raise SplatFormatError(path, f"unsupported .glb container version {version} (expected 2)")
    if length > len(raw):
        raise SplatFormatError(path, f"truncated .glb: the header says {length} bytes, the file has {len(raw)}")
    chunks, pos = [], 12
    while pos + 8 <= length:
        size, kind = struct.unpack_from("<II", raw, pos)
        if pos + 8 + size > length:
            raise SplatFormatError(path, f"truncated .glb: chunk at byte {pos} needs {size} bytes, "
                                         f"{length - pos - 8} remain")
        chunks.append((kind, raw[pos + 8:pos + 8 + size]))
        pos += 8 + size
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise SplatFormatError(path, "the .glb does not start with a JSON chunk")
    bins = [c for k, c in chunks[1:] if k == CHUNK_BIN]
    return _parse_json(path, chunks[0][1], "JSON chunk"), (bins[0] if bins else None)


def _load_buffer(doc: GltfDocument, index: int, where: str) -> memoryview:
    buf = doc.item("buffers", index, where)
    declared = buf.get("byteLength")
    if not isinstance(declared, int) or declared < 1:
        raise doc.fail(f"buffer {index} has no valid byteLength ({declared!r})")
    uri = buf.get("uri")
    if uri is None:
        if index != 0 or doc.glb_bin is None:
            raise doc.fail(f"buffer {index} has no uri and there is no .glb binary chunk for it")
        data = doc.glb_bin
    elif not isinstance(uri, str):
        raise doc.fail(f"buffer {index} has a uri that is not a string")
    elif uri.startswith("data:"):
        try:
            data = memoryview(base64.b64decode(uri.split(",", 1)[1], validate=True))
        except (IndexError, ValueError) as exc:
            raise doc.fail(f"buffer {index} has a bad data: URI ({exc})") from None
    else:
        data = _read_external(doc, index, uri)
    if len(data) < declared:
        raise doc.fail(f"buffer {index} is truncated: byteLength says {declared} bytes, the data has {len(data)}")
    return data[:declared]


def _read_external(doc: GltfDocument, index: int, uri: str) -> memoryview:
    rel = urllib.parse.unquote(uri)
    if os.path.isabs(rel) or "://" in uri:
        raise doc.fail(f"buffer {index} uri {uri!r} is not a relative file path")
    full = os.path.join(os.path.dirname(os.path.abspath(doc.path)), rel)
    try:
        with open(full, "rb") as f:
            return memoryview(f.read())
    except OSError as exc:
        raise doc.fail(f"buffer {index}: cannot read {full}: {exc.strerror or exc}") from None


def _int(doc: GltfDocument, obj: dict, key: str, where: str, default=None, minimum: int = 0) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise doc.fail(f"{where}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def read_accessor(doc: GltfDocument, index, where: str) -> np.ndarray:
    """Accessor ``index`` as [count, components]: float32 when float or normalised, else its integer type.

    The array may be a read-only view of the file's bytes: copy it before changing it.
    """
    acc = doc.item("accessors", index, where)
    name = f"accessor {index} ({where})"
    ctype, atype = acc.get("componentType"), acc.get("type")
    if ctype not in COMPONENTS or atype not in TYPE_SIZES:
        raise doc.fail(f"{name} has an unknown componentType {ctype!r} or type {atype!r}")
    if "sparse" in acc:
        raise doc.fail(f"{name} is sparse; sparse accessors are not supported for splats")
    count = _int(doc, acc, "count", name, minimum=1)
    ncomp, dtype = TYPE_SIZES[atype], COMPONENTS[ctype]
    if "bufferView" not in acc:  # the glTF rule: no buffer view means all zeros
        out = np.zeros((count, ncomp), dtype)
    else:
        out = _strided(doc, acc, name, count, ncomp, dtype)
    if acc.get("normalized") and ctype in _NORM_DIVISORS:
        return np.maximum(out.astype(np.float32) / np.float32(_NORM_DIVISORS[ctype]), np.float32(-1.0))
    return out


def _strided(doc: GltfDocument, acc: dict, name: str, count: int, ncomp: int, dtype: np.dtype) -> np.ndarray:
    view_i = acc["bufferView"]
    view = doc.item("bufferViews", view_i, name)
    vname = f"buffer view {view_i}"
    buffer_i = view.get("buffer")
    data = doc.buffer(buffer_i, vname)
    v_off = _int(doc, view, "byteOffset", vname, default=0)
    v_len = _int(doc, view, "byteLength", vname, minimum=1)
    if v_off + v_len > len(data):
        raise doc.fail(f"{vname} covers bytes {v_off}..{v_off + v_len} but buffer {buffer_i} holds {len(data)} "
                       "(truncated file?)")
    elem = ncomp * dtype.itemsize
    stride = _int(doc, view, "byteStride", vname, default=elem, minimum=elem)
    a_off = _int(doc, acc, "byteOffset", name, default=0)
    if stride % dtype.itemsize or a_off % dtype.itemsize:
        raise doc.fail(f"{name}: offset {a_off} / stride {stride} are not multiples of the component size")
    need = a_off + stride * (count - 1) + elem
    if need > v_len:
        raise doc.fail(f"{name} needs {need} bytes of {vname}, which holds {v_len} (wrong count or truncated)")
    if stride == elem:
        return np.frombuffer(data, dtype, count=count * ncomp, offset=v_off + a_off).reshape(count, ncomp)
    layout = np.dtype({"names": ["v"], "formats": [(dtype, (ncomp,))], "offsets": [0], "itemsize": stride})
    rows = np.frombuffer(data, layout, count=count - 1, offset=v_off + a_off) if count > 1 else None
    last = np.frombuffer(data, dtype, count=ncomp, offset=v_off + a_off + stride * (count - 1))
    if rows is None:
        return last.reshape(1, ncomp).copy()
    return np.concatenate([rows["v"], last[None]], axis=0)


class GltfWriter:
    """Collects float/integer attribute arrays into one buffer and writes .glb or .gltf + .bin."""

    def __init__(self, generator: str):
        self.json: dict = {"asset": {"version": "2.0", "generator": generator},
                           "buffers": [], "bufferViews": [], "accessors": []}
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, array: np.ndarray, atype: str, normalized: bool = False, bounds: bool = False) -> int:
        """Append [count, components] data as one buffer view and accessor -> the accessor index."""
        array = np.ascontiguousarray(array)
        ctype = COMPONENT_OF[array.dtype.newbyteorder("<").str if array.dtype.itemsize > 1 else array.dtype.str]
        nbytes = array.nbytes
        self.json["bufferViews"].append({"buffer": 0, "byteOffset": self.size, "byteLength": nbytes,
                                         "target": ARRAY_BUFFER})
        acc = {"bufferView": len(self.json["bufferViews"]) - 1, "componentType": ctype,
               "count": int(array.shape[0]), "type": atype}
        if normalized:
            acc["normalized"] = True
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            acc["min"] = [float(v) for v in flat.min(axis=0)]
            acc["max"] = [float(v) for v in flat.max(axis=0)]
        self.json["accessors"].append(acc)
        self.parts.append(array.astype(array.dtype.newbyteorder("<"), copy=False))
        pad = -nbytes % 4  # every view starts 4-byte aligned
        if pad:
            self.parts.append(np.zeros(pad, np.uint8))
        self.size += nbytes + pad
        return len(self.json["accessors"]) - 1

    def write_glb(self, path: str) -> None:
        self.json["buffers"] = [{"byteLength": self.size}]
        text = json.dumps(self.json, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + self.size
        head = struct.pack("<4sII", GLB_MAGIC, 2, total) + struct.pack("<II", len(text), CHUNK_JSON) + text
        atomic_write(path, [head, struct.pack("<II", self.size, CHUNK_BIN), self.parts])

    def write_gltf(self, path: str) -> None:
        """The JSON at ``path`` and the buffer beside it as ``<stem>.bin`` (the .bin first)."""
        bin_path = os.path.splitext(path)[0] + ".bin"
        self.json["buffers"] = [{"byteLength": self.size, "uri": urllib.parse.quote(os.path.basename(bin_path))}]
        atomic_write(bin_path, [self.parts])
        atomic_write(path, [json.dumps(self.json, indent=1).encode("utf-8")])
