"""The kinds of asset a scene places: one :class:`AssetKind` entry each in :data:`KINDS`.

A kind says how to make its meshes (and materials), how many copies the config asks for,
where copies may stand and how each copy is posed. ``scatter.place_kind`` is the one loop
that places every kind. Adding a kind is one entry in ``KINDS``. Streams are named after
the kind: ``{name}_material``, ``{name}_mesh`` (index = variant) and ``{name}_place``, so
a new kind never shifts another kind's random draws.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import materials, plants, rocks
from .config import SceneConfig
from .heightfield import Heightfield
from .seeding import stream

# How the copies of one kind are posed, in the order their random numbers are drawn.
# The order is part of a kind's recipe: changing it moves every copy of that kind.
DRAWS = ("size", "variant", "rotation", "aspect", "tilt")


@dataclass(frozen=True)
class Placement:
    """Where copies of a kind may stand (turned into a ``scatter.Rule``)."""
    spacing: float              # minimum distance between two copies (m)
    area: float                 # half side of the square they live in, as a fraction of the terrain size
    max_slope: float            # 1 - normal.z
    min_above_water: float      # metres above the water plane (negative: may stand in the shallows)
    density: float              # how strongly the density map thins them out (0 = uniform)
    below_snow: bool = True     # keep under the snow line
    avoid: tuple[str, ...] = ()  # kinds (and "focus", the open centre of the view) whose clearance they keep


@dataclass
class AssetContext:
    """What a kind's factories may read: the scene's seed, config, terrain and materials."""
    seed: int
    config: SceneConfig
    hf: Heightfield
    materials: dict = field(default_factory=dict)  # name -> bpy Material, from every kind's recipe


Range = tuple[float, float]
MeshFactory = Callable[[AssetContext, str, int, np.random.Generator], object]  # (ctx, name, variant, rng) -> Mesh


@dataclass(frozen=True)
class AssetKind:
    """One kind of object scattered over the terrain."""
    name: str                    # object names "{name}_{k}", meshes "{name}_mesh_{i}", stream names
    gs_class: str                # semantic class (render/segmentation.CLASS_IDS)
    stage: str                   # the generation stage that places it
    collection: str
    count: Callable[[SceneConfig], int]
    variants: Callable[[SceneConfig], int]  # distinct meshes the copies share
    mesh: MeshFactory
    placement: Placement | Callable[[SceneConfig], Placement]
    size: Range | Callable[[SceneConfig], Range]  # uniform scale range of a copy
    size_power: float = 1.0      # size = lo + (hi - lo) * u ** size_power (2: mostly small ones)
    aspect: tuple[Range, ...] = ()  # extra y and z stretch ranges (non-uniform scale)
    tilt: float = 0.0            # standard deviation of the lean about x and y (radians)
    footprint: float = 0.0       # stands on the lowest ground within this radius (0: the ground at its centre)
    sink: float = 0.0            # how far below that ground it starts (m)
    per_size: bool = False       # footprint and sink are multiples of the copy's size
    clearance: Range | None = None  # keep-out disc it leaves for later kinds: radius = a * size + b
    draws: tuple[str, ...] = ("variant", "rotation", "size")
    materials: Callable[[SceneConfig, np.random.Generator], dict] | None = None  # from stream "{name}_material"
    terrain_factor: dict = field(default_factory=dict)  # terrain kind -> multiplier of the count
    digits: int = 3              # zero padding of the copy number in object names
    own_instance_id: bool = True  # one object (and instance id) per copy, else one object for all copies
    sways: bool = False          # keyframed in the wind
    obstacle: bool = False       # cameras keep out of its copies

    def __post_init__(self):
        unknown = set(self.draws) - set(DRAWS)
        need = {"size", "variant", "rotation"} | ({"aspect"} if self.aspect else set()) | (
            {"tilt"} if self.tilt else set())
        if unknown or set(self.draws) != need or len(self.draws) != len(need):
            raise ValueError(f"asset kind {self.name!r}: draws {self.draws} must list each of {sorted(need)} once")

    def copies(self, config: SceneConfig, terrain_kind: str) -> int:
        """How many copies to place on terrain of ``terrain_kind``."""
        return int(round(self.count(config) * self.terrain_factor.get(terrain_kind, 1.0)))

    def rule(self, config: SceneConfig) -> Placement:
        return self.placement(config) if callable(self.placement) else self.placement

    def size_range(self, config: SceneConfig) -> Range:
        return self.size(config) if callable(self.size) else self.size


def make_materials(kinds, config: SceneConfig, seed: int) -> dict:
    """Every kind's materials, each kind from its own stream, merged by name (kinds share them)."""
    out: dict = {}
    for kind in kinds:
        if kind.materials is not None:
            made = kind.materials(config, stream(seed, f"{kind.name}_material"))
            if set(made) & set(out):
                raise ValueError(f"asset kind {kind.name!r} makes materials {sorted(set(made) & set(out))} "
                                 "that another kind already made; share them by leaving its recipe out")
            out.update(made)
    return out


