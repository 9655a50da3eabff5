"""Snow tails behind the rocks and trees of a snow-covered scene (``terrain.lee_drifts``), put
into the height field and the terrain mesh once those obstacles stand. What stands where the
snow piles up is buried deeper (as a drift buries a trunk or a boulder; nothing rises on it),
what stands where it is scoured moves down with the ground, so nothing floats; what is placed
later reads the drifted height field, so every object meets the ground renders and ground truth show."""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Vector

from ..terrain import lee_drifts
from ..terrain.heightfield import Heightfield
from ..terrain.snow_drifts import holds

# gs_class -> (footprint radius as a share of the mean horizontal extent, solidity): a rock
# stops the wind; a spruce's crown lets some through, and its trunk and skirt are what shelter
BODIES = {"rock": (0.45, 1.0), "tree": (0.2, 0.6)}


def obstacles(objects, hf: Heightfield) -> np.ndarray:
    """(x, y, radius, height above the ground, solidity) [K, 5] of the rocks and trees among ``objects``."""
    bpy.context.view_layer.update()
    rows = []
    for ob in objects:
        body = BODIES.get(ob.get("gs_class"))
        if body is None or ob.type != "MESH" or ob.hide_render or "gs_instances" in ob:
            continue
        corners = np.array([ob.matrix_world @ Vector(c) for c in ob.bound_box])
        x, y = float(ob.location.x), float(ob.location.y)
        extent = corners[:, :2].max(0) - corners[:, :2].min(0)
        height = float(corners[:, 2].max() - hf.height(x, y))
        if height > 0.05:
            rows.append((x, y, body[0] * float(extent.mean()), height, body[1]))
    return np.array(rows, float).reshape(-1, 5)


def pile_behind(hf: Heightfield, wind, placed: list) -> dict:
    """Raise the snow in tails downwind (``wind`` [2]) of the rocks and trees in ``placed``:
    ``hf.z`` and the terrain mesh change, and every object in ``placed`` moves down where the
    ground at its origin is scoured (instance carriers: at each copy). Returns what scene.json records."""
    obs = obstacles(placed, hf)
    dz = lee_drifts.tails(hf.size, hf.n, obs, wind) * holds(hf.z, hf.cell, hf.water_level)
    before = Heightfield(hf.z.copy(), hf.size, hf.kind, hf.water_level)
    hf.z = hf.z + dz
    terrain = bpy.data.objects.get("terrain")
    if terrain is not None:  # its vertices are the grid's points, row by row
        co = np.empty(len(terrain.data.vertices) * 3)
        terrain.data.vertices.foreach_get("co", co)
        co[2::3] = hf.z.ravel()
        terrain.data.vertices.foreach_set("co", co)
        terrain.data.update()
    for ob in placed:
        _reseat(ob, before, hf)
    return {"obstacles": len(obs), "deepest": round(float(dz.max(initial=0.0)), 3),
            "scour": round(float(-dz.min(initial=0.0)), 3)}


def _reseat(ob, before: Heightfield, after: Heightfield) -> None:
    """Move ``ob`` (or an instance carrier's points) down by how far the ground under it sank."""
    if "gs_instances" in ob:
        co = np.empty(len(ob.data.vertices) * 3)
        ob.data.vertices.foreach_get("co", co)
        p = co.reshape(-1, 3)
        p[:, 2] += np.minimum(after.height(p[:, 0], p[:, 1]) - before.height(p[:, 0], p[:, 1]), 0.0)
        ob.data.vertices.foreach_set("co", co)
        ob.data.update()
    elif not ob.hide_render and ob.parent is None:
        x, y = ob.location.x, ob.location.y
        ob.location.z += min(float(after.height(x, y) - before.height(x, y)), 0.0)
