"""The depth-floor benchmark's block comparison, on depth maps whose answer is known."""
from __future__ import annotations

import numpy as np

from bench.bench_depth_floor import area_mean_error


def test_a_pixel_half_on_a_nearer_surface_is_off_by_half_the_step():
    centre = np.full((1, 3), 10.0)
    fine = np.full((2, 6), 10.0)
    fine[:, 0] = 12.0  # pixel 0: half of its sub-pixels on a surface 2 further away (mean 11)
    fine[0, 5] = 14.0  # pixel 2: a quarter 4 further away (mean 11); pixel 1 is flat
    err, share = area_mean_error(centre, fine, 2)
    assert share == 1.0 and np.isclose(err, 0.1)  # the median of 0.1, 0 and 0.1
    fine[:, :] = 12.0
    fine[::2, ::2] = 10.0  # a quarter of every pixel at the centre's depth, the rest 2 further
    err, _ = area_mean_error(centre, fine, 2)
    assert np.isclose(err, 0.15)


def test_pixels_that_see_the_sky_anywhere_are_left_out():
    centre = np.array([[10.0, np.inf]])
    fine = np.full((2, 4), 10.0)
    fine[1, 1] = np.inf  # pixel 0 is partly sky: left out although its centre is a surface
    fine[:, 2:] = np.inf
    err, share = area_mean_error(centre, fine, 2)
    assert share == 0.0 and np.isnan(err)
    fine[1, 1] = 11.0
    err, share = area_mean_error(centre, fine, 2)
    assert share == 0.5 and np.isclose(err, 0.025)
