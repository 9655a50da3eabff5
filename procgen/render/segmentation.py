"""Instance and semantic ids of the objects that render, and their 3D boxes (bpy-free, duck-typed).

- Instance id: each object that renders gets ``pass_index`` 1..N in sorted-name order; 0 is
  background. Cycles' object-index pass then holds the id. Collection instances take the id of
  the instanced object; geometry-node instances take the id of the object that carries the
  modifier (this is what Cycles does with ``pass_index``).
- Material id: each used material gets ``pass_index`` 1..N in sorted-name order; 0 is no
  surface (or a surface without a material). Cycles' material-index pass then holds the id.
- Semantic id: from the object's custom property ``gs_class`` (or its nearest parent's),
  through the fixed table ``CLASS_IDS``; names not in the table get ids from 1000 up in
  sorted order; objects without a class are "unlabeled".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASS_PROPERTY = "gs_class"
CLASS_IDS: dict[str, int] = {
    "background": 0,
    "unlabeled": 1,
    "terrain": 2,
    "rock": 3,
    "tree": 4,
    "bush": 5,
    "grass": 6,
    "flower": 7,
    "water": 8,
    "pebble": 9,
    "ground_cover": 10,
    "plant": 11,
    "leaf": 12,
    "snow": 13,
    "sand": 14,
    "animal": 15,
    "building": 16,
    "vehicle": 17,
    "person": 18,
    "object": 19,
    "fog": 20,
    "cactus": 21,
    "fern": 22,
    "reed": 23,
    "mushroom": 24,
    "deadwood": 25,
    "leaf_litter": 26,
    "rain": 27,
    "snowfall": 28,
    "cliff": 29,
    "fish": 30,   # the animals of procgen.animals; "animal" (15) stays for any other
    "bird": 31,
    "deer": 32,
    "coral": 33,
}
FIRST_EXTRA_CLASS_ID = 1000
GEOMETRY_TYPES = {"MESH", "CURVE", "CURVES", "SURFACE", "META", "FONT", "POINTCLOUD", "VOLUME"}
MAX_ID = 32767  # Object.pass_index limit


def object_class(obj, instancer=None) -> str:
    """``gs_class`` of ``obj`` or its nearest parent that has one, else of the object that instances
    it (and its parents); "unlabeled" otherwise."""
    for start in (obj, instancer):
        while start is not None:
            value = start.get(CLASS_PROPERTY)
            if value:
                return str(value)
            start = start.parent
    return "unlabeled"


def class_table(names) -> dict[str, int]:
    """Semantic id of each class name: the fixed table plus extra names from 1000 up."""
    table = dict(CLASS_IDS)
    extra = sorted(set(names) - set(table))
    for i, name in enumerate(extra):
        table[name] = FIRST_EXTRA_CLASS_ID + i
    return table


def render_visible_names(view_layer) -> set[str]:
    """Names of the objects of the view layer's collections that are neither excluded nor disabled in renders."""
    names: set[str] = set()

    def walk(layer_collection):
        if layer_collection.exclude or layer_collection.collection.hide_render:
            return
        names.update(ob.name for ob in layer_collection.collection.objects if not ob.hide_render)
        for child in layer_collection.children:
            walk(child)

    walk(view_layer.layer_collection)
    return names


@dataclass
class _Copies:
    """Every rendered copy of one original object, kept per mesh: dense cover has ~10^5
    instances of a few meshes, so each mesh's box is taken once and moved by all matrices at once."""
    original: object
    instancer: object = None
    corners: dict = field(default_factory=dict)   # mesh pointer -> local corners [8, 3]
    matrices: dict = field(default_factory=dict)  # mesh pointer -> [K] top three rows of world matrices, flat

    def add(self, ob, matrix_world) -> None:
        geometry = ob.data.as_pointer() if ob.data is not None else ob.as_pointer()
        if geometry not in self.corners:
            self.corners[geometry] = np.array([tuple(c) for c in ob.bound_box], dtype=np.float64)
            self.matrices[geometry] = []
        m = matrix_world
        self.matrices[geometry].append((*m[0], *m[1], *m[2]))  # 5x faster than np.array(m)

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """min [3], max [3] over every copy."""
        los, his = [], []
        for key, local in self.corners.items():
            m = np.array(self.matrices[key], dtype=np.float64).reshape(-1, 3, 4)  # [K, 3, 4]
            world = np.einsum("kij,cj->kci", m[:, :, :3], local) + m[:, None, :, 3]  # [K, 8, 3]
            los.append(world.min(axis=(0, 1)))
            his.append(world.max(axis=(0, 1)))
        return np.min(los, axis=0), np.max(his, axis=0)


