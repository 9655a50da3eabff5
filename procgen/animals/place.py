"""The animals of a scene (needs bpy): their materials before the sky, the animals themselves
after the cameras (``procgen.animals``)."""
from __future__ import annotations

from ..core.seeding import stream
from ..geometry.blender_mesh import get_collection
from . import KINDS
from .objects import animal_material, animal_object, body_mesh, camera_views
from .paths import group_tracks


def animal_materials(fauna: dict[str, float], seed: int, variation: float = 1.0) -> dict[str, list]:
    """Kind -> its materials (one per palette entry), for the kinds ``fauna`` names with an amount > 0."""
    out = {}
    for name in sorted(k for k, amount in fauna.items() if amount > 0):
        kind, rng = KINDS[name], stream(seed, f"{name}_material")
        out[name] = [animal_material(f"{name}_skin_{i}", rng, back, belly, rough, variation)
                     for i, (back, belly, rough) in enumerate(kind.palette)]
    return out


def add_animals(fauna: dict[str, float], seed: int, hf, cam, frames: int, obstacles: list,
                materials: dict[str, list], fps: float = 24.0) -> dict[str, int]:
    """Every animal of ``fauna`` (kind -> amount) in view of the keyframed camera ``cam``, clear of
    its path and of the ``obstacles`` (``camera_paths.Obstacle``); returns kind -> animals placed."""
    cams, look = camera_views(cam, frames)
    collection = get_collection("animals")
    placed = {}
    for name in sorted(materials):
        kind = KINDS[name]
        meshes = [body_mesh(f"{name}_mesh_{v}", kind.body(stream(seed, f"{name}_mesh", v), v), materials[name][0])
                  for v in range(kind.variants)]
        radius = max(float(m["gs_radius"]) for m in meshes)
        n = 0
        for g in range(int(round(kind.groups * fauna[name]))):
            rng = stream(seed, f"{name}_group", g)
            skin = materials[name][int(rng.integers(len(materials[name])))]
            count = int(rng.integers(kind.members[0], kind.members[1] + 1))
            for track in group_tracks(kind.habit, count, cams, look, hf, obstacles, rng, radius, kind.frequency, fps):
                mesh = meshes[int(rng.integers(len(meshes)))]
                ob = animal_object(f"{name}_{n:03d}", mesh, name, track, collection)
                ob.material_slots[0].link = "OBJECT"  # the group's colouring on a shared mesh
                ob.material_slots[0].material = skin
                n += 1
        placed[name] = n
    return placed
