"""The ocean's moving foam (``procgen.terrain.surf``, no Blender): it rides the crests, travels
with a wave at the wave's own speed, and foams every crest near the shore but only the highest
out at sea."""
from __future__ import annotations

import numpy as np
import pytest

from procgen.terrain.surf import foam, sigma, steepen, wave_height
from procgen.terrain.water import wave_params

FADE = (1e3, 1.1e3)  # far beyond the test's points: no fade


def test_the_foam_travels_with_the_wave_at_its_phase_speed():
    a, k, w = 0.2, 2 * np.pi / 8.0, np.sqrt(9.81 * 2 * np.pi / 8.0)
    params = [[a, k, 0.0, w, 0.3]]
    x = np.linspace(0.0, 16.0, 1601)
    y = np.zeros_like(x)
    shore = np.full_like(x, 0.5)
    dt = 0.37
    before = foam(wave_height(params, FADE, x, y, 0.0), shore, params)
    after = foam(wave_height(params, FADE, x, y, dt), shore, params)
    shift = w / k * dt  # the crests move on by the phase speed times the time
    moved = foam(wave_height(params, FADE, x - shift, y, 0.0), shore, params)
    assert np.abs(after - before).max() > 0.3  # it does move
    np.testing.assert_allclose(after, moved, atol=1e-9)
    crest = x[np.argmax(wave_height(params, FADE, x[:800], y[:800], dt))]
    at_crest = after[np.searchsorted(x, crest)]
    assert at_crest == pytest.approx(float(foam(np.array(a), np.array(0.5), params)), abs=1e-3)
    assert at_crest == after.max()  # the most foam on the crest


def test_foam_lies_on_the_crests_and_thickens_towards_the_shore():
    params = wave_params("ocean", np.random.default_rng(3))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-30, 30, (2, 20000))
    h = wave_height(params, FADE, x, y, 1.5)
    deep, shallow = foam(h, np.zeros_like(h), params), foam(h, np.full_like(h, 0.8), params)
    assert 0.005 < (deep > 0).mean() < 0.25  # sparse whitecaps at sea
    assert (shallow > 0).mean() > 2 * (deep > 0).mean()  # the shallows foam on every wave
    assert h[deep > 0].min() > sigma(params)  # whitecaps only on the high crests
    assert np.corrcoef(h, shallow)[0, 1] > 0.6  # the breakers' foam follows the wave's height
    troughs = h < -sigma(params)
    assert shallow[troughs].max() == 0.0  # none in the troughs


def test_the_crests_peak_in_the_shallows_and_the_troughs_stay():
    params = wave_params("ocean", np.random.default_rng(5))
    x = np.linspace(-40, 40, 40001)
    h = wave_height(params, FADE, x, np.zeros_like(x), 0.7)
    deep, shallow = steepen(h, np.zeros_like(h), params), steepen(h, np.ones_like(h), params)
    np.testing.assert_array_equal(deep, h)  # out at sea the swell keeps its shape
    np.testing.assert_array_equal(shallow[h <= 0], h[h <= 0])
    assert shallow.max() > 1.2 * h.max()

    def skew(v):
        return float(((v - v.mean()) ** 3).mean() / v.std() ** 3)

    assert skew(shallow) > skew(h) + 0.3  # sharp crests over flat troughs
