"""Plants, trees and ground cover as numpy geometry (bpy-free).

``skeletons`` (space-colonisation branch skeletons and their tubes), ``trees`` (every tree
species), ``undergrowth`` (bushes, grass tufts, flowers, clover, ferns, reeds,
mushrooms), ``cacti`` (saguaros, barrels, prickly pears), ``litter`` (fallen leaves,
needles, twigs and logs) and ``kelp``. Their materials are in ``procgen.materials.plant_matter``.
"""
