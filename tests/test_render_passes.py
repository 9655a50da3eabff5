"""The beauty and ground-truth renders share one scene: switching between them, frame after
frame, must leave every Cycles and output setting of the beauty render as it was the first
time, and ``restore()`` must give the user's scene back unchanged."""
from __future__ import annotations

import bpy
import pytest

from procgen.render import passes
from procgen.render.reference_scenes import build_test_scene

pytestmark = pytest.mark.blender


def _snapshot(scene, view_layer) -> dict:
    """Every plain writable property of the settings the two renders touch."""
    owners = {"cycles": scene.cycles, "render": scene.render, "image": scene.render.image_settings,
              "view_layer": view_layer, **{f"object:{o.name}": o for o in scene.objects}}
    snap = {}
    for label, owner in owners.items():
        for prop in owner.bl_rna.properties:
            if prop.is_readonly or prop.type in {"POINTER", "COLLECTION"} or prop.identifier == "rna_type":
                continue
            value = getattr(owner, prop.identifier)
            snap[f"{label}.{prop.identifier}"] = tuple(value) if hasattr(value, "__len__") and not isinstance(
                value, str) else value
    return snap


def _differences(a: dict, b: dict) -> dict:
    return {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}


def test_the_beauty_render_is_set_up_the_same_after_a_ground_truth_render():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_test_scene(resolution=(32, 24), frames=2)
    scene = bpy.context.scene
    scene.cycles.use_adaptive_sampling = True  # as generated scenes have it; the ground truth turns it off
    view_layer = scene.view_layers[0]
    before = _snapshot(scene, view_layer)
    settings = passes.Settings()
    passes.configure_common(scene, view_layer, settings)
    passes.configure_rgb(scene, view_layer, settings, samples=16)
    first = _snapshot(scene, view_layer)
    passes.configure_gt(scene, view_layer, settings)
    assert _differences(first, _snapshot(scene, view_layer))  # the switch really changes settings
    passes.configure_rgb(scene, view_layer, settings, samples=16)
    assert _differences(first, _snapshot(scene, view_layer)) == {}
    settings.restore()
    assert _differences(before, _snapshot(scene, view_layer)) == {}
