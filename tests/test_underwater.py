"""The underwater biome's own promise: every camera of its path swims between the sea floor
and the moving surface, and nothing of the scene breaks through the waves."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene

pytestmark = pytest.mark.blender

UP, DOWN = Vector((0.0, 0.0, 1.0)), Vector((0.0, 0.0, -1.0))


def _generate(seed: int, trajectory: str) -> dict:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return generate_scene(SceneConfig.from_preset("tiny", seed=seed, biome="underwater", camera__trajectory=trajectory))


def _cast(ob, dg, origin: Vector, direction: Vector):
    """Hit and distance of a ray against one object's evaluated surface (world space)."""
    inv = ob.matrix_world.inverted()
    ev = ob.evaluated_get(dg)
    hit, loc, *_ = ev.ray_cast(inv @ origin, (inv.to_3x3() @ direction).normalized())
    return hit, ((ob.matrix_world @ loc) - origin).length if hit else float("inf")


def _surface_z(water, dg) -> np.ndarray:
    """Heights [V] of the evaluated wave grid's vertices in world space."""
    me = water.evaluated_get(dg).data
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)[:, 2] + water.matrix_world.translation.z


@pytest.mark.parametrize("seed,trajectory", [(0, "orbit"), (1, "flythrough"), (2, "multiview")])
def test_every_camera_is_under_the_waves_and_over_the_floor(seed, trajectory):
    info = _generate(seed, trajectory)
    assert info["camera"]["trajectory"] == trajectory
    scene = bpy.context.scene
    water, terrain, cam = bpy.data.objects["water"], bpy.data.objects["terrain"], scene.camera
    assert water.get("gs_moving") and info["water"]["level"] == pytest.approx(water.location.z)
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        p = cam.matrix_world.translation.copy()
        up, above = _cast(water, dg, p, UP)
        assert up and above > 0.3, f"frame {f}: the camera at z {p.z:.2f} is not below the waves"
        down, below = _cast(terrain, dg, p, DOWN)
        assert down and below > 1.0, f"frame {f}: the camera at z {p.z:.2f} is not over the floor"
        hit, *_ = scene.ray_cast(dg, p, DOWN)
        assert hit  # nothing open below: the floor or something on it


def test_nothing_breaks_the_surface():
    info = _generate(3, "orbit")
    scene = bpy.context.scene
    water = bpy.data.objects["water"]
    assert info["counts"].get("plant", 0) > 0, "no kelp"
    for f in (scene.frame_start, scene.frame_end):
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        trough = float(_surface_z(water, dg).min())
        for ob in scene.objects:
            if ob.type != "MESH" or ob.get("gs_class") == "water" or ob.hide_viewport:
                continue  # (hidden from the viewport: the light shafts' volume-only box, no surface)
            top = max((ob.matrix_world @ Vector(c)).z for c in ob.bound_box)
            assert top < trough, f"frame {f}: {ob.name} reaches {top:.2f} m, above the wave troughs at {trough:.2f} m"
