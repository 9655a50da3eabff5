"""What the mountain, coral reef and river biomes promise beyond the ground-truth checks of
test_biomes.py: the four coral forms have their shapes (numpy geometry), the reef grows all of
them as colonies of class coral with an id each, no tree on a mountain stands above its tree
line (a quantile of the terrain's own vertex heights), and a river's water fills a channel
wider than the wetland's (cells of the height field under the water level, counted across)."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene
from procgen.plants import coral

pytestmark = pytest.mark.blender


def _extent(geo) -> np.ndarray:
    return geo.verts.max(axis=0) - geo.verts.min(axis=0)


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_each_coral_form_has_its_shape(seed):
    rng = np.random.default_rng(seed)
    forms = {name: getattr(coral, name)(rng, 1.0) for name in ("branching", "brain", "fan", "table")}
    for name, geo in forms.items():
        assert -0.15 <= geo.verts[:, 2].min() <= 0.0, f"{name}: its base is not at the ground"
        assert 0.3 <= _extent(geo).max() <= 2.0, f"{name}: {_extent(geo)} for a colony 1 m across"
    fan = _extent(forms["fan"])
    assert fan[1] < 0.35 * fan[0] and fan[1] < 0.35 * fan[2], f"a sea fan is flat: {fan}"
    brain = _extent(forms["brain"])
    assert brain[2] < 0.85 * min(brain[0], brain[1]), f"a brain coral is a low dome: {brain}"
    table = forms["table"].verts
    r = np.hypot(table[:, 0], table[:, 1])
    assert np.median(table[r > 0.3, 2]) > 0.2 and r.max() > 0.4, "a table's plate stands wide on its stalk"
    tips = forms["branching"].verts
    assert tips[:, 2].max() > 0.3 and np.hypot(tips[:, 0], tips[:, 1]).max() > 0.2, "branches reach up and out"


def test_the_reef_grows_every_form_as_colonies_of_their_own():
    generate_scene(SceneConfig.from_preset("tiny", seed=0, biome="coral_reef"))
    colonies = [o for o in bpy.context.scene.objects if o.get("gs_class") == "coral"]
    forms = {o.name.rsplit("_", 1)[0] for o in colonies}
    assert forms == {"coral_table", "coral_brain", "coral_branching", "coral_fan"}
    assert len(colonies) >= 40


@pytest.mark.parametrize("biome", ("mountain", "snowy_mountain"))
@pytest.mark.parametrize("seed", (0, 1))
def test_no_tree_stands_above_the_tree_line(biome, seed):
    info = generate_scene(SceneConfig.from_preset("tiny", seed=seed, biome=biome, plants__trees=6))
    terrain = bpy.context.scene.objects["terrain"]
    z = np.array([(terrain.matrix_world @ v.co).z for v in terrain.data.vertices])
    line = info["terrain"]["tree_line"]
    assert np.quantile(z, 0.1) <= line <= np.quantile(z, 0.55), f"{biome} {seed}: the tree line {line:.1f} m"
    trees = [o for o in bpy.context.scene.objects if o.get("gs_class") == "tree"]
    assert trees, f"{biome} {seed}: no tree at all"
    assert max(o.matrix_world.translation.z for o in trees) <= line + 0.05


def _wet_width(info_cell: float) -> float:
    """The median width (m) of the water across the y rows of the terrain, from its vertices."""
    terrain = bpy.context.scene.objects["terrain"]
    water = bpy.context.scene.objects["water"]
    n = int(round(np.sqrt(len(terrain.data.vertices))))
    z = np.array([v.co.z for v in terrain.data.vertices]).reshape(n, n)
    wet = (z < water.location.z).sum(axis=1)
    return float(np.median(wet[wet > 0]) * info_cell)


def test_the_river_is_wider_than_the_wetlands_stream():
    widths = {}
    for biome in ("river", "wetland"):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        info = generate_scene(SceneConfig.from_preset("tiny", seed=0, biome=biome, terrain__water="on"))
        cfg = info["config"]["terrain"]
        widths[biome] = _wet_width(cfg["size"] / (cfg["resolution"] - 1))
    assert widths["river"] >= 6.0 and widths["river"] > 1.5 * widths["wetland"], widths
