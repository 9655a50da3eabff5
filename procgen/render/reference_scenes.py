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
