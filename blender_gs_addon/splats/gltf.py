"""Splats in glTF 2.0 with ``KHR_gaussian_splatting``: .glb, and .gltf + .bin (bpy-free).

One POINTS primitive per file written; every attribute float32 except the COLOR_0
fallback (RGBA 8-bit: the DC colour and the opacity, for viewers without splats):

    POSITION                               VEC3   positions
    KHR_gaussian_splatting:ROTATION        VEC4   unit quaternion (x, y, z, w)
    KHR_gaussian_splatting:SCALE           VEC3   linear standard deviations (exp of the PLY's)
    KHR_gaussian_splatting:OPACITY         SCALAR opacity after the sigmoid, 0..1
    KHR_gaussian_splatting:SH_DEGREE_l_COEF_n  VEC3 (r, g, b) SH coefficients, l = 0..degree
    _<name>                                SCALAR per-splat extra properties of the source

Axes: glTF is Y-up, our splats are Blender's Z-up. With ``convert_axes`` (the default)
the writer maps (x, y, z) -> (x, z, -y), the same as Blender's own glTF exporter, and
rotates orientations and SH coefficients with it; the reader applies the inverse and
each node's transform. Positions convert exactly; rotations, scales, opacities and SH
coefficients round trip within float32 rounding.
"""
from __future__ import annotations

import os

import numpy as np

from .data import SH_C0, SplatData
from .errors import SplatFormatError
from .gltf_container import GltfDocument, GltfWriter, load, read_accessor
from .ply import check_finite
from .transform import TransformError, bake_transform, quat_to_matrix

EXTENSION = "KHR_gaussian_splatting"
ROTATION, SCALE, OPACITY = (f"{EXTENSION}:{k}" for k in ("ROTATION", "SCALE", "OPACITY"))
COLOR_SPACES = ("srgb_rec709_display", "lin_rec709_display")
READABLE_EXTENSIONS = (EXTENSION, "KHR_mesh_quantization")  # the latter only allows the integer types we read
POINTS = 0
# Blender (x right, y forward, z up) -> glTF (x right, y up, z towards the viewer)
BLENDER_TO_GLTF = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], np.float64)
GLTF_TO_BLENDER = BLENDER_TO_GLTF.T.copy()
_ALPHA_RANGE = (2.0 ** -149, 1.0 - 2.0 ** -26)  # keeps logits finite; float32 sigmoid gives 0 / 1 back
_SCALE_MIN = float(np.finfo(np.float32).tiny)  # a zero scale (flat splat) becomes the smallest normal float


def sh_attribute(degree: int, coef: int) -> str:
    return f"{EXTENSION}:SH_DEGREE_{degree}_COEF_{coef}"


# ----------------------------------------------------------------------------- writing

def write_gltf(path: str | os.PathLike, data: SplatData, convert_axes: bool = True,
               color_space: str = "srgb_rec709_display") -> None:
    """Write ``.gltf`` (JSON + ``<stem>.bin``) or ``.glb`` (anything else), atomically."""
    path = os.fspath(path)
    data.validate()
    if len(data) == 0:
        raise SplatFormatError(path, "glTF cannot hold 0 splats (an accessor needs at least one element)")
    if color_space not in COLOR_SPACES:
        raise SplatFormatError(path, f"colorSpace {color_space!r} is not one of {', '.join(COLOR_SPACES)}")
    out = bake_transform(data, BLENDER_TO_GLTF) if convert_axes else data
    check_finite(out, path)
    writer = GltfWriter(generator="Gaussian Scenes (blender_gs_addon.splats.gltf)")
    primitive = {"attributes": _add_attributes(writer, out, path), "mode": POINTS,
                 "extensions": {EXTENSION: {"kernel": "ellipse", "colorSpace": color_space}}}
    writer.json.update({"extensionsUsed": [EXTENSION], "meshes": [{"primitives": [primitive]}],
                        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0})
    if path.lower().endswith(".gltf"):
        writer.write_gltf(path)
    else:
        writer.write_glb(path)


def _add_attributes(w: GltfWriter, d: SplatData, path: str) -> dict[str, int]:
    quats = d.unit_quats()
    quats[~quats.any(axis=1)] = (1.0, 0.0, 0.0, 0.0)  # a zero quaternion means no rotation
    scales = d.scales()
    if not np.isfinite(scales).all():
        raise SplatFormatError(path, f"{int((~np.isfinite(scales)).sum())} scales overflow float32 (log scale > 88)")
    alphas = d.alphas()
    rgba = np.concatenate([d.colors(), alphas[:, None]], axis=1)
    attrs = {
        "POSITION": w.add(d.means, "VEC3", bounds=True),
        "COLOR_0": w.add(np.floor(rgba.astype(np.float64) * 255.0 + 0.5).astype(np.uint8), "VEC4", normalized=True),
        ROTATION: w.add(quats[:, [1, 2, 3, 0]], "VEC4"),
        SCALE: w.add(scales, "VEC3"),
        OPACITY: w.add(alphas[:, None], "SCALAR"),
        sh_attribute(0, 0): w.add(d.sh_dc, "VEC3"),
    }
    for degree in range(1, d.sh_degree + 1):
        for coef in range(2 * degree + 1):
            attrs[sh_attribute(degree, coef)] = w.add(d.sh_rest[:, degree * degree - 1 + coef], "VEC3")
    for name, values in d.extra.items():
        attrs["_" + name] = w.add(values.astype(np.float32)[:, None], "SCALAR")
    return attrs


