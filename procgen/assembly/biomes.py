"""Biomes: one dataclass preset per scene type (bpy-free).

A :class:`Biome` is data only: which height-field recipe and water the terrain gets, how the
ground is shaded, which asset kinds of ``assets.KINDS`` grow there and how densely, the
foliage colours, and the sky (time of day, clouds, haze, height fog, rain or snow). The
generator reads these presets; no stage branches on a biome's name, so a new biome is one
entry in :data:`BIOMES`.

Amounts in ``mix``: for kinds placed one by one (trees, rocks, bushes, ...) a multiplier of
the config's base count; for dense ground cover (kinds with ``per_m2``) copies per square
metre of the cover area. Kinds a biome does not name are absent from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .camera_walk import PLAIN_WALK, WalkStyle

Range = tuple[float, float]


@dataclass(frozen=True)
class GroundLook:
    """How the terrain material is mixed (see ``materials.surfaces.make_terrain_material``)."""
    base: str = "grass"          # base layer: grass, forest, needles, dry, sand, strata, snow, mud
    rock_slope: float = 0.22     # 1 - normal.z where bare rock takes over
    snow_line: Range | None = None  # quantile range of the heights where snow starts (None: no snow)
    beach: bool = True           # sand along the water's edge
    rock_tint: tuple[float, float, float] | None = None  # colour of the bare rock (None: grey)
    tree_line: Range | None = None  # quantile range of the heights above which no tree grows (None: none)
    rock_strata: float = 0.15    # share of level bands in the bare rock's pattern (0: massive rock, granite)


@dataclass(frozen=True)
class SkyLook:
    """Time of day, clouds, haze, fog and weather, each drawn from its range."""
    sun_elevation: Range = (15.0, 60.0)  # degrees above the horizon
    overcast: float = 0.0        # probability of an overcast sky (weak, diffuse sun; full cloud)
    clouds: Range = (0.1, 0.5)   # cloud cover, 0 clear .. 1 full
    haze: Range = (0.2, 1.0)     # aerosol density of the sky model
    fog: float = 0.0             # probability of height fog
    fog_density: Range = (0.01, 0.03)  # volume density at the ground (1/m)
    fog_height: Range = (4.0, 10.0)    # metres over which the fog thins to 1/e
    rain: float = 0.0            # probability of rain
    snow: float = 0.0            # probability of falling snow
    exposure: float = 0.0        # stops added to the camera's exposure: snow is metered up, as photographers do
    fog_colour: tuple[float, float, float] | None = None  # the fog's colour (None: the lit air's, from the sun)
    cloud_shadows: bool = True   # broken cloud also stands as a volume that shades the land (render time)
    shafts: float = 0.0          # density (1/m) of thin air that shows the sun's shafts; 0: none (render time)


@dataclass(frozen=True)
class Biome:
    name: str
    terrain: str                 # height-field recipe (heightfield.RECIPES; "cliff" also builds the overhanging wall)
    ground: GroundLook
    mix: dict[str, float]        # asset kind -> amount (see the module docstring)
    sky: SkyLook = field(default_factory=SkyLook)
    relief: float = 1.0          # multiplier of the recipe's relief
    water: str = "none"          # none, lake, river, ocean, pools; sea: the whole terrain under water, cameras too
    water_chance: float = 1.0    # probability of the water (lake and pools only)
    foliage_hue: Range = (0.2, 0.32)  # hue range of leaves (0.05 orange .. 0.33 green)
    camera_height: Range = (2.0, 4.0)  # metres above the ground
    horizon: Range = (20.0, 60.0)      # relief of the distant land around the terrain (m)
    subject: str = "terrain"     # the signature feature's semantic class: cameras turn towards it
    subject_slope: float = 0.0   # terrain as subject: only ground this steep (1 - normal.z; canyon walls)
    close_range: bool = False    # trees enough for the close-range walk among them
    walk_past: tuple[str, ...] = ("rock",)  # classes the close-range walk passes within a metre of (docs/scenes.md)
    walk: WalkStyle = PLAIN_WALK  # the walk's eye heights, steadiness and what its view turns towards
    look_height: float = 0.0     # metres above the ground that cameras look at (0: 1 m, under the sea 3 m)
    fauna: dict[str, float] = field(default_factory=dict)  # animal kind (animals.KINDS) -> amount
    description: str = ""

    def amount(self, kind: str) -> float:
        return float(self.mix.get(kind, 0.0))


FOREST_SHAFTS = 0.004  # the air among the trees: shafts through the canopy
SEA_SHAFTS = 0.008     # the water: shafts where the waves focus the light and between the kelp
FOREST_SKY = SkyLook(sun_elevation=(18.0, 55.0), clouds=(0.1, 0.55), fog=0.35, fog_density=(0.008, 0.02),
                     rain=0.15, shafts=FOREST_SHAFTS)

BIOMES: dict[str, Biome] = {b.name: b for b in (
    Biome("broadleaf_forest", "hills", GroundLook(base="forest", rock_slope=0.25), relief=0.6,
          water="lake", water_chance=0.2, camera_height=(1.6, 2.6), sky=FOREST_SKY,
          mix={"rock": 0.6, "tree_broadleaf": 7.0, "tree_birch": 2.0, "tree_dead": 0.5, "bush": 1.8,
               "fern": 0.35, "mushroom": 0.08, "log": 1.0, "flower": 0.05, "grass": 6.0, "leaf_litter": 70.0,
               "twigs": 2.5, "pebble": 0.5, "clover": 1.0},
          walk_past=("tree",), subject="tree", close_range=True,
          description="deciduous trees and birches over leaf litter, ferns, fallen logs and mushrooms"),
    Biome("conifer_forest", "mountains", GroundLook(base="needles", rock_slope=0.26), relief=0.55,
          horizon=(50.0, 130.0),
          camera_height=(1.6, 2.8), foliage_hue=(0.28, 0.38),
          sky=SkyLook(sun_elevation=(15.0, 50.0), clouds=(0.1, 0.6), fog=0.55, fog_density=(0.01, 0.03),
                      rain=0.1, snow=0.1, shafts=FOREST_SHAFTS),
          mix={"rock": 1.2, "stone": 1.0, "tree_conifer": 8.0, "tree_birch": 0.5, "tree_dead": 0.6, "bush": 0.6,
               "fern": 0.3, "mushroom": 0.06, "log": 1.2, "needles": 80.0, "twigs": 3.0, "grass": 3.0,
               "pebble": 0.8},
          walk_past=("tree",), subject="tree", close_range=True,
          description="spruce and pine on needle-covered slopes with boulders and fog"),
    Biome("meadow", "plains", GroundLook(base="grass", rock_slope=0.25), water="lake", water_chance=0.25,
          horizon=(10.0, 45.0),
          camera_height=(1.3, 2.4),
          sky=SkyLook(sun_elevation=(8.0, 65.0), clouds=(0.15, 0.6), fog=0.1),
          mix={"rock": 0.3, "tree_broadleaf": 0.35, "tree_birch": 0.15, "bush": 0.6, "grass": 130.0,
               "flower": 1.6, "clover": 2.0, "pebble": 0.3},
          walk_past=("bush",), walk=WalkStyle(steady=True, look=("bush", "flower")), subject="grass",
          fauna={"bird": 1.0, "deer": 1.0},
          description="dense grass and wild flowers with a few trees"),
    Biome("desert", "dunes", GroundLook(base="sand", rock_slope=0.5, beach=False), camera_height=(1.8, 3.5),
          horizon=(6.0, 25.0),
          foliage_hue=(0.18, 0.26),
          sky=SkyLook(sun_elevation=(30.0, 72.0), clouds=(0.0, 0.15), haze=(0.8, 2.0)),
          mix={"rock": 0.4, "cactus": 1.4, "tree_dead": 0.15, "dry_grass": 1.5, "pebble": 0.6},
          walk_past=("cactus",), subject="terrain",
          description="wind-shaped dunes, cacti and scattered stones under a hazy high sun"),
    Biome("canyon", "canyon", GroundLook(base="strata", rock_slope=0.12, rock_tint=(0.3, 0.14, 0.07)),
          water="river", camera_height=(3.0, 7.0), foliage_hue=(0.17, 0.26), horizon=(25.0, 60.0),
          sky=SkyLook(sun_elevation=(8.0, 40.0), clouds=(0.0, 0.35), haze=(0.4, 1.4)),
          mix={"rock": 1.5, "outcrop": 1.0, "tree_dead": 0.4, "bush": 0.6, "cactus": 0.4, "dry_grass": 3.0,
               "pebble": 1.0},
          walk_past=("cactus", "bush", "tree"), subject="terrain", subject_slope=0.2,
          fauna={"bird": 1.0},
          description="a river between terraced walls of layered red rock"),
    Biome("arctic", "mountains", GroundLook(base="snow", rock_slope=0.3, snow_line=(0.0, 0.05)), relief=1.1,
          horizon=(70.0, 170.0),
          camera_height=(2.5, 6.0), foliage_hue=(0.3, 0.4),
          sky=SkyLook(sun_elevation=(5.0, 28.0), overcast=0.35, clouds=(0.2, 0.7), haze=(0.1, 0.6), fog=0.3,
                      snow=0.6, exposure=0.8),
          mix={"rock": 1.0, "outcrop": 0.8, "tree_conifer": 2.0, "tree_dead": 0.2, "pebble": 0.4},
          walk_past=("rock", "tree"), subject="terrain",
          fauna={"deer": 1.0},
          description="snow-covered mountains, dark rock ridges, sparse conifers and falling snow"),
    Biome("coast", "coast", GroundLook(base="grass", rock_slope=0.22), water="ocean", camera_height=(2.0, 5.0),
          sky=SkyLook(sun_elevation=(12.0, 65.0), clouds=(0.15, 0.6), haze=(0.3, 1.0)),
          mix={"rock": 1.2, "outcrop": 0.5, "tree_palm": 2.5, "bush": 0.6, "grass": 18.0, "pebble": 1.2},
          walk_past=("tree", "rock"), subject="water", walk=WalkStyle(steady=True),  # along the beach
          fauna={"bird": 1.0},
          description="an ocean with moving waves, a sand beach, palms and rocks"),
    Biome("wetland", "valley", GroundLook(base="mud", rock_slope=0.25), water="river", camera_height=(1.5, 3.0),
          sky=SkyLook(sun_elevation=(10.0, 50.0), overcast=0.3, clouds=(0.3, 0.8), fog=0.5,
                      fog_density=(0.01, 0.025), rain=0.25),
          mix={"rock": 0.4, "tree_birch": 2.0, "tree_broadleaf": 1.2, "bush": 1.0, "reed": 6.0, "grass": 60.0,
               "flower": 0.4, "clover": 2.0},
          walk_past=("tree",), subject="water", close_range=True,
          fauna={"bird": 1.0},
          description="a slow river through reeds, lush grass, birches and willows"),
    Biome("cliff", "cliff", GroundLook(base="grass", rock_slope=0.2), camera_height=(2.0, 4.0),
          horizon=(30.0, 90.0),
          sky=SkyLook(sun_elevation=(15.0, 60.0), clouds=(0.1, 0.6), fog=0.2),
          mix={"rock": 1.5, "stone": 1.0, "tree_conifer": 2.0, "tree_broadleaf": 0.8, "bush": 1.0, "fern": 0.2,
               "grass": 40.0, "flower": 0.3, "pebble": 1.0},
          walk_past=("tree",), subject="cliff", close_range=True,
          fauna={"bird": 1.0},
          description="an overhanging rock wall with hollows above grass and scree"),
    Biome("savanna", "plains", GroundLook(base="dry", rock_slope=0.25), relief=0.6, camera_height=(1.6, 3.0),
          horizon=(5.0, 30.0),
          foliage_hue=(0.18, 0.27),
          sky=SkyLook(sun_elevation=(5.0, 30.0), clouds=(0.0, 0.4), haze=(0.6, 1.6)),
          mix={"rock": 0.5, "tree_acacia": 1.2, "tree_dead": 0.15, "bush": 0.8, "dry_grass": 90.0, "pebble": 0.4},
          walk_past=("tree", "rock"), subject="grass",
          # over the knee-to-hip-high grass, which the walk may not enter
          walk=WalkStyle(eye=(1.3, 1.4), steady=True, look=("tree", "rock")),
          fauna={"bird": 1.0, "deer": 1.0},
          description="golden dry grass and flat-topped acacias in low evening light"),
    Biome("autumn_forest", "hills", GroundLook(base="forest", rock_slope=0.25), relief=0.7, water="lake",
          water_chance=0.3, camera_height=(1.6, 2.6), foliage_hue=(0.01, 0.12),
          # no shafts: the densest biome keeps its default dataset within the 5-minute render budget
          # (shafts cost a forest about +48 % RGB time, docs/scenes.md); its fog already scatters light
          sky=SkyLook(sun_elevation=(10.0, 40.0), clouds=(0.1, 0.6), fog=0.45, fog_density=(0.008, 0.02)),
          # ferns and fallen leaves thinned (0.15 and 140 before) when their leaves became closed bodies,
          # which cost this biome's dataset 309 s against the 300 s budget
          mix={"rock": 0.5, "tree_broadleaf": 6.0, "tree_birch": 2.0, "tree_dead": 0.4, "bush": 1.0, "fern": 0.12,
               "mushroom": 0.1, "log": 0.8, "leaf_litter": 115.0, "twigs": 2.0, "grass": 3.0},
          walk_past=("tree",), subject="tree", close_range=True,
          description="orange and red broadleaf trees on a thick carpet of fallen leaves"),
    # Under the sea the "fog" is the water itself: dense, blue-green, the same at every depth.
    Biome("underwater", "dunes", GroundLook(base="sand", rock_slope=0.3, beach=False, rock_tint=(0.16, 0.15, 0.12)),
          relief=0.45, water="sea", camera_height=(1.8, 3.2), horizon=(2.0, 8.0), foliage_hue=(0.08, 0.13),
          sky=SkyLook(sun_elevation=(50.0, 80.0), clouds=(0.0, 0.2), haze=(0.2, 0.6), fog=1.0,
                      fog_density=(0.05, 0.08), fog_height=(400.0, 600.0), fog_colour=(0.012, 0.1, 0.12),
                      cloud_shadows=False, shafts=SEA_SHAFTS),
          mix={"rock": 1.0, "outcrop": 0.6, "stone": 0.8, "kelp": 20.0, "grass": 4.0, "pebble": 1.5},
          walk_past=("plant", "rock"), subject="plant",
          fauna={"fish": 1.0},
          description="a kelp forest on a sandy sea floor with rocks, seen from below the moving waves"),
    Biome("mountain", "alpine", GroundLook(base="grass", rock_slope=0.22, snow_line=(0.94, 0.98),
                                           tree_line=(0.35, 0.5), rock_strata=0.0),
          horizon=(120.0, 260.0), camera_height=(4.0, 9.0), foliage_hue=(0.27, 0.36),
          sky=SkyLook(sun_elevation=(12.0, 55.0), clouds=(0.1, 0.6), haze=(0.2, 0.8), fog=0.2,
                      fog_density=(0.006, 0.015), fog_height=(8.0, 16.0), rain=0.1),
          mix={"rock": 1.4, "outcrop": 1.2, "stone": 1.5, "tree_conifer": 2.0, "tree_dead": 0.3, "bush": 0.5,
               "grass": 25.0, "flower": 0.3, "pebble": 1.5},
          walk_past=("rock", "tree"), subject="terrain", subject_slope=0.16, fauna={"bird": 1.0},
          description="sharp ridges and grey rock faces over alpine grass, spruces up to a tree line"),
    Biome("snowy_mountain", "alpine", GroundLook(base="snow", rock_slope=0.26, snow_line=(0.0, 0.05),
                                                 tree_line=(0.15, 0.3), rock_strata=0.0),
          relief=1.15, horizon=(150.0, 320.0), camera_height=(4.0, 9.0), foliage_hue=(0.3, 0.4),
          sky=SkyLook(sun_elevation=(10.0, 40.0), overcast=0.2, clouds=(0.0, 0.45), haze=(0.05, 0.4), fog=0.15,
                      snow=0.3, exposure=0.9),
          mix={"rock": 0.8, "outcrop": 1.4, "tree_conifer": 2.5, "pebble": 0.3},
          walk_past=("rock", "tree"), subject="terrain", subject_slope=0.2,
          description="snow-covered peaks with knife-edge ridges, rock faces too steep for snow, spruces low down"),
    # Enclosed: the roof shuts out the sky but for the mouth, so the sun is kept low to shine in
    # (``scene`` turns it towards the mouth) and the exposure is metered up for the dark rock.
    Biome("cave", "cave", GroundLook(base="soil", rock_slope=0.12, beach=False, rock_tint=(0.2, 0.18, 0.15)),
          camera_height=(1.6, 2.4), horizon=(40.0, 100.0),
          sky=SkyLook(sun_elevation=(6.0, 20.0), clouds=(0.0, 0.4), haze=(0.2, 0.8), exposure=2.0,
                      cloud_shadows=False),
          mix={"rock": 0.6, "stone": 2.0, "pebble": 3.0},
          walk_past=("rock",), subject="terrain",
          description="a tunnel through the rock under a roof hung with stalactites, lit through its mouth"),
    Biome("coral_reef", "reef", GroundLook(base="sand", rock_slope=0.3, beach=False, rock_tint=(0.3, 0.27, 0.22)),
          relief=1.0, water="sea", camera_height=(1.3, 2.4), horizon=(2.0, 6.0), foliage_hue=(0.3, 0.45),
          sky=SkyLook(sun_elevation=(50.0, 80.0), clouds=(0.0, 0.2), haze=(0.2, 0.6), fog=1.0,
                      fog_density=(0.03, 0.05), fog_height=(400.0, 600.0), fog_colour=(0.01, 0.11, 0.19),
                      cloud_shadows=False, shafts=SEA_SHAFTS),
          mix={"rock": 0.4, "coral_branching": 30.0, "coral_brain": 18.0, "coral_fan": 12.0, "coral_table": 8.0,
               "pebble": 1.0},
          walk_past=("coral",), subject="coral", look_height=0.6, fauna={"fish": 2.0},
          description="a coral reef of branching, brain, fan and table corals on white sand in clear blue water"),
    Biome("river", "river", GroundLook(base="grass", rock_slope=0.25), water="river", camera_height=(1.6, 3.0),
          horizon=(20.0, 60.0),
          sky=SkyLook(sun_elevation=(15.0, 60.0), clouds=(0.1, 0.55), fog=0.15),
          mix={"rock": 1.0, "stone": 1.0, "tree_broadleaf": 2.0, "tree_birch": 1.5, "bush": 1.4, "reed": 3.0,
               "grass": 50.0, "flower": 0.6, "fern": 0.1, "pebble": 1.5},
          walk_past=("tree",), subject="water", close_range=True, fauna={"bird": 1.0, "deer": 0.5},
          description="a broad river between grassy banks with reeds, willows and birches"),
)}

BIOME_NAMES = tuple(BIOMES)
FIRST_BIOMES = 12  # how many biomes there were when "auto" first drew one (see pick_biome)


def pick_biome(name: str, rng: np.random.Generator) -> Biome:
    """The biome ``name``, or for ``"auto"`` one drawn from ``rng``, each equally likely. The draw
    among the first twelve comes first, as it did before more biomes were added, and a second
    draw hands the later ones their share, so most seeds keep the biome they always had."""
    if name == "auto":
        k = int(rng.integers(FIRST_BIOMES))
        later = len(BIOME_NAMES) - FIRST_BIOMES
        if later > 0 and rng.uniform() < later / len(BIOME_NAMES):
            k = FIRST_BIOMES + int(rng.integers(later))
        return BIOMES[BIOME_NAMES[k]]
    if name not in BIOMES:
        raise ValueError(f"unknown biome {name!r}; choose one of {('auto',) + BIOME_NAMES}")
    return BIOMES[name]


@dataclass(frozen=True)
class Weather:
    """What the sky stage draws from a biome's :class:`SkyLook` for one scene."""
    sun_elevation: float
    overcast: bool
    clouds: float
    haze: float
    fog_density: float           # 0: no fog
    fog_height: float
    precipitation: str           # none, rain, snow
    fog_colour: tuple[float, float, float] | None = None


def draw_weather(sky: SkyLook, rng: np.random.Generator) -> Weather:
    """Draw one scene's sky from ``sky`` (always the same draws in the same order)."""
    u = rng.uniform(size=8)
    lerp = lambda r, t: float(r[0] + (r[1] - r[0]) * t)  # noqa: E731
    overcast = bool(u[0] < sky.overcast)
    fog = lerp(sky.fog_density, u[4]) if u[3] < sky.fog else 0.0
    precipitation = "snow" if u[6] < sky.snow else ("rain" if u[7] < sky.rain else "none")
    clouds = 1.0 if overcast else lerp(sky.clouds, u[2])
    if precipitation != "none":
        clouds = max(clouds, 0.85)
    return Weather(sun_elevation=lerp(sky.sun_elevation, u[1]), overcast=overcast or precipitation != "none",
                   clouds=clouds, haze=lerp(sky.haze, u[5]), fog_density=fog,
                   fog_height=lerp(sky.fog_height, u[5]), precipitation=precipitation, fog_colour=sky.fog_colour)
