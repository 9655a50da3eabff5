"""The cave biome is enclosed: rock overhead and on every side but its mouth. Checked with
Blender's own ray casts on generated scenes (tiny preset, seeds 0-2): every camera stands
between the floor and the roof, every ray that leaves the scene leaves through the mouth,
and nothing stands inside the rock."""
from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Vector

from procgen.assembly.config import SceneConfig
from procgen.assembly.scene import generate_scene

pytestmark = pytest.mark.blender


@pytest.fixture(params=(0, 1, 2))
def cave(request):
    info = generate_scene(SceneConfig.from_preset("tiny", seed=request.param, biome="cave"))
    return request.param, info


def _cast(scene, dg, origin, direction):
    ok, loc, _, _, ob, _ = scene.ray_cast(dg, Vector(origin), Vector(direction))
    return (ob.name, float((Vector(loc) - Vector(origin)).length)) if ok else (None, np.inf)


def _frames(scene):
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        yield f, np.array(scene.camera.matrix_world.translation), bpy.context.evaluated_depsgraph_get()


def test_every_camera_stands_under_the_roof_above_the_floor(cave):
    seed, _ = cave
    scene = bpy.context.scene
    for f, p, dg in _frames(scene):
        up, down = _cast(scene, dg, p, (0, 0, 1.0)), _cast(scene, dg, p, (0, 0, -1.0))
        assert up[0] == "cave_roof" and up[1] > 0.3, f"seed {seed} frame {f}: above the camera {up}"
        assert down[0] is not None and down[1] > 0.5, f"seed {seed} frame {f}: below the camera {down}"


def test_rays_leave_only_through_the_mouth(cave):
    seed, info = cave
    scene = bpy.context.scene
    mouth = np.array(scene.objects["cave_roof"]["gs_mouth"])
    rng = np.random.default_rng(seed)
    escaped = 0
    for f, p, dg in _frames(scene):
        d = rng.normal(size=(300, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        for v in d:
            name, _ = _cast(scene, dg, p, v)
            if name is None:
                escaped += 1
                assert v[:2] @ mouth > 0, f"seed {seed} frame {f}: a ray {v.round(2)} leaves away from the mouth"
    # The fraction of the sphere of directions through the mouth: small, as seen from inside.
    total = 300 * scene.frame_end
    assert escaped < 0.25 * total, f"seed {seed}: {escaped} of {total} rays leave the cave"


def test_nothing_stands_inside_the_rock(cave):
    # Away from the tunnel the roof runs under the floor: a rock placed there has no roof over it.
    seed, _ = cave
    scene = bpy.context.scene
    scene.frame_set(1)
    dg = bpy.context.evaluated_depsgraph_get()
    roof = scene.objects["cave_roof"]
    mouth, at = np.array(roof["gs_mouth"]), np.array(roof["gs_mouth_at"])
    rocks = [o for o in scene.objects if o.get("gs_class") == "rock" and not o.get("gs_moving")]
    inside = [o for o in rocks if (np.array(o.matrix_world.translation)[:2] - at) @ mouth < 0]
    assert len(inside) >= 3, f"seed {seed}: only {len(inside)} rocks in the cave"
    for ob in inside:
        base = np.array(ob.matrix_world.translation)
        top = base[2] + ob.dimensions.z + 0.01  # above the rock itself
        name, dist = _cast(scene, dg, (base[0], base[1], top), (0, 0, 1.0))
        assert name == "cave_roof", f"seed {seed}: {ob.name} stands in the rock ({name} above it)"
