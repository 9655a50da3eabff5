"""Snow drifted by the wind on the snow-covered biomes' height field: shelter behind a wall
against its analytic angle, deeper snow in the lee of a hill than on its windward side, a
filled hollow, the same drifts mirrored with the wind, nothing on cliffs, at the water or on
open flat ground; the generated arctic's terrain mesh is the drifted height field."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from helpers import tiny_arctic_drifted

from procgen.terrain import snow_drifts

pytestmark = pytest.mark.blender

N, SIZE = 161, 120.0
C = np.linspace(-SIZE / 2, SIZE / 2, N)
X, Y = np.meshgrid(C, C)  # row j = y
CELL = C[1] - C[0]


def _hill_and_hollow():
    return 4.0 * np.exp(-(X ** 2 + Y ** 2) / 50.0) - 2.0 * np.exp(-((X - 30) ** 2 + (Y + 20) ** 2) / 32.0)


def test_shelter_behind_a_wall_is_its_angle():
    z = np.where(X <= 0.0, 3.0, 0.0)
    s = snow_drifts.shelter(z, CELL, np.array([1.0, 0.0]))
    for x in (3.0, 6.0, 12.0, 24.0):
        i = int(np.argmin(np.abs(C - x)))
        d = C[i]
        assert 3.0 / (d + CELL) <= s[N // 2, i] <= 3.0 / d + 1e-9  # tan of the angle up to the wall's top
    assert np.all(s[:, X[0] < -snow_drifts.REACH[1] - 1] <= 0)  # on the plateau: nothing upwind is higher


def test_snow_drifts_behind_a_hill_and_fills_a_hollow():
    z = _hill_and_hollow()
    dz = snow_drifts.drift(z, CELL, (1.0, 0.0)) - z
    band = np.abs(Y) < 4
    lee = dz[band & (X > 4) & (X < 20)].mean()
    windward = dz[band & (X < -4) & (X > -20)].mean()
    assert lee > 0.3 and lee > 5 * max(windward, 0.01), (lee, windward)
    pit = np.unravel_index(np.argmin(z), z.shape)
    assert dz[pit] > 0.3 * -z[pit]  # the hollow a third filled at least
    assert np.all(np.abs(dz[(X < -40) & (Y > 30)]) < 1e-9)  # open flat ground keeps its height
    assert dz.max() <= snow_drifts.DEPTH + snow_drifts.FILL_MAX


def test_drifts_turn_with_the_wind():
    z = _hill_and_hollow()
    east = snow_drifts.drift(z, CELL, (1.0, 0.0))
    west = snow_drifts.drift(z[:, ::-1], CELL, (-1.0, 0.0))[:, ::-1]  # the mirrored world, mirrored back
    np.testing.assert_allclose(east, west, atol=1e-9)


def test_no_snow_holds_on_cliffs_or_at_the_water():
    steep = 1.8 * X  # about 61 degrees, steeper than snow holds
    assert np.array_equal(snow_drifts.drift(steep, CELL, (1.0, 0.0)), steep)
    z = _hill_and_hollow()
    wet = snow_drifts.drift(z, CELL, (1.0, 0.0), water_level=0.5) - z
    assert np.all(wet[z < 0.5] == 0.0)


def test_the_arctic_terrain_is_the_drifted_heightfield():
    _, bare, drifted = tiny_arctic_drifted()
    me = bpy.data.objects["terrain"].data
    v = np.array([bpy.data.objects["terrain"].matrix_world @ p.co for p in me.vertices])
    inside = (np.abs(v[:, 0]) < bare.size / 2 - 1) & (np.abs(v[:, 1]) < bare.size / 2 - 1)
    v = v[inside]
    assert np.median(np.abs(v[:, 2] - drifted.height(v[:, 0], v[:, 1]))) < 0.01
    assert np.abs(drifted.z - bare.z).max() > 0.3  # and the drifts are there to see
