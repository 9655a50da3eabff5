"""The factories behind ``assets.KINDS``: one geometry factory and one material recipe per kind.

Geometry factories: ``(ctx, variant, rng) -> geometry.mesh_arrays.Geo`` with ``ctx`` an
``assets.AssetContext`` (seed, config, biome, heightfield, materials). Material recipes:
``(config, biome, rng) -> {name: material}``; material names start with the kind's name so
that two kinds never make the same one. Each draws only from the stream it is given.
"""
from __future__ import annotations

import colorsys

import numpy as np

from ..geometry.mesh_arrays import Geo
from ..materials import moss, plant_matter, rock_relief, surfaces
from ..materials.coral_skin import coral_material
from ..plants import cacti, coral, litter, trees, undergrowth
from ..plants.kelp import kelp as kelp_geo
from ..terrain import rocks


def _var(config) -> float:
    return config.materials.variation


def _hue(biome, shift: float = 0.0) -> tuple[float, float]:
    lo, hi = biome.foliage_hue
    return lo + shift, hi + shift


# --- material recipes -------------------------------------------------------------------

def rock_materials(config, biome, rng):
    tint = biome.ground.rock_tint
    mat = surfaces.make_material("rock", "rock", rng, _var(config), tint=tint)
    relief_rng, moss_rng = rng.spawn(2)  # child streams: rng's own draws stay as they were
    rock_relief.add_micro_relief(mat, relief_rng)
    return _mossy({"rock": mat}, biome, moss_rng)


def pebble_materials(config, biome, rng):
    return {"pebble": surfaces.make_material("rock", "pebble", rng, _var(config), tint=biome.ground.rock_tint)}


def named_tree_recipe(kind: str, bark: str, hue_shift: float = 0.0, **leaf):
    def recipe(config, biome, rng):
        out = {f"{kind}_bark": plant_matter.bark_material(f"{kind}_bark", rng, bark, _var(config))}
        out[f"{kind}_leaf"] = plant_matter.foliage_material(f"{kind}_leaf", rng, _hue(biome, hue_shift), **leaf)
        return _snowed(out, biome)
    return recipe


def bark_only(kind: str, bark: str, mossy: bool = False):
    def recipe(config, biome, rng):
        out = {f"{kind}_bark": plant_matter.bark_material(f"{kind}_bark", rng, bark, _var(config))}
        if mossy:
            out = _mossy(out, biome, rng.spawn(1)[0])  # a child stream after the bark relief's
        return _snowed(out, biome)
    return recipe


def _mossy(materials: dict, biome, rng) -> dict:
    """Rocks and logs of the moist biomes grow moss on their upper faces."""
    if biome is not None and biome.name in moss.MOIST_BIOMES:
        for mat in materials.values():
            moss.moss_cover(mat, rng)
    return materials


def _snowed(materials: dict, biome) -> dict:
    """Trees of a snow-covered biome carry snow on their branches' and needles' upper sides."""
    if biome is not None and biome.ground.base == "snow":
        for mat in materials.values():
            plant_matter.snow_cover(mat)
    return materials


def grass_materials(config, biome, rng):
    return {"grass_blade": plant_matter.foliage_material("grass_blade", rng, _hue(biome, -0.03), sat=(0.5, 0.75),
                                                         val=(0.14, 0.32), translucency=0.35, tip=True)}


def dry_grass_materials(config, biome, rng):
    return {"dry_grass_blade": plant_matter.foliage_material("dry_grass_blade", rng, (0.09, 0.14), sat=(0.35, 0.6),
                                                             val=(0.25, 0.45), translucency=0.25, tip=True)}


def clover_materials(config, biome, rng):
    return {"clover_leaf": plant_matter.foliage_material("clover_leaf", rng, _hue(biome), val=(0.05, 0.14))}


