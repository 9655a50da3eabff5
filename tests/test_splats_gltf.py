"""glTF KHR_gaussian_splatting: round trips, the file as the extension defines it, axes, node
transforms, and clear errors on bad files (no Node needed; the independent tools are in
test_splats_gltf_oracles.py)."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from helpers import assert_same_splats, splats

from blender_gs_addon.splats import SplatData, SplatFormatError, io
from blender_gs_addon.splats.gltf import BLENDER_TO_GLTF, read_gltf, sh_attribute, write_gltf
from blender_gs_addon.splats.sh_rotation import eval_sh_colour
from blender_gs_addon.splats.transform import bake_transform, quat_to_matrix

PREFIX = "KHR_gaussian_splatting:"


def glb_json(path) -> tuple[dict, bytes]:
    """The JSON and binary chunks of a .glb, decoded here without the reader under test."""
    with open(path, "rb") as f:
        raw = f.read()
    magic, version, length = struct.unpack_from("<4sII", raw)
    assert (magic, version, length) == (b"glTF", 2, len(raw))
    jlen, jkind = struct.unpack_from("<II", raw, 12)
    blen, bkind = struct.unpack_from("<II", raw, 20 + jlen)
    assert (jkind, bkind) == (0x4E4F534A, 0x004E4942) and jlen % 4 == 0 and blen % 4 == 0
    return json.loads(raw[20:20 + jlen]), raw[28 + jlen:28 + jlen + blen]


def raw_attribute(doc: dict, blob: bytes, name: str) -> np.ndarray:
    acc = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"][name]]
    view = doc["bufferViews"][acc["bufferView"]]
    ncomp = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    dtype = {5126: "<f4", 5121: "u1"}[acc["componentType"]]
    return np.frombuffer(blob, dtype, acc["count"] * ncomp, view["byteOffset"] + acc.get("byteOffset", 0)) \
        .reshape(-1, ncomp)


# ----------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_lossless_within_float32(tmp_path, suffix, degree):
    data = splats(degree=degree, extra=True)
    path = tmp_path / f"s{suffix}"
    io.write_splats(path, data)
    back = io.read_splats(path)
    assert back.sh_degree == degree
    np.testing.assert_array_equal(back.means, data.means)  # the axis swap is exact for positions
    assert_same_splats(back, data)
    np.testing.assert_array_equal(back.extra["segment_id"], data.extra["segment_id"])
    if suffix == ".gltf":
        assert (tmp_path / "s.bin").exists()


def test_round_trip_without_axis_conversion(tmp_path):
    data = splats(degree=2)
    write_gltf(tmp_path / "raw.glb", data, convert_axes=False)
    back = read_gltf(tmp_path / "raw.glb", convert_axes=False)
    np.testing.assert_array_equal(back.means, data.means)
    np.testing.assert_array_equal(back.sh_rest, data.sh_rest)  # nothing rotated: bit-exact
    assert_same_splats(back, data)


def test_saturated_opacities_stay_finite_and_round_trip(tmp_path):
    data = splats(n=4, degree=0)
    data.opacity_logit[:] = (-200.0, -30.0, 30.0, 200.0)
    write_gltf(tmp_path / "o.glb", data)
    back = read_gltf(tmp_path / "o.glb")
    assert np.isfinite(back.opacity_logit).all()
    np.testing.assert_allclose(back.alphas(), data.alphas(), atol=1e-7)


# ----------------------------------------------------------------------------- the file itself

def test_file_holds_what_the_extension_defines(tmp_path):
    data = splats(degree=3)
    write_gltf(tmp_path / "s.glb", data)
    doc, blob = glb_json(tmp_path / "s.glb")
    assert doc["asset"]["version"] == "2.0" and doc["extensionsUsed"] == ["KHR_gaussian_splatting"]
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["mode"] == 0  # POINTS
    ext = prim["extensions"]["KHR_gaussian_splatting"]
    assert ext["kernel"] == "ellipse" and ext["colorSpace"] == "srgb_rec709_display"
    want = {"POSITION", "COLOR_0", PREFIX + "ROTATION", PREFIX + "SCALE", PREFIX + "OPACITY"}
    want |= {sh_attribute(band, n) for band in range(4) for n in range(2 * band + 1)}
    assert set(prim["attributes"]) == want
    gl = bake_transform(data, BLENDER_TO_GLTF)  # the same splats in glTF's axes
    pos = raw_attribute(doc, blob, "POSITION")
    np.testing.assert_array_equal(pos, data.means[:, [0, 2, 1]] * np.float32([1, 1, -1]))
    pos_acc = doc["accessors"][prim["attributes"]["POSITION"]]
    assert pos_acc["min"] == pos.min(axis=0).tolist() and pos_acc["max"] == pos.max(axis=0).tolist()
    xyzw = raw_attribute(doc, blob, PREFIX + "ROTATION")
    np.testing.assert_allclose(np.linalg.norm(xyzw, axis=1), 1.0, atol=1e-6)  # unit, scalar last
    np.testing.assert_allclose(np.abs((xyzw[:, [3, 0, 1, 2]] * gl.unit_quats()).sum(1)), 1.0, atol=1e-6)
    np.testing.assert_allclose(raw_attribute(doc, blob, PREFIX + "SCALE"), np.exp(data.scales_log), rtol=1e-6)
    np.testing.assert_allclose(raw_attribute(doc, blob, PREFIX + "OPACITY")[:, 0],
                               1 / (1 + np.exp(-data.opacity_logit.astype(np.float64))), atol=1e-7)
    np.testing.assert_array_equal(raw_attribute(doc, blob, sh_attribute(0, 0)), data.sh_dc)
    np.testing.assert_array_equal(raw_attribute(doc, blob, sh_attribute(2, 3)), gl.sh_rest[:, 2 * 2 - 1 + 3])
    rgba = raw_attribute(doc, blob, "COLOR_0")
    assert doc["accessors"][prim["attributes"]["COLOR_0"]]["normalized"] is True
    np.testing.assert_allclose(rgba[:, :3] / 255.0, data.colors(), atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(rgba[:, 3] / 255.0, data.alphas(), atol=0.5 / 255 + 1e-6)


def test_axis_conversion_keeps_the_look_from_every_direction(tmp_path):
    """In glTF's axes each splat is the same ellipsoid with the same view-dependent colour."""
    data = splats(n=50, degree=3, seed=2)
    write_gltf(tmp_path / "s.glb", data)
    gl = read_gltf(tmp_path / "s.glb", convert_axes=False)
    A = BLENDER_TO_GLTF[:3, :3]
    np.testing.assert_array_equal(gl.means[:, 1], data.means[:, 2])  # Blender up is glTF up (+Y)
    np.testing.assert_array_equal(gl.means[:, 2], -data.means[:, 1])
    cov = lambda d: (quat_to_matrix(d.quats) * d.scales()[:, None, :].astype(np.float64) ** 2) @ \
        np.transpose(quat_to_matrix(d.quats), (0, 2, 1))  # noqa: E731  R S^2 R^T
    np.testing.assert_allclose(cov(gl), A @ cov(data) @ A.T, rtol=1e-5, atol=1e-9)
    dirs = np.random.default_rng(5).normal(size=(len(data), 3))
    np.testing.assert_allclose(eval_sh_colour(gl.sh_dc, gl.sh_rest, dirs @ A.T),
                               eval_sh_colour(data.sh_dc, data.sh_rest, dirs), atol=1e-5)


