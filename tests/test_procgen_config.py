"""Scene config, presets and random streams (no Blender needed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from procgen.assembly.config import PRESETS, SceneConfig
from procgen.core.seeding import name_key, stream
from procgen.generate_cli import iter_seeds, parse_seed_ranges
from procgen.terrain.heightfield import make_heightfield, thermal_erosion


def test_presets_and_overrides():
    tiny = SceneConfig.from_preset("tiny")
    assert tiny.camera.resolution == (64, 64) and tiny.camera.frames <= 6
    d = SceneConfig.from_preset("default")
    assert d.camera.resolution == (256, 256) and d.camera.frames == 24 and d.render.samples == 64
    cfg = SceneConfig.from_preset("tiny", seed=7, frames=9, resolution=(32, 16), samples=3,
                                  terrain={"kind": "dunes"}, rocks__count=11)
    assert (cfg.seed, cfg.camera.frames, cfg.camera.resolution, cfg.render.samples) == (7, 9, (32, 16), 3)
    assert cfg.terrain.kind == "dunes" and cfg.rocks.count == 11
    assert set(PRESETS) == {"tiny", "default", "large"}


def test_bad_config_is_refused_with_its_name():
    with pytest.raises(ValueError, match="nonsense"):
        SceneConfig.from_preset("tiny", nonsense=1)
    with pytest.raises(ValueError, match="terrain.kind"):
        SceneConfig.from_preset("tiny", terrain__kind="ocean")
    with pytest.raises(ValueError, match="unknown preset"):
        SceneConfig.from_preset("huge")


@pytest.mark.parametrize("make", [lambda: SceneConfig(), lambda: SceneConfig(seed=3)]
                         + [lambda name=name: SceneConfig.from_preset(name, seed=3, camera__trajectory="orbit")
                            for name in sorted(PRESETS)], ids=["defaults", "seed"] + sorted(PRESETS))
def test_every_config_round_trips_through_json(make):
    cfg = make()
    text = json.dumps(cfg.to_dict())  # plain JSON types only: no method or object slips in
    back = SceneConfig.from_dict(json.loads(text))
    assert back == cfg and json.dumps(back.to_dict()) == text
    assert isinstance(cfg.preset, str) and cfg.preset in PRESETS


def test_preset_names_the_preset_a_config_came_from():
    assert SceneConfig().preset == "default" and SceneConfig.from_dict({"seed": 1}).preset == "default"
    assert SceneConfig.from_preset("tiny").preset == "tiny"
    assert SceneConfig.from_dict(SceneConfig.from_preset("large").to_dict()).preset == "large"


def test_streams_are_independent_and_stable():
    a1 = stream(5, "rocks", 0).uniform(size=4)
    a2 = stream(5, "rocks", 0).uniform(size=4)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, stream(5, "rocks", 1).uniform(size=4))
    assert not np.array_equal(a1, stream(5, "trees", 0).uniform(size=4))
    assert not np.array_equal(a1, stream(6, "rocks", 0).uniform(size=4))
    # The name hash is a fixed function of the text (not Python's per-process salted hash).
    import hashlib
    assert name_key("rocks") == int.from_bytes(hashlib.sha256(b"rocks").digest()[:4], "little")


def test_heightfield_kinds_differ_and_erosion_limits_slopes():
    cfg = SceneConfig.from_preset("tiny").terrain
    fields = {}
    for kind in ("hills", "mountains", "canyon", "dunes"):
        cfg.kind = kind
        hf = make_heightfield(cfg, stream(1, "terrain"))
        assert hf.kind == kind and np.isfinite(hf.z).all() and hf.z.min() == 0.0 and hf.z.max() > 1.0
        fields[kind] = hf.z
    kinds = list(fields)
    for i in range(len(kinds)):
        for j in range(i + 1, len(kinds)):
            assert np.abs(fields[kinds[i]] - fields[kinds[j]]).max() > 0.5
    # Thermal erosion conserves material and never steepens the steepest step.
    rng = np.random.default_rng(0)
    h = rng.uniform(0, 10, size=(32, 32))
    e = thermal_erosion(h, 1.0, 40)
    assert abs(e.sum() - h.sum()) < 1e-6 * h.sum()
    assert np.abs(np.diff(e, axis=0)).max() < np.abs(np.diff(h, axis=0)).max()


def test_heightfield_sampling_matches_grid_and_interpolates():
    cfg = SceneConfig.from_preset("tiny").terrain
    hf = make_heightfield(cfg, stream(2, "terrain"))
    c = hf.coords
    assert np.allclose(hf.height(c[5], c[7]), hf.z[7, 5])
    mid = hf.height((c[5] + c[6]) / 2, c[7])
    assert np.isclose(mid, (hf.z[7, 5] + hf.z[7, 6]) / 2)


def test_seed_ranges():
    assert list(iter_seeds(parse_seed_ranges("0-3,7,2,3-5"))) == [0, 1, 2, 3, 7, 4, 5]
    for bad in ("5-2", "-3", "a-b", "1-x"):
        with pytest.raises(ValueError):
            parse_seed_ranges(bad)


def test_huge_seed_range_is_lazy():
    ranges = parse_seed_ranges("0-100000000")  # expanded up front this would take gigabytes
    seeds = iter_seeds(ranges)
    assert [next(seeds) for _ in range(3)] == [0, 1, 2]
    assert sum(len(r) for r in ranges) == 100_000_001
