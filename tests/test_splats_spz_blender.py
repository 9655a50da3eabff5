"""Blender's own SPZ importer (wm.spz_import, where the Blender has one) against our SPZ files and reader.

Blender's importer is an independent reader of the format, axes included: the native splat
attributes it makes from a file must be what our reader makes of the same file.
"""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from helpers import scene, splat_transform

from blender_gs_addon.splats import write_ply
from blender_gs_addon.splats.spz import read_spz, write_spz

pytestmark = [pytest.mark.blender,
              pytest.mark.skipif("spz_import" not in dir(bpy.ops.wm),
                                 reason="this Blender has no SPZ importer (wm.spz_import)")]


def blender_import(path) -> dict[str, np.ndarray]:
    """The native attributes Blender's importer makes of ``path``, as [N, k] arrays."""
    assert bpy.ops.wm.spz_import(filepath=str(path)) == {"FINISHED"}
    attrs = bpy.context.active_object.data.attributes
    n = len(attrs["position"].data)

    def get(name: str, key: str, width: int) -> np.ndarray:
        buf = np.empty(n * width, np.float32)
        attrs[name].data.foreach_get(key, buf)
        return buf.reshape(n, width)

    out = {"position": get("position", "vector", 3), "scale": get("scale", "vector", 3),
           "rotation": get("rotation", "value", 4), "base": get("radiance:base", "vector", 4)}
    k = 0
    while f"radiance:sh_{k}" in attrs:
        out[f"sh_{k}"] = get(f"radiance:sh_{k}", "vector", 3)
        k += 1
    return out


def assert_same_splats(native: dict[str, np.ndarray], path) -> None:
    ours = read_spz(path)
    np.testing.assert_array_equal(native["position"], ours.means)
    np.testing.assert_allclose(native["scale"], ours.scales(), rtol=1e-6)
    q = ours.unit_quats()
    q *= np.sign((q * native["rotation"]).sum(1, keepdims=True))  # q and -q are the same rotation
    np.testing.assert_allclose(native["rotation"], q, atol=1e-6)
    np.testing.assert_allclose(native["base"][:, :3], ours.sh_dc, atol=1e-6)
    np.testing.assert_allclose(native["base"][:, 3], ours.alphas(), atol=1e-6)
    assert len([k for k in native if k.startswith("sh_")]) == ours.sh_rest.shape[1]
    for k in range(ours.sh_rest.shape[1]):
        np.testing.assert_allclose(native[f"sh_{k}"], ours.sh_rest[:, k], atol=1e-6)


@pytest.mark.parametrize("version", [3, 4])
def test_blender_reads_our_files_as_our_reader_does(tmp_path, version):
    data = scene(300, 3, seed=version)
    data.opacity_logit[:] = data.opacity_logit.clip(-5, 5)  # alphas off the clamped ends
    write_spz(tmp_path / "ours.spz", data, version=version)
    native = blender_import(tmp_path / "ours.spz")
    assert_same_splats(native, tmp_path / "ours.spz")
    # and that is the source in Blender's axes, within the format's quantisation
    np.testing.assert_allclose(native["position"], data.means, atol=2.0 ** -13 + 1e-6)


def test_blender_and_our_reader_agree_on_a_file_of_the_independent_tool(tmp_path):
    data = scene(300, 2, seed=7)
    data.opacity_logit[:] = data.opacity_logit.clip(-5, 5)
    write_ply(tmp_path / "src.ply", data)
    splat_transform(tmp_path / "src.ply", tmp_path / "theirs.spz")
    assert_same_splats(blender_import(tmp_path / "theirs.spz"), tmp_path / "theirs.spz")