def test_node_transforms_are_applied_on_reading(tmp_path):
    data = splats(n=60, degree=1)
    write_gltf(tmp_path / "s.gltf", data, convert_axes=False)
    doc = json.loads((tmp_path / "s.gltf").read_text())
    doc["nodes"] = [{"children": [1], "translation": [1.0, -2.0, 0.5]},
                    {"mesh": 0, "rotation": [0.0, 0.6, 0.0, 0.8], "scale": [2.0, 2.0, 2.0]}]
    doc["scenes"] = [{"nodes": [0]}]
    (tmp_path / "s.gltf").write_text(json.dumps(doc))
    M = np.eye(4)
    M[:3, :3] = quat_to_matrix(np.array([[0.8, 0.0, 0.6, 0.0]]))[0] * 2.0
    M[:3, 3] = (1.0, -2.0, 0.5)
    assert_same_splats(read_gltf(tmp_path / "s.gltf", convert_axes=False), bake_transform(data, M), atol=1e-5)


def test_colour_falls_back_to_color_0_without_sh(tmp_path):
    data = splats(n=30, degree=0)
    write_gltf(tmp_path / "s.gltf", data)
    doc = json.loads((tmp_path / "s.gltf").read_text())
    del doc["meshes"][0]["primitives"][0]["attributes"][sh_attribute(0, 0)]
    (tmp_path / "s.gltf").write_text(json.dumps(doc))
    back = read_gltf(tmp_path / "s.gltf")
    np.testing.assert_allclose(back.colors(), data.colors(), atol=0.5 / 255 + 1e-6)


