"""Rock at arm's length: the rock material's micro-relief (cracks, pits, grain) turns the
shading normal at centimetre scale and leaves the rock's lumps and colour, as seen from a
distance, as they were; read back from Cycles' normal and diffuse-colour passes."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly import factories
from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.core.seeding import stream
from procgen.materials import rock_relief, surfaces
from tests.helpers import render_passes

pytestmark = pytest.mark.blender

SIDE, PX = 0.5, 128  # a 0.5 m square of rock in 4 mm pixels


def _rock(micro: bool):
    rng = stream(3, "test_rock")
    mat = surfaces.make_material("rock", "rock", rng, 1.0, tint=(0.19, 0.18, 0.165))
    if micro:
        rock_relief.add_micro_relief(mat, rng.spawn(1)[0])
    return mat


def _passes(tmp_path, micro: bool) -> tuple[np.ndarray, np.ndarray]:
    """World normals [PX, PX, 3] and diffuse colour [PX, PX, 3] of a level plane of rock
    seen from straight above."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mat = _rock(micro)
    me = bpy.data.meshes.new("plane")
    me.from_pydata([(-3, -3, 0), (3, -3, 0), (3, 3, 0), (-3, 3, 0)], [], [(0, 1, 2, 3)])
    me.materials.append(mat)
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("plane", me))
    passes = render_passes(tmp_path / f"{micro}.exr", SIDE, PX, at=(1.3, 0.7, 4.0))
    return passes["Normal"][..., :3], passes["DiffCol"][..., :3]


def _blur(a: np.ndarray, width: int) -> np.ndarray:
    """Box blur over ``width`` pixels along both image axes (edges cropped)."""
    k = np.ones(width) / width
    a = np.apply_along_axis(lambda r: np.convolve(r, k, "valid"), 0, a)
    return np.apply_along_axis(lambda r: np.convolve(r, k, "valid"), 1, a)


def test_cracks_pits_and_grain_turn_the_normal_at_centimetre_scale(tmp_path):
    plain_n, plain_c = _passes(tmp_path, False)
    micro_n, micro_c = _passes(tmp_path, True)
    cm = round(0.05 / (SIDE / PX)) | 1  # 5 cm in pixels, odd so the blur is centred
    crop = (cm - 1) // 2

    def fine(n):  # what is left of the tilt (x, y) after a 5 cm blur
        return n[crop:-crop, crop:-crop, :2] - _blur(n[..., :2], cm)
    tilt_plain, tilt_micro = np.std(fine(plain_n)), np.std(fine(micro_n))
    assert tilt_micro > 0.05 and tilt_micro > 4 * tilt_plain, (tilt_micro, tilt_plain)
    # the rock's own lumps (decimetres) are the same: the 5 cm blurred tilt barely moves
    lumps = np.abs(_blur(micro_n[..., :2], cm) - _blur(plain_n[..., :2], cm))
    assert np.median(lumps) < 0.3 * tilt_micro
    # from a distance the colour is the same: the cracks' and pits' darkening is a few per cent
    ratio = micro_c.mean(axis=(0, 1)) / plain_c.mean(axis=(0, 1))
    assert np.all(np.abs(ratio - 1.0) < 0.05), ratio
    assert (micro_c.mean(-1) < 0.8 * plain_c.mean(-1)).mean() > 0.005  # but cracks and pits show


def test_scene_rocks_get_it_and_leave_the_stream_alone():
    config, biome = SceneConfig(), BIOMES["broadleaf_forest"]
    rng = stream(5, "rock_materials")
    mat = factories.rock_materials(config, biome, rng)["rock"]
    nodes = mat.node_tree.nodes
    fine = next(n for n in nodes if n.label == "rock_micro_relief")
    coarse = next(n for n in nodes if n.type == "BUMP" and n is not fine)
    assert coarse.inputs["Normal"].links[0].from_node == fine and fine.inputs["Distance"].default_value == 1.0
    ref = stream(5, "rock_materials")
    surfaces.make_material("rock", "ref", ref, config.materials.variation, tint=biome.ground.rock_tint)
    assert rng.uniform() == ref.uniform()