# ----------------------------------------------------------------------------- reading

def read_gltf(path: str | os.PathLike, convert_axes: bool = True) -> SplatData:
    """Every KHR_gaussian_splatting primitive of the default scene, in world space, as one SplatData."""
    path = os.fspath(path)
    doc = load(path)
    required = doc.json.get("extensionsRequired") or []
    unknown = [e for e in required if e not in READABLE_EXTENSIONS] if isinstance(required, list) else [required]
    if unknown:
        raise doc.fail(f"the file requires {', '.join(map(str, unknown))}, which this reader does not support "
                       "(compressed glTF splats are not read yet)")
    try:
        parts = []
        for primitive, where, world in _splat_primitives(doc):
            local = _read_primitive(doc, primitive, where)
            matrix = (GLTF_TO_BLENDER @ world) if convert_axes else world
            try:
                parts.append(bake_transform(local, matrix))
            except TransformError as exc:
                raise SplatFormatError(path, f"{where}: its node transform cannot be applied: {exc}") from None
    except SplatFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise SplatFormatError(path, f"malformed glTF: {type(exc).__name__}: {exc}") from None
    data = _concatenate(parts)
    check_finite(data, path)
    return data


def _splat_primitives(doc: GltfDocument) -> list[tuple[dict, str, np.ndarray]]:
    """(primitive, description, 4x4 world matrix) of every splat primitive to read."""
    placed: list[tuple[int, np.ndarray, str]] = []
    if doc.json.get("scenes"):
        scene_i = doc.json.get("scene", 0)
        scene = doc.item("scenes", scene_i, "the default scene")
        stack = [(i, np.eye(4), 0) for i in scene.get("nodes", [])]
        while stack:
            node_i, parent, depth = stack.pop()
            if depth > 64:
                raise doc.fail("the node hierarchy is deeper than 64 levels (a cycle?)")
            node = doc.item("nodes", node_i, f"scene {scene_i}")
            world = parent @ _node_matrix(doc, node, node_i)
            if "mesh" in node:
                placed.append((node["mesh"], world, f"node {node_i}"))
            stack += [(c, world, depth + 1) for c in node.get("children", [])]
    else:  # a file without scenes: every mesh where it stands
        placed = [(i, np.eye(4), "the mesh list") for i in range(len(doc.json.get("meshes", [])))]
    found = []
    for mesh_i, world, owner in placed:
        mesh = doc.item("meshes", mesh_i, owner)
        for prim_i, prim in enumerate(mesh.get("primitives", [])):
            if isinstance(prim, dict) and EXTENSION in (prim.get("extensions") or {}):
                found.append((prim, f"mesh {mesh_i} primitive {prim_i}", world))
    if not found:
        raise doc.fail(f"no primitive with the {EXTENSION} extension in the default scene")
    return found


def _node_matrix(doc: GltfDocument, node: dict, index: int) -> np.ndarray:
    if "matrix" in node:
        m = np.asarray(node["matrix"], np.float64)
        if m.shape != (16,):
            raise doc.fail(f"node {index}: matrix must have 16 numbers")
        return m.reshape(4, 4).T  # glTF stores column-major
    t = np.asarray(node.get("translation", (0, 0, 0)), np.float64)
    x, y, z, w = np.asarray(node.get("rotation", (0, 0, 0, 1)), np.float64)
    s = np.asarray(node.get("scale", (1, 1, 1)), np.float64)
    if t.shape != (3,) or s.shape != (3,):
        raise doc.fail(f"node {index}: translation and scale must have 3 numbers")
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(np.array([[w, x, y, z]]))[0] * s
    m[:3, 3] = t
    return m