def make_meshes(kind: AssetKind, ctx: AssetContext, count: int) -> list:
    """The variant meshes of ``kind`` (none when no copy is placed)."""
    n = max(kind.variants(ctx.config), 1) if count > 0 else 0
    return [kind.mesh(ctx, f"{kind.name}_mesh_{i:02d}", i, stream(ctx.seed, f"{kind.name}_mesh", i))
            for i in range(n)]


# --- material recipes: (config, rng) -> {name: material} -------------------------------

def _var(config: SceneConfig) -> float:
    return config.materials.variation


def _rock_materials(config, rng):
    return {"rock": materials.make_material("rock", "rock", rng, _var(config))}


def _tree_materials(config, rng):
    var = _var(config)
    bark = materials.make_material("bark", "bark", rng, var)
    leaf = materials.make_material("leaf", "leaf", rng, var)
    needles = materials.make_material("leaf", "needles", rng, var, hue=float(rng.uniform(0.3, 0.4)))
    return {"bark": bark, "leaf": leaf, "needles": needles}


def _grass_materials(config, rng):
    hue = float(rng.uniform(0.18, 0.27))
    return {"grass_leaf": materials.make_material("leaf", "grass_leaf", rng, _var(config), hue=hue, bright=1.8)}


def _flower_materials(config, rng):
    n = max(config.plants.flower_variants, 1)
    return {f"petal_{i}": materials.make_material("petal", f"petal_{i}", rng, _var(config)) for i in range(n)}


def _pebble_materials(config, rng):
    return {"pebble": materials.make_material("rock", "pebble", rng, _var(config))}


def _cover_materials(config, rng):
    hue = float(rng.uniform(0.2, 0.32))
    return {"ground_cover": materials.make_material("leaf", "ground_cover", rng, _var(config), hue=hue)}


# --- mesh factories: (ctx, name, variant, rng) -> Mesh ---------------------------------

CONIFER_SHARE = {"hills": 0.15, "mountains": 0.75, "canyon": 0.2, "dunes": 0.1}  # by terrain kind


def _rock_mesh(ctx, name, i, rng):
    return rocks.make_rock_mesh(name, rng, ctx.config.rocks.subdivisions, ctx.materials["rock"])


def _tree_mesh(ctx, name, i, rng):
    pc, m = ctx.config.plants, ctx.materials
    conifer = rng.uniform() < CONIFER_SHARE[ctx.hf.kind]
    h = rng.uniform(9, 14) if conifer else rng.uniform(6, 10)
    return plants.make_tree_mesh(name, rng, "conifer" if conifer else "broadleaf", h, pc.tree_attractors,
                                 pc.tree_step * h / 8, pc.leaves_per_tip, m["bark"],
                                 m["needles"] if conifer else m["leaf"])