# ----------------------------------------------------------------------------- bad files

def _edit_gltf(tmp_path, change) -> str:
    """A valid .gltf + .bin of a few splats, its JSON passed through ``change(doc)``."""
    path = tmp_path / "bad.gltf"
    write_gltf(path, splats(n=8, degree=1))
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return str(path)


def _attrs(doc):
    return doc["meshes"][0]["primitives"][0]["attributes"]


BAD_JSON = {
    "an attribute's accessor is missing": (lambda d: _attrs(d).update({PREFIX + "SCALE": 99}), "accessor 99"),
    "an accessor's buffer view is out of range": (lambda d: d["accessors"][2].update(bufferView=50),
                                                  "buffer view 50"),
    "a buffer view's buffer is out of range": (lambda d: d["bufferViews"][0].update(buffer=3), "buffer 3"),
    "a node's mesh is out of range": (lambda d: d["nodes"][0].update(mesh=4), "mesh 4"),
    "the scene's node is out of range": (lambda d: d["scenes"][0].update(nodes=[7]), "node 7"),
    "a required attribute is missing": (lambda d: _attrs(d).pop(PREFIX + "OPACITY"), "OPACITY"),
    "an SH degree is partly there": (lambda d: _attrs(d).pop(sh_attribute(1, 2)), "partly defined"),
    "the primitive is not POINTS": (lambda d: d["meshes"][0]["primitives"][0].update(mode=4), "POINTS"),
    "an accessor count exceeds its view": (lambda d: d["accessors"][0].update(count=9), "needs"),
    "a rotation of the wrong type": (lambda d: d["accessors"][2].update(type="VEC3"), "components"),
    "no splat primitive": (lambda d: d["meshes"][0]["primitives"][0].pop("extensions"), "no primitive"),
    "the buffer is shorter than declared": (lambda d: d["buffers"][0].update(byteLength=10 ** 6), "truncated"),
    "a sparse accessor": (lambda d: d["accessors"][3].update(sparse={"count": 1}), "sparse"),
    "not glTF 2.0": (lambda d: d["asset"].update(version="1.0"), "glTF 2.0"),
    "a node cycle": (lambda d: d["nodes"].__setitem__(0, {"mesh": 0, "children": [0]}), "cycle"),
    "a required extension we cannot read": (lambda d: d.update(extensionsRequired=["EXT_meshopt_compression"]),
                                            "requires EXT_meshopt_compression"),
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_bad_gltf_json_gives_a_clear_error(tmp_path, case):
    change, phrase = BAD_JSON[case]
    path = _edit_gltf(tmp_path, change)
    with pytest.raises(SplatFormatError) as err:
        read_gltf(path)
    assert "bad.gltf" in str(err.value) and phrase in str(err.value), str(err.value)


def test_a_glb_with_a_wrong_magic_says_so(tmp_path):
    data = splats(n=8, degree=0)
    write_gltf(tmp_path / "s.glb", data, convert_axes=False)
    raw = bytearray((tmp_path / "s.glb").read_bytes())
    raw[:4] = b"GLTF"
    (tmp_path / "bad.glb").write_bytes(bytes(raw))
    with pytest.raises(SplatFormatError) as err:
        read_gltf(tmp_path / "bad.glb")
    assert str(err.value) == f"{tmp_path / 'bad.glb'}: not a .glb file: it starts with b'GLTF', not the magic b'glTF'"


def test_out_of_range_values_are_rejected(tmp_path):
    data = splats(n=8, degree=0)
    write_gltf(tmp_path / "s.glb", data, convert_axes=False)
    raw = bytearray((tmp_path / "s.glb").read_bytes())
    doc, blob = glb_json(tmp_path / "s.glb")
    view = doc["bufferViews"][doc["accessors"][_attrs(doc)[PREFIX + "OPACITY"]]["bufferView"]]
    start = len(raw) - len(blob) + view["byteOffset"]
    raw[start:start + 4] = struct.pack("<f", 1.5)
    (tmp_path / "s.glb").write_bytes(bytes(raw))
    with pytest.raises(SplatFormatError, match="1 opacities are outside 0..1"):
        read_gltf(tmp_path / "s.glb")


def test_missing_bin_file_is_named(tmp_path):
    write_gltf(tmp_path / "s.gltf", splats(n=5))
    (tmp_path / "s.bin").unlink()
    with pytest.raises(SplatFormatError, match=r"s\.gltf: buffer 0: cannot read .*s\.bin"):
        read_gltf(tmp_path / "s.gltf")


def test_truncated_glb_gives_a_clear_error_at_every_length(tmp_path):
    write_gltf(tmp_path / "s.glb", splats(n=6, degree=1))
    raw = (tmp_path / "s.glb").read_bytes()
    for cut in sorted({0, 4, 11, 12, 19, 20, 100, len(raw) // 2, len(raw) - 4, len(raw) - 1}):
        (tmp_path / "t.glb").write_bytes(raw[:cut])
        with pytest.raises(SplatFormatError) as err:
            read_gltf(tmp_path / "t.glb")
        assert "t.glb" in str(err.value) and ("truncated" in str(err.value) or "empty" in str(err.value)), \
            f"cut at {cut}: {err.value}"


def test_fuzzed_files_raise_only_splat_format_errors(tmp_path):
    """Random byte flips and JSON edits: a clear error or valid splats, never another exception."""
    write_gltf(tmp_path / "s.glb", splats(n=6, degree=2))
    raw = (tmp_path / "s.glb").read_bytes()
    rng = np.random.default_rng(11)
    outcomes = {"error": 0, "read": 0}
    for i in range(300):
        buf = bytearray(raw)
        # flip bytes mostly in the JSON chunk, where structure lives
        for pos in rng.integers(12, min(len(buf), 20 + int(rng.integers(50, 4000))), size=int(rng.integers(1, 6))):
            buf[pos] = int(rng.integers(0, 256))
        if i % 5 == 0:
            buf = buf[:int(rng.integers(0, len(buf)))]
        (tmp_path / "f.glb").write_bytes(bytes(buf))
        try:
            d = read_gltf(tmp_path / "f.glb")
        except SplatFormatError as exc:
            assert "f.glb" in str(exc)
            outcomes["error"] += 1
        else:
            d.validate()
            outcomes["read"] += 1
    assert outcomes["error"] > 100, outcomes  # the corruptions were seen


def test_writing_rejects_what_gltf_cannot_hold(tmp_path):
    with pytest.raises(SplatFormatError, match="0 splats"):
        write_gltf(tmp_path / "e.glb", SplatData.empty_like_degree(0, 0))
    with pytest.raises(SplatFormatError, match="colorSpace"):
        write_gltf(tmp_path / "c.glb", splats(n=3), color_space="acescg")
    assert not list(tmp_path.iterdir())  # nothing half-written
