"""The kelp forest (underwater biome): plants in stands rather than spread evenly (nearest
neighbours against uniform points in the same area), tall enough to reach a band under the
surface, where their stipes spread level as a canopy."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene

pytestmark = pytest.mark.blender


def _kelp(seed: int) -> tuple[list, float]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset("tiny", seed=seed, biome="underwater"))
    plants = [ob for ob in bpy.data.objects if ob.name.startswith("kelp_")]
    return plants, bpy.data.objects["water"].location.z


def _mean_nearest(xy: np.ndarray) -> float:
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_the_kelp_stands_in_stands(seed):
    plants, _ = _kelp(seed)
    xy = np.array([ob.location.xy[:] for ob in plants])
    assert len(xy) >= 30
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    rng = np.random.default_rng(0)
    uniform = np.median([_mean_nearest(rng.uniform(lo, hi, xy.shape)) for _ in range(50)])
    assert _mean_nearest(xy) < 0.7 * uniform, (_mean_nearest(xy), uniform)


def test_the_kelp_reaches_under_the_surface_and_spreads_there():
    plants, level = _kelp(0)
    dg = bpy.context.evaluated_depsgraph_get()
    tops, spreads = [], []
    for ob in plants:
        me = ob.evaluated_get(dg).data
        co = np.empty(len(me.vertices) * 3)
        me.vertices.foreach_get("co", co)
        m = np.array(ob.matrix_world)
        world = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
        top = world[:, 2].max()
        near_top = world[world[:, 2] > top - 0.5, :2]
        tops.append(top)
        spreads.append(np.ptp(near_top, axis=0).max())
    tops = np.array(tops)
    assert tops.max() < level - 0.3  # under the waves (test_underwater checks the troughs)
    assert np.median(level - tops) < 2.0  # most canopies within 2 m of the surface
    assert np.median(spreads) > 1.0  # the top half metre of a plant spreads more than a metre
