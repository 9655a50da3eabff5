"""Ground-cover clumps that do not repeat visibly: in a generated meadow, neighbouring clumps of
one clump mesh differ by more than a turn (Blender's evaluated instance matrices: spread in
x/y stretch and in height, turned at random), and a
measure of how alike two copies look drops: each copy's blades as a top-down height map in
world space, matched against its neighbour's under every turn about the vertical (all a
viewer could undo). A copy merely turned (as every clump was before they varied) matches
itself almost perfectly; neighbouring copies of one mesh must now match far worse, closer to
clumps of different meshes than to a turned copy."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene

pytestmark = pytest.mark.blender

GRID, HALF = 24, 0.9  # height-map cells over [-HALF, HALF]^2 metres around a clump's origin
TURNS = np.radians(np.arange(0, 360, 5))
VERTICES = 1500  # per clump mesh, the same ones for every copy


@pytest.fixture(scope="module")
def clumps():
    """(matrices [K, 4, 4], mesh index [K], vertices [M][V, 3]) of the meadow's grass clumps."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset("tiny", seed=3, biome="meadow", motion={"wind": False}))
    depsgraph = bpy.context.evaluated_depsgraph_get()
    matrices, names, coords = [], [], {}
    for inst in depsgraph.object_instances:
        if inst.is_instance and inst.parent is not None and inst.parent.name == "grass":
            me = inst.object.data
            if me.name not in coords:
                co = np.empty(len(me.vertices) * 3)
                me.vertices.foreach_get("co", co)
                co = co.reshape(-1, 3)
                coords[me.name] = co[np.random.default_rng(0).permutation(len(co))[:VERTICES]]
            matrices.append(np.array(inst.matrix_world))
            names.append(me.name)
    order = sorted(coords)
    return np.array(matrices), np.array([order.index(n) for n in names]), [coords[n] for n in order]


def _neighbours(matrices: np.ndarray, mesh: np.ndarray) -> list[tuple[int, int]]:
    """Each copy with its nearest copy of the same mesh."""
    xy = matrices[:, :2, 3]
    pairs = []
    for i in range(len(xy)):
        d = np.hypot(*(xy - xy[i]).T) + np.where(mesh == mesh[i], 0.0, np.inf)
        d[i] = np.inf
        if np.isfinite(d.min()):
            pairs.append((i, int(d.argmin())))
    return pairs


def _height_map(offsets: np.ndarray) -> np.ndarray:
    """Top-down map [GRID, GRID] of the highest point in each cell of world offsets [V, 3], over
    the plane that fits them best (a clump leans with the ground: its slope is not its look)."""
    fit = np.linalg.lstsq(np.c_[offsets[:, :2], np.ones(len(offsets))], offsets[:, 2], rcond=None)[0]
    offsets = np.c_[offsets[:, :2], offsets[:, 2] - offsets[:, :2] @ fit[:2] - fit[2]]
    ij = np.floor((offsets[:, :2] + HALF) / (2 * HALF) * GRID).astype(np.int64)
    ok = np.all((ij >= 0) & (ij < GRID), axis=1)
    img = np.zeros((GRID, GRID))
    np.maximum.at(img, (ij[ok, 1], ij[ok, 0]), offsets[ok, 2] - offsets[:, 2].min())
    return img


def _turned(offsets: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return offsets @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T


def _best_match(a: np.ndarray, b: np.ndarray) -> float:
    """The highest correlation of the height maps of offsets ``a`` and ``b`` over turns of ``a``."""
    target = _height_map(b).ravel()
    return max(float(np.corrcoef(_height_map(_turned(a, t)).ravel(), target)[0, 1]) for t in TURNS)


def _offsets(matrices, coords, mesh, i) -> np.ndarray:
    return coords[mesh[i]] @ matrices[i, :3, :3].T


def test_neighbouring_clumps_of_one_mesh_are_posed_differently(clumps):
    matrices, mesh, _ = clumps
    pairs = np.array(_neighbours(matrices, mesh))
    assert len(pairs) >= 30
    linear = matrices[:, :3, :3]
    norms = np.linalg.norm(linear, axis=1)  # column lengths: each copy's stretch along its own x, y, z
    aspect, height = np.log(norms[:, 0] / norms[:, 1]), np.log(norms[:, 2])
    assert np.median(np.abs(aspect[pairs[:, 0]] - aspect[pairs[:, 1]])) > 0.1
    assert np.median(np.abs(height[pairs[:, 0]] - height[pairs[:, 1]])) > 0.1
    # the turn between neighbours is spread over the circle (mean resultant length near 0)
    heading = np.arctan2(linear[:, 1, 1], linear[:, 0, 1])  # where each copy's own y axis points
    turn = heading[pairs[:, 0]] - heading[pairs[:, 1]]
    assert np.hypot(np.cos(turn).mean(), np.sin(turn).mean()) < 0.35


def test_neighbouring_copies_look_less_alike_than_a_turned_copy(clumps):
    matrices, mesh, coords = clumps
    pairs = _neighbours(matrices, mesh)[::2]
    rng = np.random.default_rng(1)
    turned = [_best_match(_turned(_offsets(matrices, coords, mesh, i), rng.uniform(0, 2 * np.pi)),
                          _offsets(matrices, coords, mesh, i)) for i, _ in pairs]
    same = [_best_match(_offsets(matrices, coords, mesh, i), _offsets(matrices, coords, mesh, j)) for i, j in pairs]
    other = [int(np.flatnonzero(mesh != mesh[i])[0]) for i, _ in pairs]
    different = [_best_match(_offsets(matrices, coords, mesh, i), _offsets(matrices, coords, mesh, j))
                 for (i, _), j in zip(pairs, other)]
    base, alike, unrelated = np.median(turned), np.median(same), np.median(different)
    print(f"best height-map match: turned copy {base:.3f}, neighbouring copies of one mesh {alike:.3f}, "
          f"copies of different meshes {unrelated:.3f}")
    assert base > 0.9 and base > unrelated + 0.15
    # the copies of one mesh lie at least half-way from a turned copy towards unrelated clumps
    assert alike < base - 0.5 * (base - unrelated)
