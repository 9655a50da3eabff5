"""Values a format cannot hold are clamped with a warning that counts them, never written as a file
that cannot be read back."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from blender_gs_addon.splats import io as splat_io
from blender_gs_addon.splats.data import LOG_SCALE_RANGE, SplatValueWarning
from test_splats_io import random_splats


@pytest.mark.parametrize("suffix", [".splat", ".glb", ".ply"])
def test_log_scales_beyond_float32_are_clamped_and_counted(tmp_path, suffix):
    data = random_splats(50, 0, seed=3)
    data.scales_log[0, 0] = 200.0  # exp(200) overflows float32
    data.scales_log[1, 2] = -200.0  # exp(-200) underflows to 0
    path = tmp_path / f"s{suffix}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SplatValueWarning)
        splat_io.write_splats(path, data)
    back = splat_io.read_splats(path)  # readable: no inf, no zero scale
    linear = np.exp(back.scales_log.astype(np.float64))
    assert np.isfinite(back.scales_log).all() and (linear > 0).all()
    if suffix == ".ply":  # the PLY holds log-scales themselves: nothing to clamp, lossless
        assert not caught and back.scales_log[0, 0] == 200.0
        return
    assert len(caught) == 1 and "2 log-scale values" in str(caught[0].message)
    lo, hi = LOG_SCALE_RANGE
    assert back.scales_log[0, 0] == pytest.approx(hi, abs=1e-3) and back.scales_log[1, 2] == pytest.approx(lo, abs=1e-3)
