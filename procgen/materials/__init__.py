"""Procedural shader materials with randomised parameters.

``surfaces`` (the node-tree builder and the layer families: soil, grass, rock, sand, snow,
bark, leaf, water, petal, ...; the terrain material that mixes them by slope and height) and
``plant_matter`` (foliage, bark and plain materials of plants, and of rain and snow).
"""
