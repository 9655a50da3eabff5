"""The ground and its water: height fields, the terrain mesh, the land to the horizon, cliffs, rocks, water.

``heightfield`` (noise recipes per terrain kind and thermal erosion, bpy-free),
``terrain_mesh`` (the terrain object), ``backdrop`` (the land beyond the terrain, out to the
horizon), ``overhang`` (a cliff wall with an overhang, which a height field cannot hold),
``rocks`` (rocks, boulders and pebbles) and ``water`` (water with moving waves and surf).
"""
