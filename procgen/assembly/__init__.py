"""A whole scene from a seed: configuration, biomes, the asset kinds, placement, cameras, motion.

``config`` (``SceneConfig`` and its presets, bpy-free), ``biomes`` (one preset per scene
type, bpy-free), ``assets`` (the kinds of asset a scene places) with ``factories`` (their
geometry and material recipes), ``scatter`` (where things go), ``camera_paths`` (orbit,
flythrough and multiview trajectories kept clear of the ground and obstacles), ``motion``
(swaying plants, rolling boulders) and ``scene`` (``generate_scene``, which puts it together).
"""
