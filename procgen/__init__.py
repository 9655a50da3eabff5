"""Procedural natural scenes for Blender and their ground-truth datasets.

Scene generation (``procgen.scene.generate_scene``) builds terrain, rocks, plants,
scattered detail, materials, sky and camera paths from a seed and a
:class:`procgen.config.SceneConfig`; ``procgen.render`` turns any scene with an
animated camera into a dataset. bpy-free modules: ``config``, ``seeding``, ``noise``,
``heightfield`` and ``generate_cli`` (until its ``run``).
"""
