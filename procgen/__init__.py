"""Procedural natural scenes for Blender and their ground-truth datasets.

``procgen.assembly.scene.generate_scene`` builds a scene into the current Blender scene from
a seed and a :class:`procgen.assembly.config.SceneConfig`; ``procgen.render.render_dataset``
turns any scene with an animated camera into a dataset folder. Each folder holds one kind of
part:

- ``assembly/``: configuration, biomes, asset kinds, placement, camera paths, motion, the scene
- ``terrain/``: height fields, the terrain mesh, the land to the horizon, cliffs, rocks, water
- ``plants/``: trees, undergrowth (grass, bushes, flowers, ...), ground litter, kelp
- ``atmosphere/``: sky and sun, clouds, fog, rain and snow, under water
- ``materials/``: shader materials of surfaces and of plant matter
- ``geometry/``: numpy meshes, Blender meshes and objects, instancing, node groups
- ``render/``: the ground-truth dataset renderer
- ``core/``: bpy-free helpers (files, processes, PLY, random streams, noise, rotations), which
  the add-on imports too

Commands: ``generate_cli`` (``generate``), ``render.cli`` (``render``) and ``gallery``; run
them with ``python -m procgen`` or through the add-on's ``gs`` command line. bpy is imported
only where Blender data is made: ``core``, ``assembly.config``, ``assembly.biomes``,
``terrain.heightfield``, ``plants``, ``geometry.mesh_arrays`` and the commands' ``--help``
need no Blender.
"""

# procgen's command-line subcommands, name -> (module, one-line help): ``python -m procgen`` and
# the add-on's ``gs`` command line both offer them (see ``core.commands``).
SUBCOMMANDS = {
    "generate": (f"{__name__}.generate_cli", "generate a procedural scene from a seed and render its dataset"),
    "render": (f"{__name__}.render.cli", "render the ground-truth dataset of an existing .blend scene"),
    "gallery": (f"{__name__}.gallery", "render one frame of every biome for a few seeds into one labelled PNG sheet"),
}