def _bush_mesh(ctx, name, i, rng):
    pc, m = ctx.config.plants, ctx.materials
    h = float(stream(ctx.seed, "bush_size", i).uniform(0.8, 1.6))
    return plants.make_tree_mesh(name, rng, "bush", h, max(60, pc.tree_attractors // 2), 0.12,
                                 pc.leaves_per_tip + 1, m["bark"], m["leaf"])


def _grass_mesh(ctx, name, i, rng):
    return plants.make_grass_mesh(name, rng, ctx.materials["grass_leaf"])


def _flower_mesh(ctx, name, i, rng):
    return plants.make_flower_mesh(name, rng, ctx.materials["grass_leaf"], ctx.materials[f"petal_{i}"])


def _pebble_mesh(ctx, name, i, rng):
    return rocks.make_rock_mesh(name, rng, 2, ctx.materials["pebble"])


def _cover_mesh(ctx, name, i, rng):
    return plants.make_ground_cover_mesh(name, rng, ctx.materials["ground_cover"])


# --- the table -------------------------------------------------------------------------
# Stages run in the order their first kind appears; within a stage, kinds in table order.
# Placement may depend only on kinds placed earlier (their clearance discs).

NO_LOW_PLANTS_ON = {"dunes": 0.0}

KINDS: tuple[AssetKind, ...] = (
    AssetKind("rock", "rock", "rocks", "rocks", count=lambda c: c.rocks.count, variants=lambda c: c.rocks.variants,
              mesh=_rock_mesh, materials=_rock_materials,
              placement=lambda c: Placement(spacing=max(2.5, c.rocks.max_size * 1.2), area=0.3, max_slope=0.6,
                                            min_above_water=-0.5, density=0.4, below_snow=False),
              size=lambda c: (c.rocks.min_size, c.rocks.max_size), size_power=2.0,
              aspect=((0.8, 1.2), (0.7, 1.2)), tilt=0.12, footprint=0.35, sink=0.12, per_size=True,
              clearance=(0.6, 0.5), draws=("size", "variant", "rotation", "aspect", "tilt"), obstacle=True),
    AssetKind("tree", "tree", "plants", "plants", count=lambda c: c.plants.trees,
              variants=lambda c: c.plants.tree_variants, mesh=_tree_mesh, materials=_tree_materials,
              placement=Placement(spacing=5.0, area=0.42, max_slope=0.3, min_above_water=0.6, density=0.8,
                                  avoid=("rock", "focus")),
              size=(0.8, 1.2), tilt=0.03, footprint=0.3, sink=0.05, clearance=(0.0, 1.5),
              draws=("variant", "size", "rotation", "tilt"), terrain_factor={"dunes": 0.25},
              sways=True, obstacle=True),
    AssetKind("bush", "bush", "plants", "plants", count=lambda c: c.plants.bushes,
              variants=lambda c: c.plants.bush_variants, mesh=_bush_mesh,
              placement=Placement(spacing=2.5, area=0.35, max_slope=0.4, min_above_water=0.4, density=0.7,
                                  avoid=("rock", "focus", "tree")),
              size=(0.7, 1.3), footprint=0.4, sink=0.05, sways=True, obstacle=True),
    AssetKind("grass", "grass", "plants", "grass", count=lambda c: c.plants.grass,
              variants=lambda c: c.plants.grass_variants, mesh=_grass_mesh, materials=_grass_materials,
              placement=Placement(spacing=0.35, area=0.22, max_slope=0.3, min_above_water=0.2, density=0.85,
                                  avoid=("rock",)),
              size=(0.7, 1.4), sink=0.02, terrain_factor=NO_LOW_PLANTS_ON, digits=4),
    AssetKind("flower", "flower", "plants", "grass", count=lambda c: c.plants.flowers,
              variants=lambda c: c.plants.flower_variants, mesh=_flower_mesh, materials=_flower_materials,
              placement=Placement(spacing=0.5, area=0.22, max_slope=0.25, min_above_water=0.3, density=0.9,
                                  avoid=("rock",)),
              size=(0.8, 1.5), sink=0.01, terrain_factor=NO_LOW_PLANTS_ON, sways=True),
    AssetKind("pebble", "pebble", "scatter", "scatter", count=lambda c: c.scatter.pebbles,
              variants=lambda c: c.scatter.pebble_variants, mesh=_pebble_mesh, materials=_pebble_materials,
              placement=lambda c: Placement(spacing=0.3, area=0.22, max_slope=c.scatter.max_slope_pebbles,
                                            min_above_water=-1.0, density=0.8, below_snow=False,
                                            avoid=("rock",)),
              size=(0.05, 0.3), tilt=0.3, sink=0.2, per_size=True, draws=("size", "variant", "rotation", "tilt"),
              digits=4),
    AssetKind("cover", "ground_cover", "scatter", "scatter", count=lambda c: c.scatter.ground_cover,
              variants=lambda c: 3, mesh=_cover_mesh, materials=_cover_materials,
              placement=lambda c: Placement(spacing=0.5, area=0.22, max_slope=c.scatter.max_slope_plants,
                                            min_above_water=0.2, density=0.9, avoid=("rock",)),
              size=(0.7, 1.5), sink=0.01, terrain_factor=NO_LOW_PLANTS_ON, digits=4),
)

