"""The living surface of corals: each colony its own colour (Object Info "Random" picks one of
a few colours drawn from a reef palette), dotted with paler polyps, slightly waxy."""
from __future__ import annotations

import bpy
import numpy as np

from .surfaces import Layer, Tree, _jitter

# Reef colours in daylight (the water takes the reds away with depth, as it does in photographs).
PALETTE = ((0.75, 0.28, 0.35), (0.85, 0.45, 0.18), (0.5, 0.25, 0.6), (0.8, 0.7, 0.25), (0.55, 0.42, 0.28),
           (0.35, 0.55, 0.45), (0.8, 0.55, 0.6), (0.3, 0.35, 0.7))


def coral_material(name: str, rng: np.random.Generator, polyps: float = 1.0) -> "bpy.types.Material":
    """A coral skin of three palette colours, one per colony; ``polyps``: how strongly the polyp dots show."""
    mat = bpy.data.materials.new(name)
    t = Tree(mat)
    co = t.coords("Object")
    picks = rng.choice(len(PALETTE), 3, replace=False)
    stops = [(k / 2, _jitter(rng, PALETTE[int(p)], 1.0)) for k, p in enumerate(picks)]
    col = t.ramp(t.add("ShaderNodeObjectInfo").outputs["Random"], stops, interpolation="CONSTANT")
    dots = t.map_range(t.voronoi(co, rng.uniform(30.0, 60.0)), 0.25, 0.1, 0.0, 0.45 * polyps)
    col = t.mix_color(dots, col, (0.9, 0.85, 0.75))
    shade = t.noise(co, rng.uniform(3.0, 6.0), detail=3)
    col = t.mix_color(t.math("MULTIPLY", shade, 0.35), col, (0.1, 0.08, 0.07))
    t.finish(Layer(col, t.value(rng.uniform(0.45, 0.65)), dots), bump_strength=0.15, bump_distance=0.01)
    mat["gs_family"] = "coral"
    mat.diffuse_color = (*stops[0][1], 1.0)
    return mat