def flower_materials(config, biome, rng):
    palette = [(0.8, 0.72, 0.08), (0.85, 0.85, 0.85), (0.6, 0.1, 0.5), (0.85, 0.3, 0.05), (0.3, 0.3, 0.85),
               (0.8, 0.1, 0.08), (0.55, 0.25, 0.75)]
    out = {"flower_stem": plant_matter.foliage_material("flower_stem", rng, _hue(biome), val=(0.06, 0.14))}
    for i in range(max(config.plants.flower_variants, 1)):
        col = palette[int(rng.integers(len(palette)))]
        out[f"flower_petal_{i}"] = plant_matter.foliage_material(
            f"flower_petal_{i}", rng, _around(col, 0.02), sat=_around_s(col), val=_around_v(col), translucency=0.3)
    return out


def _around(rgb, d):
    h = colorsys.rgb_to_hsv(*rgb)[0]
    return h - d, h + d


def _around_s(rgb):
    s = colorsys.rgb_to_hsv(*rgb)[1]
    return max(s - 0.1, 0.0), min(s + 0.1, 1.0)


def _around_v(rgb):
    v = colorsys.rgb_to_hsv(*rgb)[2]
    return v * 0.6, v * 0.9


def fern_materials(config, biome, rng):
    return {"fern_leaf": plant_matter.foliage_material("fern_leaf", rng, _hue(biome, 0.02), val=(0.06, 0.16),
                                                       translucency=0.35)}


def reed_materials(config, biome, rng):
    return {"reed_blade": plant_matter.foliage_material("reed_blade", rng, (0.15, 0.24), sat=(0.4, 0.7),
                                                        val=(0.12, 0.28), tip=True),
            "reed_head": plant_matter.plain_material("reed_head", rng, (0.16, 0.08, 0.04), 0.8)}


def kelp_materials(config, biome, rng):
    return {"kelp_stipe": plant_matter.plain_material("kelp_stipe", rng, (0.1, 0.07, 0.02), 0.6),
            "kelp_blade": plant_matter.foliage_material("kelp_blade", rng, _hue(biome), sat=(0.65, 0.9),
                                                        val=(0.14, 0.3), translucency=0.45, tip=True, roughness=0.4)}


def coral_recipe(kind: str, polyps: float = 1.0):
    def recipe(config, biome, rng):
        return {f"{kind}_skin": coral_material(f"{kind}_skin", rng, polyps)}
    return recipe


def cactus_materials(config, biome, rng):
    return {"cactus_skin": plant_matter.cactus_material("cactus_skin", rng, (0.09, 0.2, 0.08))}


def mushroom_materials(config, biome, rng):
    caps = [((0.6, 0.06, 0.03), (0.9, 0.88, 0.8)), ((0.35, 0.2, 0.1), None), ((0.55, 0.42, 0.25), None)]
    out = {"mushroom_stem": plant_matter.plain_material("mushroom_stem", rng, (0.75, 0.7, 0.6), 0.7)}
    for i in range(3):
        col, spots = caps[i]
        out[f"mushroom_cap_{i}"] = plant_matter.plain_material(f"mushroom_cap_{i}", rng, col, 0.5, spots=spots)
    return out


# Leaves and needles lying on the ground get no light from below: without the translucent
# lobe they look the same and a dense biome renders 9 % faster (docs/benchmarks.md).
def leaf_litter_materials(config, biome, rng):
    return {"leaf_litter_leaf": plant_matter.foliage_material("leaf_litter_leaf", rng, (0.02, 0.12), sat=(0.5, 0.85),
                                                              val=(0.06, 0.28), translucency=0.0, roughness=0.7)}


def needle_litter_materials(config, biome, rng):
    return {"needles_dry": plant_matter.foliage_material("needles_dry", rng, (0.04, 0.08), sat=(0.5, 0.75),
                                                         val=(0.08, 0.2), translucency=0.0, roughness=0.75)}


# --- geometry factories -------------------------------------------------------------------

def boulder(ctx, i, rng) -> Geo:
    return rocks.rock_geo(rng, ctx.config.rocks.subdivisions, "boulder")


