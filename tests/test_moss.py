"""Moss on the rocks and logs of moist biomes: only on faces that look up (or north), in
patches, with a fuzzy bump; none in dry biomes. Read back from Cycles' diffuse-colour and
normal passes of a sphere against its analytic normals."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly import factories
from procgen.assembly.biomes import BIOMES
from procgen.assembly.config import SceneConfig
from procgen.core.seeding import stream
from procgen.materials import moss
from tests.helpers import render_passes

pytestmark = pytest.mark.blender

PX, R = 128, 0.5


def _sphere_passes(tmp_path, biome: str, top: float = 0.0):
    """Diffuse colour [PX, PX, 3], shading normals [PX, PX, 3] and the analytic normals
    [PX, PX, 3] (NaN off the sphere) of a rock of ``biome`` seen from +x, orthographically;
    with ``top``, a ``top`` metres wide square of its top seen from above instead."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mat = factories.rock_materials(SceneConfig(), BIOMES[biome], stream(4, "rock_materials"))["rock"]
    bpy.ops.mesh.primitive_uv_sphere_add(segments=128, ring_count=64, radius=R)
    bpy.ops.object.shade_smooth()
    bpy.context.object.data.materials.append(mat)
    at, turn = (5.0, 0.0, 0.0), (np.pi / 2, 0.0, np.pi / 2)  # right +y, up +z
    if top:
        at, turn = (0.0, 0.0, 5.0), (0.0, 0.0, np.pi / 2)  # right +y, up -x
    passes = render_passes(tmp_path / f"{biome}.exr", top or 2 * R, PX, at, turn)
    k = ((np.arange(PX) + 0.5) / PX - 0.5) * (top or 2 * R)
    y, z = np.meshgrid(k, -k)  # rows top-down
    x = np.sqrt(np.maximum(R * R - y * y - z * z, 0.0))
    n = np.stack([x, y, z], -1) / R
    n[y * y + z * z > (0.97 * R) ** 2] = np.nan  # off the sphere and its rim
    if top:  # the same sphere turned: the camera's up is -x, its depth axis z
        n = np.stack([-n[..., 2], n[..., 1], n[..., 0]], -1)
    return passes["DiffCol"][..., :3], passes["Normal"][..., :3], n


def test_moss_only_on_faces_that_look_up_or_north(tmp_path):
    colour, shading, n = _sphere_passes(tmp_path, "wetland")
    on = ~np.isnan(n[..., 0])
    green = (colour[..., 1] > 1.15 * colour[..., 0]) & (colour[..., 1] > 2.0 * colour[..., 2]) & on
    up = n[..., 2] + moss.NORTH * n[..., 1]
    assert not (green & (up < moss.MOSS_UP[0] - 0.03)).any()  # none under the line (one pixel's slack)
    assert green[up < 0.0].sum() == 0 and green[n[..., 2] < 0.0].sum() == 0
    top = on & (up > moss.MOSS_UP[1])
    assert 0.3 < green[top].mean() < 0.95, green[top].mean()  # patches, not a coat
    # facing north counts: at the same height the north side has more than the south
    band = on & (np.abs(n[..., 2] - 0.35) < 0.1)
    assert green[band & (n[..., 1] > 0.5)].mean() > green[band & (n[..., 1] < -0.5)].mean()


def test_moss_is_fuzzy(tmp_path):
    """Seen from above in 1.6 mm pixels, the moss's own bump turns the shading normal away from
    the smooth sphere's (a moss without one would shade with the sphere's normal: no tilt)."""
    colour, shading, n = _sphere_passes(tmp_path, "wetland", top=0.2)
    green = (colour[..., 1] > 1.15 * colour[..., 0]) & (colour[..., 1] > 2.0 * colour[..., 2])
    assert green.mean() > 0.2
    tilt = np.linalg.norm(shading - n, axis=-1)
    assert np.median(tilt[green]) > 0.05, np.median(tilt[green])


def test_no_moss_in_dry_biomes(tmp_path):
    colour, _, n = _sphere_passes(tmp_path, "desert")
    green = (colour[..., 1] > 1.15 * colour[..., 0]) & (colour[..., 1] > 2.0 * colour[..., 2])
    assert not green[~np.isnan(n[..., 0])].any()


def test_which_materials_get_moss():
    config = SceneConfig()
    for name, biome in BIOMES.items():
        rock = factories.rock_materials(config, biome, stream(0, "rock"))["rock"]
        log = factories.bark_only("log", "deadwood", mossy=True)(config, biome, stream(0, "log"))["log_bark"]
        dead = factories.bark_only("tree_dead", "deadwood")(config, biome, stream(0, "tree_dead"))["tree_dead_bark"]
        mossy = name in moss.MOIST_BIOMES
        assert bool(rock.get("gs_moss")) == mossy and bool(log.get("gs_moss")) == mossy and not dead.get("gs_moss")


def test_facing_formula():
    a = np.radians(np.linspace(0, 180, 181))
    f = moss.facing(np.stack([np.sin(a), np.zeros_like(a), np.cos(a)], -1))
    assert f[0] == 1.0 and f[-1] == 0.0 and np.all(np.diff(f) <= 0)
    assert moss.facing(np.array([0.0, 1.0, 0.3])) > moss.facing(np.array([0.0, -1.0, 0.3]))
