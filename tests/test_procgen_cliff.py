"""The cliff biome's wall holds what a height field cannot: vertical lines that pass through
rock, out into the air under an overhang and down to the ground. Its top edge is not level.
Checked with Blender's own ray casts on the generated scene."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene

pytestmark = pytest.mark.blender


def _hits_down(scene, dg, x: float, y: float, top: float) -> list[tuple[str, float, float]]:
    """(object name, height, normal z) of every surface a vertical line at (x, y) crosses, from above."""
    hits, z = [], top
    for _ in range(8):
        ok, loc, normal, _, ob, _ = scene.ray_cast(dg, Vector((x, y, z)), Vector((0.0, 0.0, -1.0)))
        if not ok:
            break
        hits.append((ob.name, loc.z, normal.z))
        z = loc.z - 1e-3
    return hits


@pytest.fixture(scope="module")
def cliff_columns():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="cliff"))
    scene = bpy.context.scene
    dg = bpy.context.evaluated_depsgraph_get()
    cliff = scene.objects["cliff"]
    v = np.array([cliff.matrix_world @ p.co for p in cliff.data.vertices])
    lo, hi = v.min(axis=0), v.max(axis=0)
    xs, ys = np.linspace(lo[0], hi[0], 60), np.linspace(lo[1], hi[1], 60)
    terrain = scene.objects["terrain"]
    to_local = terrain.matrix_world.inverted()
    columns = []
    for x in xs:
        for y in ys:
            ok, loc, _, _ = terrain.ray_cast(to_local @ Vector((x, y, hi[2] + 50.0)), Vector((0.0, 0.0, -1.0)))
            ground = (terrain.matrix_world @ loc).z if ok else None  # the height field alone, under the rock
            columns.append((_hits_down(scene, dg, x, y, hi[2] + 50.0), ground))
    return columns


def test_the_wall_overhangs_open_ground(cliff_columns):
    # Rock above, its underside facing down, then air, then the ground below.
    overhung = [h for h, _ in cliff_columns
                if any(name == "cliff" and nz < -0.2 and any(z2 < z - 0.5 for _, z2, _ in h[i + 1:])
                       for i, (name, z, nz) in enumerate(h))]
    assert len(overhung) >= 20, f"{len(overhung)} of {len(cliff_columns)} vertical lines pass under an overhang"


def test_the_top_edge_rises_and_falls(cliff_columns):
    # The wall's height over the ground in front of it: a wall of even height (a dam) has its
    # tallest columns within ~0.4 m of the typical one.
    rise = np.array([h[0][1] - ground for h, ground in cliff_columns
                     if h and h[0][0] == "cliff" and ground is not None])
    assert len(rise) > 200
    assert np.percentile(rise, 99) - np.percentile(rise, 50) > 1.5