def outcrop(ctx, i, rng) -> Geo:
    return rocks.rock_geo(rng, max(ctx.config.rocks.subdivisions, 3), "outcrop")


def stone(ctx, i, rng) -> Geo:
    return rocks.rock_geo(rng, min(ctx.config.rocks.subdivisions, 3), "boulder")


def pebble(ctx, i, rng) -> Geo:
    return rocks.rock_geo(rng, 2, "pebble")


def colonised(species: str):
    def factory(ctx, i, rng) -> Geo:
        sp = trees.SPECIES[species]
        pc = ctx.config.plants
        h = rng.uniform(*sp.height)
        return trees.colonised_tree(rng, sp, h, pc.tree_attractors, pc.tree_step * h / 8)
    return factory


def _detail(ctx) -> float:
    """Twig density of the preset: full trees at the default's 500 attraction points."""
    return float(np.clip(ctx.config.plants.tree_attractors / 500.0, 0.25, 1.5))


def conifer(ctx, i, rng) -> Geo:
    return trees.conifer(rng, rng.uniform(11.0, 18.0), _detail(ctx))


def palm(ctx, i, rng) -> Geo:
    return trees.palm(rng, rng.uniform(7.0, 11.0), _detail(ctx))


def bush(ctx, i, rng) -> Geo:
    return undergrowth.bush(rng, rng.uniform(0.8, 1.7), max(60, ctx.config.plants.tree_attractors // 2))


def grass_tuft(ctx, i, rng) -> Geo:
    return undergrowth.grass_tuft(rng, height=rng.uniform(0.25, 0.5))


def dry_tuft(ctx, i, rng) -> Geo:
    return undergrowth.grass_tuft(rng, height=rng.uniform(0.4, 0.8), blades=int(rng.integers(10, 20)), width=0.005)


def clover(ctx, i, rng) -> Geo:
    return undergrowth.clover(rng)


def flower(ctx, i, rng) -> Geo:
    return undergrowth.flower(rng)


def fern(ctx, i, rng) -> Geo:
    return undergrowth.fern(rng, rng.uniform(0.6, 1.1))


def reed(ctx, i, rng) -> Geo:
    return undergrowth.reeds(rng, rng.uniform(1.2, 2.0))


KELP_TOP = 0.9  # metres: the canopy of kelp on the highest ground stays this far under the still surface


def kelp(ctx, i, rng) -> Geo:
    """Up to KELP_TOP under the surface from the highest ground (lower ground: a little deeper),
    so that the canopy spreads just under the waves and no blade breaks through them (8 m of
    water where the terrain is no sea floor)."""
    hf = ctx.hf
    depth = float(hf.water_level - hf.z.max()) if hf is not None and hf.submerged else 8.0
    return kelp_geo(rng, (depth - KELP_TOP) * rng.uniform(0.97, 1.0))


def cactus(ctx, i, rng) -> Geo:
    return cacti.cactus(rng, rng.uniform(1.5, 4.5))


def mushroom(ctx, i, rng) -> Geo:
    return undergrowth.mushroom(rng, rng.uniform(0.06, 0.14))


def fallen_leaves(ctx, i, rng) -> Geo:
    return litter.fallen_leaves(rng)


def needle_litter(ctx, i, rng) -> Geo:
    return litter.needle_litter(rng)


def twig(ctx, i, rng) -> Geo:
    return litter.twig(rng)


def log(ctx, i, rng) -> Geo:
    return litter.log(rng, rng.uniform(2.5, 6.0), rng.uniform(0.12, 0.3))


def coral_branching(ctx, i, rng) -> Geo:
    return coral.branching(rng, 1.0)


def coral_brain(ctx, i, rng) -> Geo:
    return coral.brain(rng, 1.0)


def coral_fan(ctx, i, rng) -> Geo:
    return coral.fan(rng, 1.0)


def coral_table(ctx, i, rng) -> Geo:
    return coral.table(rng, 1.0)