def rendered_boxes(depsgraph, view_layer) -> dict[str, tuple[object, np.ndarray, np.ndarray, object]]:
    """Objects that render in an evaluated depsgraph and their world AABB at its current frame.

    The depsgraph Python sees is the viewport one, so objects disabled in renders are filtered
    here. Returns original object name -> (original object, min [3], max [3], instancer or None);
    the box is the union over all of the object's instances.
    """
    visible = render_visible_names(view_layer)
    found: dict[str, _Copies] = {}
    for inst in depsgraph.object_instances:
        ob = inst.object
        if ob.type not in GEOMETRY_TYPES:
            continue
        if not inst.is_instance and ob.type == "MESH" and len(ob.data.vertices) == 0:
            continue  # e.g. a geometry-nodes host that outputs only instances: its box is theirs
        original = ob.original
        instancer = None
        if inst.is_instance:
            instancer = inst.parent.original if inst.parent is not None else None
            if original.hide_render or (instancer is not None and instancer.hide_render):
                continue
            if instancer is not None and instancer.name == original.name:
                instancer = None  # geometry-node instances of the object itself
        elif original.name not in visible:
            continue
        copies = found.setdefault(original.name, _Copies(original))
        copies.instancer = copies.instancer or instancer
        copies.add(ob, inst.matrix_world)
    return {name: (c.original, *c.box(), c.instancer) for name, c in found.items()}


def assign_ids(names) -> dict[str, int]:
    """Instance id of each object name: 1..N in sorted order."""
    names = sorted(set(names))
    if len(names) > MAX_ID:
        raise ValueError(f"{len(names)} objects render; instance ids support at most {MAX_ID}")
    return {name: i + 1 for i, name in enumerate(names)}


def material_names(objects, depsgraph) -> list[str]:
    """Names of the materials on the rendered ``objects`` as evaluated (geometry nodes' Set Material
    included), sorted. Taken from the objects, not from ``bpy.data``: a freshly generated scene
    holds materials that its saved .blend does not, and a resumed render must find the same ids."""
    names = set()
    for ob in objects:
        ev = ob if ob.is_evaluated else ob.evaluated_get(depsgraph)
        names.update(slot.material.name for slot in ev.material_slots if slot.material is not None)
        names.update(m.name for m in (getattr(ev.data, "materials", None) or []) if m is not None)
    return sorted(names)


def assign_material_ids(names) -> dict[str, int]:
    """Material id of each material name: 1..N in sorted order (0 = no surface or no material)."""
    names = sorted(set(names))
    if len(names) > MAX_ID:
        raise ValueError(f"{len(names)} materials are used; material ids support at most {MAX_ID}")
    return {name: i + 1 for i, name in enumerate(names)}


def box_corners(lo, hi) -> list[list[float]]:
    """The 8 corners [8, 3] of an axis-aligned box, x fastest."""
    return [[float((hi if (i >> a) & 1 else lo)[a]) for a in range(3)] for i in range(8)]


def semantic_lut(ids: dict[str, int], classes: dict[str, str], table: dict[str, int]) -> np.ndarray:
    """Lookup [max_id + 1] uint16: instance id -> semantic id (0 for background)."""
    lut = np.zeros(max(ids.values(), default=0) + 1, dtype=np.uint16)
    for name, i in ids.items():
        lut[i] = table[classes[name]]
    return lut


def id_image(index_pass: np.ndarray) -> np.ndarray:
    """uint16 [H, W] ids from Cycles' object/material index pass [H, W] (float)."""
    return np.clip(np.rint(index_pass), 0, 65535).astype(np.uint16)