def _read_primitive(doc: GltfDocument, prim: dict, where: str) -> SplatData:
    """One splat primitive as SplatData in the primitive's own (glTF) axes."""
    if prim.get("mode", 4) != POINTS:
        raise doc.fail(f"{where}: mode is {prim.get('mode', 4)!r}; {EXTENSION} needs POINTS (0)")
    attrs = prim.get("attributes")
    if not isinstance(attrs, dict):
        raise doc.fail(f"{where} has no attributes")
    for name in ("POSITION", ROTATION, SCALE, OPACITY):
        if name not in attrs:
            raise doc.fail(f"{where} lacks the required attribute {name}")
    n = read_accessor(doc, attrs["POSITION"], f"{where} POSITION").shape[0]

    def get(name: str, ncomp: int) -> np.ndarray:
        arr = read_accessor(doc, attrs[name], f"{where} {name}")
        if arr.shape[1] != ncomp:
            raise doc.fail(f"{where} {name} has {arr.shape[1]} components, expected {ncomp}")
        if arr.shape[0] != n:
            raise doc.fail(f"{where} {name} has {arr.shape[0]} elements but POSITION has {n}")
        return arr.astype(np.float32, copy=False)

    means, rot, scales, alpha = get("POSITION", 3), get(ROTATION, 4), get(SCALE, 3), get(OPACITY, 1)[:, 0]
    sh_dc, sh_rest = _read_sh(doc, attrs, where, get)
    extra = {k[1:]: get(k, 1)[:, 0].copy() for k in attrs if k.startswith("_") and len(k) > 1
             and doc.item("accessors", attrs[k], f"{where} {k}").get("type") == "SCALAR"}
    _check_ranges(doc, where, alpha, scales)
    a = np.clip(alpha.astype(np.float64), *_ALPHA_RANGE)
    return SplatData(
        means=np.array(means, np.float32), quats=np.ascontiguousarray(rot[:, [3, 0, 1, 2]]),
        scales_log=np.log(np.maximum(scales.astype(np.float64), _SCALE_MIN)).astype(np.float32),
        opacity_logit=np.log(a / (1.0 - a)).astype(np.float32), sh_dc=sh_dc, sh_rest=sh_rest, extra=extra)


def _read_sh(doc: GltfDocument, attrs: dict, where: str, get) -> tuple[np.ndarray, np.ndarray]:
    """(sh_dc [N, 3], sh_rest [N, K-1, 3]); COLOR_0 stands in for a missing degree 0."""
    degree = 0
    for band in range(1, 4):
        have = [sh_attribute(band, n) in attrs for n in range(2 * band + 1)]
        if any(have) and not all(have):
            missing = [sh_attribute(band, n) for n in range(2 * band + 1) if not have[n]]
            raise doc.fail(f"{where}: SH degree {band} is partly defined; missing {', '.join(missing)}")
        if all(have):
            if degree != band - 1:
                raise doc.fail(f"{where}: SH degree {band} is present but degree {band - 1} is not")
            degree = band
    if sh_attribute(0, 0) in attrs:
        sh_dc = np.array(get(sh_attribute(0, 0), 3), np.float32)
    elif "COLOR_0" in attrs:
        colour = read_accessor(doc, attrs["COLOR_0"], f"{where} COLOR_0").astype(np.float32)
        if colour.shape[1] not in (3, 4) or colour.shape[0] != get("POSITION", 3).shape[0]:
            raise doc.fail(f"{where} COLOR_0 must be VEC3 or VEC4 with one element per splat")
        sh_dc = ((colour[:, :3] - np.float32(0.5)) / np.float32(SH_C0)).astype(np.float32)
    else:
        raise doc.fail(f"{where} has neither {sh_attribute(0, 0)} nor COLOR_0: no colour")
    rest = [get(sh_attribute(band, n), 3) for band in range(1, degree + 1) for n in range(2 * band + 1)]
    sh_rest = np.stack(rest, axis=1) if rest else np.zeros((sh_dc.shape[0], 0, 3), np.float32)
    return sh_dc, np.ascontiguousarray(sh_rest, dtype=np.float32)


def _check_ranges(doc: GltfDocument, where: str, alpha: np.ndarray, scales: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):
        bad_alpha = int(((alpha < 0) | (alpha > 1)).sum())
        bad_scale = int((scales < 0).sum())
    if bad_alpha:
        raise doc.fail(f"{where}: {bad_alpha} opacities are outside 0..1")
    if bad_scale:
        raise doc.fail(f"{where}: {bad_scale} scales are negative")


def _concatenate(parts: list[SplatData]) -> SplatData:
    """One SplatData from several primitives: SH padded with zeros to the highest degree."""
    if len(parts) == 1:
        return parts[0]
    k1 = max(p.sh_rest.shape[1] for p in parts)
    common = set.intersection(*(set(p.extra) for p in parts))
    pad = [np.concatenate([p.sh_rest, np.zeros((len(p), k1 - p.sh_rest.shape[1], 3), np.float32)], axis=1)
           for p in parts]
    return SplatData(
        means=np.concatenate([p.means for p in parts]), scales_log=np.concatenate([p.scales_log for p in parts]),
        quats=np.concatenate([p.quats for p in parts]),
        opacity_logit=np.concatenate([p.opacity_logit for p in parts]),
        sh_dc=np.concatenate([p.sh_dc for p in parts]), sh_rest=np.concatenate(pad),
        extra={k: np.concatenate([p.extra[k] for p in parts]) for k in parts[0].extra if k in common})
