"""The cliff's scree as rocks in Blender: ``terrain.scree``'s layout, kept off the camera's
path, as copies of a few rock meshes instanced on one carrier (class rock), and their boxes
for the cameras to keep out of."""
from __future__ import annotations

import numpy as np

from ..geometry.blender_mesh import get_collection, mesh_from_geo
from ..geometry.instancing import instance_on_points
from ..terrain.heightfield import Heightfield
from ..terrain.rocks import rock_geo
from ..terrain.scree import scree_layout
from .camera_paths import Obstacle
from .scatter import Poses

VARIANTS = 5
SINK = 0.25  # share of a fragment's size below the ground


def add_scree(hf: Heightfield, path_xy: np.ndarray, corridor: float, material, rng: np.random.Generator):
    """The scree carrier (or None where no fragment fits) and an obstacle box per fragment;
    ``path_xy`` [F, 2] with ``corridor`` metres either side is left clear."""
    lay = scree_layout(hf, hf.features["cliff"]["face_front"], rng)
    gap = np.linalg.norm(lay.xy[:, None] - path_xy[None], axis=-1).min(axis=1) if len(path_xy) else np.inf
    keep = gap > corridor + lay.size
    xy, size = lay.xy[keep], lay.size[keep]
    if not len(xy):
        return None, []
    meshes = [mesh_from_geo(f"scree_{i}", rock_geo(rng, 2, "boulder"), [material] if material else [])
              for i in range(VARIANTS)]
    z = hf.height(xy[:, 0], xy[:, 1]) - SINK * size
    loc = np.column_stack([xy, z])
    rot = np.column_stack([rng.normal(scale=0.25, size=(len(xy), 2)), rng.uniform(0, 2 * np.pi, len(xy))])
    scale = size[:, None] * rng.uniform(0.8, 1.2, (len(xy), 3))
    poses = Poses(loc, rot, scale, rng.integers(0, VARIANTS, len(xy)), size)
    carrier = instance_on_points("scree", meshes, poses, "rock", get_collection("rocks"))
    half = 0.6 * scale.max(axis=1)  # a tilted rock of largest extent 1 stays within this of its origin
    boxes = [Obstacle(np.array([x - h, y - h, zz]), np.array([x + h, y + h, zz + 2 * h]))
             for (x, y, zz), h in zip(loc, half)]
    return carrier, boxes
