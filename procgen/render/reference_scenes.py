"""Small scenes with known geometry for tests and benchmarks of the renderer (needs bpy).

A 20 m ground plane at z = 0, a unit-radius smooth sphere at rest, a 2 m cube that slides
along +x, two instances of a cone collection (class on the instancing empties), a sun, and
a camera that moves and turns. ``build_tracking_scene`` adds a box that slides and turns and
a pool of water whose wave grid deforms (the point tracks' test scene).
"""
from __future__ import annotations

import math

import bpy
import numpy as np


def _material(name: str, rgb: tuple[float, float, float]):
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True  # always on (and deprecated) from 5.0
    bsdf = next((n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = (*rgb, 1.0)
    mat.diffuse_color = (*rgb, 1.0)
    return mat


def _mesh_object(name: str, op, material, gs_class: str | None, **kwargs):
    op(**kwargs)
    ob = bpy.context.object
    ob.name = name
    ob.data.materials.append(material)
    if gs_class:
        ob["gs_class"] = gs_class
    return ob


def build_test_scene(resolution=(49, 33), frames: int = 4, moving_object: bool = True,
                     shift=(0.08, -0.05), lens: float = 30.0, instances: bool = True) -> dict:
    """Build the scene into the context scene; returns its objects by role."""
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = resolution
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = 1, frames
    scene.frame_set(1)

    ground = _mesh_object("Ground", bpy.ops.mesh.primitive_plane_add, _material("Soil", (0.2, 0.5, 0.1)),
                          "terrain", size=20.0, location=(0, 0, 0))
    sphere = _mesh_object("Sphere", bpy.ops.mesh.primitive_uv_sphere_add, _material("Blue", (0.1, 0.2, 0.8)),
                          None, radius=1.0, location=(-1.8, 1.0, 1.0), segments=48, ring_count=24)
    bpy.ops.object.shade_smooth()
    cube = _mesh_object("Cube", bpy.ops.mesh.primitive_cube_add, _material("Red", (0.8, 0.1, 0.1)),
                        "rock", size=2.0, location=(1.2, 0.5, 1.0))
    if moving_object:
        cube.keyframe_insert("location", frame=1)
        cube.location = (1.2 + 0.4 * (frames - 1), 0.5, 1.0)
        cube.keyframe_insert("location", frame=frames)
        _linear(cube)
    out = {"ground": ground, "sphere": sphere, "cube": cube}

    if instances:  # a cone that exists only as two collection instances
        col = bpy.data.collections.new("ConeSource")
        scene.collection.children.link(col)
        bpy.ops.mesh.primitive_cone_add(radius1=0.4, depth=1.0, location=(0, 0, 0.5))
        cone = bpy.context.object
        cone.name = "Cone"
        cone.data.materials.append(_material("Bark", (0.5, 0.35, 0.2)))
        for c in list(cone.users_collection):
            c.objects.unlink(cone)
        col.objects.link(cone)
        bpy.context.view_layer.layer_collection.children[col.name].exclude = True
        for i, loc in enumerate([(-0.3, 3.5, 0.0), (2.8, 3.0, 0.0)]):
            empty = bpy.data.objects.new(f"ConeInstance{i}", None)
            empty.instance_type = "COLLECTION"
            empty.instance_collection = col
            empty.location = loc
            empty["gs_class"] = "tree"  # the class sits on the instancers, not on the cone
            scene.collection.objects.link(empty)
        out["cone"] = cone

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.rotation_euler = (0.6, 0.2, 0.4)
    scene.collection.objects.link(sun)

    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    cam.data.lens = lens
    cam.data.shift_x, cam.data.shift_y = shift
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.location = (0.0, -7.0, 3.0)
    cam.rotation_euler = (math.radians(68), 0.0, 0.0)
    cam.keyframe_insert("location", frame=1)
    cam.keyframe_insert("rotation_euler", frame=1)
    cam.location = (0.5 * (frames - 1), -7.0 + 0.2 * (frames - 1), 3.0 + 0.3 * (frames - 1))
    cam.rotation_euler = (math.radians(68 + 0.5 * (frames - 1)), 0.0, math.radians(3.0 * (frames - 1)))
    cam.keyframe_insert("location", frame=frames)
    cam.keyframe_insert("rotation_euler", frame=frames)
    _linear(cam)
    out["camera"] = cam
    scene.frame_set(1)
    return out


def _linear(ob) -> None:
    """Linear keyframe interpolation (Bezier easing would make motion start and stop at zero speed)."""
    anim = ob.animation_data
    if anim is None or anim.action is None:
        return
    fcurves = getattr(anim.action, "fcurves", None)
    if fcurves is None:  # 5.0 layered actions: curves live in the channelbag of a slot
        fcurves = []
        for layer in anim.action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    fcurves.extend(bag.fcurves)
    for fc in fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"


# two travelling waves (amplitude m, kx, ky, omega rad/s, phase): deep-water waves of 1.2 and 2 m
POOL_WAVES = [[0.04, 5.236, 0.0, 7.167, 0.3], [0.025, 1.571, 2.721, 5.551, 1.1]]


def build_tracking_scene(resolution=(96, 64), frames: int = 5) -> dict:
    """``build_test_scene`` plus a 1 m box that slides along -x while it turns (25 degrees a frame
    about z, 6 about x) and a 4 x 2 m pool of water, a grid whose vertices the waves of POOL_WAVES
    lift (the geometry nodes of the procedural water) in front of the camera."""
    from ..geometry.blender_mesh import mesh_from_arrays, new_object
    from ..terrain.water import wave_nodes

    out = build_test_scene(resolution=resolution, frames=frames)
    box = _mesh_object("Turner", bpy.ops.mesh.primitive_cube_add, _material("Yellow", (0.8, 0.7, 0.1)),
                       "object", size=1.0, location=(-0.4, -1.0, 0.6))
    box.keyframe_insert("location", frame=1)
    box.keyframe_insert("rotation_euler", frame=1)
    box.location.x -= 0.1 * (frames - 1)
    box.rotation_euler = (math.radians(6 * (frames - 1)), 0.0, math.radians(25 * (frames - 1)))
    box.keyframe_insert("location", frame=frames)
    box.keyframe_insert("rotation_euler", frame=frames)
    _linear(box)
    nx, ny = 41, 21  # 0.1 m cells
    x, y = np.meshgrid(np.linspace(-2, 2, nx), np.linspace(-1, 1, ny))
    verts = np.stack([x, y, np.zeros_like(x)], -1).reshape(-1, 3)
    k = (np.arange(ny - 1)[:, None] * nx + np.arange(nx - 1)[None, :]).ravel()
    faces = np.stack([k, k + 1, k + nx + 1, k + nx], -1)
    me = mesh_from_arrays("Pool", verts, faces)
    me.materials.append(_material("Water", (0.05, 0.2, 0.3)))
    pool = new_object("Pool", me, "water")
    pool.location = (0.0, -2.6, 0.15)
    pool.modifiers.new("waves", "NODES").node_group = wave_nodes("pool_waves", POOL_WAVES, (10.0, 11.0))
    bpy.context.scene.frame_set(1)
    return {**out, "turner": box, "pool": pool}


# the wind of build_wind_scene: strong, blowing along +x, gusts every 1.5 s travelling at 4 m/s
TEST_WIND = dict(direction=0.0, strength=2.5, gust_speed=4.0, gust_period=1.5)


def build_wind_scene(resolution=(96, 64), frames: int = 5, wind: bool = True, bend: bool = True) -> dict:
    """A plant with its own object (a 2.4 m sapling: a trunk and a crown of leaf cards) and a
    patch of grass clumps instanced by a carrier (some stretched unevenly, as scattered clumps
    are), on a ground plane, swaying in ``TEST_WIND`` through the procedural wind
    (``assembly.motion.add_wind``; ``bend=False``: the sapling leans rigidly instead, as plants
    beyond the bending budget do); the camera moves slowly past them."""
    from ..assembly.motion import add_wind
    from ..assembly.scatter import Poses
    from ..assembly.wind import Wind
    from ..geometry.blender_mesh import mesh_from_geo, new_object
    from ..geometry.instancing import instance_on_points
    from ..geometry.mesh_arrays import concat
    from ..plants.undergrowth import grass_tuft

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = resolution
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = 1, frames
    scene.render.fps = 24
    ground = _mesh_object("Ground", bpy.ops.mesh.primitive_plane_add, _material("Soil", (0.2, 0.5, 0.1)),
                          "terrain", size=20.0, location=(0, 0, 0))
    rng = np.random.default_rng(5)
    me = mesh_from_geo("sapling", _sapling(rng), [_material("Leaf", (0.1, 0.4, 0.05))])
    sapling = new_object("Sapling", me, "tree")
    sapling.location = (0.5, 1.2, 0.0)
    sapling.rotation_euler = (0.0, 0.0, 0.7)
    tufts = [grass_tuft(np.random.default_rng(i), height=0.45) for i in range(2)]
    clumps = [mesh_from_geo(f"clump_{i}", concat([t.transformed(np.eye(3), (dx, dy, 0.0), 1.0)
                                                  for t, (dx, dy) in zip(tufts * 2, offsets)]),
                            [_material("Blade", (0.2, 0.5, 0.1))])
              for i, offsets in enumerate(([(0, 0), (0.12, 0.05), (-0.1, 0.1), (0.05, -0.12)],
                                           [(0, 0), (-0.12, -0.04), (0.1, -0.1), (-0.03, 0.13)]))]
    xy = np.stack(np.meshgrid(np.linspace(-1.6, -0.2, 4), np.linspace(0.0, 1.4, 4)), -1).reshape(-1, 2)
    k = len(xy)
    poses = Poses(np.concatenate([xy, np.zeros((k, 1))], 1),
                  np.stack([np.zeros(k), np.zeros(k), rng.uniform(0, 2 * np.pi, k)], 1),
                  np.array([(1.0, 1.0, 1.0), (1.15, 0.85, 1.2)])[np.arange(k) // 2 % 2],  # some stretched
                  np.arange(k) % 2, np.ones(k))
    carrier = instance_on_points("grass", clumps, poses, "grass", scene.collection)
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.rotation_euler = (0.6, 0.2, 0.4)
    scene.collection.objects.link(sun)
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    cam.data.lens = 30.0
    scene.collection.objects.link(cam)
    scene.camera = cam
    for f, x in ((1, -0.45), (frames, -0.25)):
        cam.location = (x, -3.4, 1.4)
        cam.rotation_euler = (math.radians(80), 0.0, 0.0)
        cam.keyframe_insert("location", frame=f)
        cam.keyframe_insert("rotation_euler", frame=f)
    _linear(cam)
    scene.frame_set(1)
    bpy.context.view_layer.update()
    if wind:
        add_wind([sapling, carrier], Wind(**TEST_WIND), frames, budget=10**9 if bend else 0)
    return {"ground": ground, "sapling": sapling, "grass": carrier, "camera": cam}


def _sapling(rng: np.random.Generator):
    """A trunk (an 8-sided tube to 2.4 m) and 60 leaf cards around its upper half (a ``Geo``)."""
    from ..geometry.mesh_arrays import Geo, concat

    a = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    zs = np.linspace(0.0, 2.4, 9)
    r = 0.06 * (1 - 0.6 * zs / 2.4)
    verts = np.array([(rr * np.cos(t), rr * np.sin(t), z) for z, rr in zip(zs, r) for t in a])
    faces = np.array([(i * 8 + k, i * 8 + (k + 1) % 8, (i + 1) * 8 + (k + 1) % 8, (i + 1) * 8 + k)
                      for i in range(8) for k in range(8)])
    parts = [Geo.from_faces(verts, faces)]
    for _ in range(60):
        z = rng.uniform(1.0, 2.4)
        t = rng.uniform(0, 2 * np.pi)
        d = rng.uniform(0.15, 0.6)
        c = np.array([d * np.cos(t), d * np.sin(t), z])
        u = np.array([-np.sin(t), np.cos(t), 0.0]) * 0.08
        v = np.array([np.cos(t), np.sin(t), 0.3]) * 0.12
        parts.append(Geo.from_faces(np.array([c - u, c + u, c + u + v, c - u + v]), np.array([[0, 1, 2, 3]])))
    return concat(parts)
