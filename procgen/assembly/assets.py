"""The kinds of asset a scene places: one :class:`AssetKind` entry each in :data:`KINDS`.

A kind says how to make its geometry (and materials), how many copies the config asks for,
where copies may stand and how each copy is posed. How many copies a scene gets is that
base count times the biome's amount for the kind (``biomes.Biome.mix``; a kind the biome
does not name is absent). ``scatter.place_kind`` is the one loop that places every kind.
Adding a kind is one entry here (plus its amount in the biomes where it grows). Streams are
named after the kind: ``{name}_material``, ``{name}_mesh`` (index = variant),
``{name}_clump``, ``{name}_place`` and ``{name}_vary`` (each clump's stretch and
height), so a new kind never shifts another kind's draws.

Dense ground cover (grass, litter, pebbles) is placed in clumps: ``clump`` copies merged
into one mesh (a few clump variants per kind) and the clumps instanced over the ground by
one geometry-nodes object, so a million tufts cost a few thousand instances.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.seeding import stream
from ..geometry.blender_mesh import mesh_from_geo
from ..geometry.mesh_arrays import Geo, concat, euler_xyz
from ..plants.trees import crown_base
from ..terrain.heightfield import Heightfield
from . import factories as fx
from .biomes import Biome
from .config import SceneConfig

# How the copies of one kind are posed, in the order their random numbers are drawn.
# The order is part of a kind's recipe: changing it moves every copy of that kind.
DRAWS = ("size", "variant", "rotation", "aspect", "tilt")
COVER_AREA = 0.45  # dense ground cover covers this half-side fraction of the terrain


@dataclass(frozen=True)
class Placement:
    """Where copies of a kind may stand (turned into a ``scatter.Rule``)."""
    spacing: float              # minimum distance between two copies (m); for "jitter": the grid cell
    area: float                 # half side of the square they live in, as a fraction of the terrain size
    max_slope: float            # 1 - normal.z
    min_above_water: float      # metres above the water plane (negative: may stand in the shallows)
    density: float              # how strongly the density map thins them out (0 = uniform)
    below_snow: bool = True     # keep under the snow line
    avoid: tuple = ()           # kinds (and "focus", "path", "cliff") whose keep-out discs they respect;
    #                             an entry (name, margin) widens those discs by margin metres
    max_above_water: float | None = None  # stay this close to the water (reeds)
    pattern: str = "poisson"    # "poisson" (darts, exact spacing), "jitter" (a jittered grid), "stands" (clusters)
    below_tree_line: bool = False  # keep under the biome's tree line (trees)


@dataclass
class AssetContext:
    """What a kind's factories may read: the scene's seed, config, biome, terrain and materials."""
    seed: int
    config: SceneConfig
    hf: Heightfield
    biome: Biome | None = None
    materials: dict = field(default_factory=dict)  # name -> bpy Material, from every kind's recipe


Range = tuple[float, float]
GeoFactory = Callable[[AssetContext, int, np.random.Generator], Geo]  # (ctx, variant, rng) -> Geo


@dataclass(frozen=True)
class AssetKind:
    """One kind of object scattered over the terrain."""
    name: str                    # object names "{name}_{k}", meshes "{name}_mesh_{i}", stream names
    gs_class: str                # semantic class (render/segmentation.CLASS_IDS)
    stage: str                   # the generation stage that places it
    collection: str
    count: Callable[[SceneConfig], float]   # base count; times the biome's amount = copies
    variants: Callable[[SceneConfig], int]  # distinct meshes the copies share
    mesh: GeoFactory
    placement: Placement | Callable[[SceneConfig], Placement]
    size: Range | Callable[[SceneConfig], Range]  # uniform scale range of a copy
    slots: tuple[str, ...] = ()  # material of each slot; "{i}" is replaced by the variant
    size_power: float = 1.0      # size = lo + (hi - lo) * u ** size_power (2: mostly small ones)
    aspect: tuple[Range, ...] = ()  # extra y and z stretch ranges (non-uniform scale)
    tilt: float = 0.0            # standard deviation of the lean about x and y (radians)
    footprint: float = 0.0       # stands on the lowest ground within this radius (0: the ground at its centre)
    sink: float = 0.0            # how far below that ground it starts (m)
    per_size: bool = False       # footprint and sink are multiples of the copy's size
    clearance: Range | None = None  # keep-out disc it leaves for later kinds: radius = a * size + b
    draws: tuple[str, ...] = ("variant", "rotation", "size")
    materials: Callable | None = None  # (config, biome, rng) -> {name: material}, from stream "{name}_material"
    digits: int = 3              # zero padding of the copy number in object names
    own_instance_id: bool = True  # one object (and instance id) per copy, else one object for all copies
    obstacle: bool = False       # cameras keep out of its copies
    clump: int = 0               # copies merged into each clump mesh (0: no clumps)
    clump_radius: float = 0.5    # metres
    members: int = 4             # distinct copy meshes a clump is built from
    follow_ground: bool = False  # each copy (or clump) leans with the ground under it
    under_surface: float | None = None  # on a sea floor: each copy scaled so its top ends this far under the
    #                                     still surface, times its drawn size (kelp reaching up to a canopy)

    def __post_init__(self):
        unknown = set(self.draws) - set(DRAWS)
        need = {"size", "variant", "rotation"} | ({"aspect"} if self.aspect else set()) | (
            {"tilt"} if self.tilt else set())
        if unknown or set(self.draws) != need or len(self.draws) != len(need):
            raise ValueError(f"asset kind {self.name!r}: draws {self.draws} must list each of {sorted(need)} once")
        if self.clump and self.own_instance_id:
            raise ValueError(f"asset kind {self.name!r}: clumps share one instance id (own_instance_id=False)")

    def copies(self, config: SceneConfig, biome: Biome | None) -> int:
        """How many copies to place in ``biome`` (None: the base count)."""
        amount = 1.0 if biome is None else biome.amount(self.name)
        return int(round(self.count(config) * amount))

    def clump_size(self, biome: Biome | None) -> int:
        """Copies per clump in ``biome``: up to ``clump``, fewer where the biome's density (per m^2)
        would not fill a clump's disc, so sparse cover stays evenly spread instead of in tufts."""
        if not self.clump:
            return 1
        amount = self.clump if biome is None else biome.amount(self.name) * np.pi * self.clump_radius ** 2
        return int(np.clip(round(amount), 3, self.clump))

    def rule(self, config: SceneConfig) -> Placement:
        return self.placement(config) if callable(self.placement) else self.placement

    def size_range(self, config: SceneConfig) -> Range:
        return self.size(config) if callable(self.size) else self.size


def make_materials(kinds, config: SceneConfig, seed: int, biome: Biome | None = None) -> dict:
    """Every present kind's materials, each kind from its own stream, merged by name."""
    out: dict = {}
    for kind in kinds:
        if kind.materials is not None and kind.copies(config, biome) > 0:
            made = kind.materials(config, biome, stream(seed, f"{kind.name}_material"))
            if set(made) & set(out):
                raise ValueError(f"asset kind {kind.name!r} makes materials {sorted(set(made) & set(out))} "
                                 "that another kind already made; share them by leaving its recipe out")
            out.update(made)
    return out


def _slot_materials(kind: AssetKind, ctx: AssetContext, variant: int) -> list:
    return [ctx.materials[s.format(i=variant)] for s in kind.slots if s.format(i=variant) in ctx.materials]


def make_meshes(kind: AssetKind, ctx: AssetContext, count: int) -> list:
    """The variant meshes of ``kind`` (none when no copy is placed): one per variant, or for a
    clumped kind one per clump variant, each merging ``clump_size`` copies of its member meshes."""
    if count <= 0:
        return []
    n = max(kind.variants(ctx.config), 1)
    if not kind.clump:
        out = []
        for i in range(n):
            geo = kind.mesh(ctx, i, stream(ctx.seed, f"{kind.name}_mesh", i))
            me = mesh_from_geo(f"{kind.name}_mesh_{i:02d}", geo, _slot_materials(kind, ctx, i))
            me["gs_crown_base"] = crown_base(geo)
            out.append(me)
        return out
    members = [kind.mesh(ctx, i, stream(ctx.seed, f"{kind.name}_mesh", i)) for i in range(kind.members)]
    return [mesh_from_geo(f"{kind.name}_mesh_{i:02d}",
                          clump_geo(kind, ctx.config, members, stream(ctx.seed, f"{kind.name}_clump", i),
                                    kind.clump_size(ctx.biome)),
                          _slot_materials(kind, ctx, 0)) for i in range(n)]


GOLDEN = np.pi * (3.0 - np.sqrt(5.0))


def clump_geo(kind: AssetKind, config: SceneConfig, members: list[Geo], rng: np.random.Generator, k: int) -> Geo:
    """``k`` copies of the member meshes spread evenly over a disc of ``clump_radius`` (a
    jittered sunflower spiral), each with its own variant, turn, size and lean."""
    r = kind.clump_radius * np.sqrt((np.arange(k) + rng.uniform(0.2, 0.8, k)) / k)
    a = np.arange(k) * GOLDEN + rng.normal(scale=0.3, size=k)
    lo, hi = kind.size_range(config)
    sizes = lo + (hi - lo) * rng.uniform(size=k) ** kind.size_power
    variant = rng.integers(len(members), size=k)
    turn = rng.uniform(0, 2 * np.pi, k)
    lean = rng.normal(scale=kind.tilt, size=(k, 2))
    parts = []
    for j in range(k):
        rot = euler_xyz(lean[j, 0], lean[j, 1], turn[j])
        sink = kind.sink * (sizes[j] if kind.per_size else 1.0)
        parts.append(members[variant[j]].transformed(rot, (r[j] * np.cos(a[j]), r[j] * np.sin(a[j]), -sink), sizes[j]))
    return concat(parts)


# --- the table -------------------------------------------------------------------------
# Stages run in the order their first kind appears; within a stage, kinds in table order.
# Placement may depend only on kinds placed earlier (their clearance discs).

def _cover(c: SceneConfig) -> float:
    """Square metres of the dense-cover area, times the preset's cover scale."""
    return c.scatter.cover_scale * (2 * COVER_AREA * c.terrain.size) ** 2


ROCKS = ("rock", "outcrop")
TREES = ("tree_conifer", "tree_broadleaf", "tree_birch", "tree_acacia", "tree_palm", "tree_dead")
CLEAR = ("focus", ("path", 3.5), "cliff")  # where nothing tall may stand: the view's centre, the camera path


def _tree(name: str, mesh, recipe, *, spacing=4.0, slope=0.3, water=0.6, snow=True, size=(0.8, 1.2),
          path=3.5) -> AssetKind:
    """A tree species; ``path``: how far its trunks keep from the camera path (m)."""
    earlier = TREES[:TREES.index(name)]
    return AssetKind(
        name, "tree", "plants", "plants", count=lambda c: c.plants.trees, variants=lambda c: c.plants.tree_variants,
        mesh=mesh, materials=recipe, slots=(f"{name}_bark", f"{name}_leaf"),
        placement=Placement(spacing=spacing, area=0.42, max_slope=slope, min_above_water=water, density=0.8,
                            below_snow=snow, avoid=ROCKS + ("focus", ("path", path), "cliff") + earlier,
                            below_tree_line=True),
        size=size, tilt=0.03, footprint=0.3, sink=0.05, clearance=(0.0, 1.5),
        draws=("variant", "size", "rotation", "tilt"), obstacle=True)


def _dense(name: str, gs_class: str, mesh, recipe, slots, *, clump: int, radius: float, size=(0.7, 1.3),
           slope=0.35, water=0.2, tilt=0.15, sink=0.01, members=4, stage="scatter", snow=True, density=0.75,
           per_size=False, **extra) -> AssetKind:
    """A ground-cover kind in clumps: ``count`` is per square metre (times the biome's amount)."""
    return AssetKind(
        name, gs_class, stage, "cover", count=_cover, variants=lambda c: c.scatter.clump_variants, mesh=mesh,
        materials=recipe, slots=slots,
        placement=Placement(spacing=1.5 * radius, area=COVER_AREA, max_slope=slope, min_above_water=water,
                            density=density, below_snow=snow, avoid=ROCKS + ("cliff",), pattern="jitter",
                            **extra),
        size=size, tilt=tilt, sink=sink, per_size=per_size, digits=5, own_instance_id=False, clump=clump,
        clump_radius=radius,
        members=members, follow_ground=True, draws=("size", "variant", "rotation", "tilt"))


CORALS = ("coral_table", "coral_brain", "coral_branching", "coral_fan")  # biggest first: the others fill in


def _coral(name: str, recipe, *, spacing: float, size) -> AssetKind:
    """A coral growth form, one object (and instance id) per colony, on the sea floor."""
    return AssetKind(
        name, "coral", "plants", "plants", count=lambda c: c.plants.bushes,
        variants=lambda c: c.plants.bush_variants + 1, mesh=getattr(fx, name), materials=recipe,
        slots=(f"{name}_skin",),
        placement=Placement(spacing=spacing, area=0.22, max_slope=0.5, min_above_water=-100.0, density=0.5,
                            avoid=ROCKS + (("path", 1.5),) + CORALS[:CORALS.index(name)]),
        size=size, tilt=0.12, sink=0.04, footprint=0.2, per_size=True, clearance=(0.45, 0.1),
        draws=("variant", "size", "rotation", "tilt"), obstacle=True)


def _instanced(name: str, gs_class: str, mesh, recipe, slots, *, spacing: float, size, variants=3, slope=0.35,
               water=0.3, **extra) -> AssetKind:
    """Small plants, one instance each, all of a kind under one id: ``count`` is per square metre."""
    return AssetKind(
        name, gs_class, "plants", "cover", count=_cover, variants=lambda c: variants, mesh=mesh, materials=recipe,
        slots=slots,
        placement=Placement(spacing=spacing, area=COVER_AREA, max_slope=slope, min_above_water=water, density=0.85,
                            avoid=ROCKS + ("focus", "cliff") + TREES, pattern="jitter", **extra),
        size=size, sink=0.01, digits=5, own_instance_id=False, follow_ground=True)


KINDS: tuple[AssetKind, ...] = (
    AssetKind("outcrop", "rock", "rocks", "rocks", count=lambda c: max(1, c.rocks.count // 4),
              variants=lambda c: max(1, c.rocks.variants // 2), mesh=fx.outcrop, slots=("rock",),
              placement=Placement(spacing=10.0, area=0.4, max_slope=0.7, min_above_water=-1.0, density=0.3,
                                  below_snow=False, avoid=("focus", ("path", 4.0), "cliff")),
              size=(3.0, 8.0), aspect=((0.7, 1.2), (0.6, 1.1)), tilt=0.1, footprint=0.3, sink=0.3, per_size=True,
              clearance=(0.6, 1.0), draws=("size", "variant", "rotation", "aspect", "tilt"), obstacle=True),
    AssetKind("rock", "rock", "rocks", "rocks", count=lambda c: c.rocks.count, variants=lambda c: c.rocks.variants,
              mesh=fx.boulder, materials=fx.rock_materials, slots=("rock",),
              placement=lambda c: Placement(spacing=max(2.5, c.rocks.max_size * 1.2), area=0.3, max_slope=0.6,
                                            min_above_water=-0.5, density=0.4, below_snow=False,
                                            avoid=(("path", 1.0),)),
              size=lambda c: (c.rocks.min_size, c.rocks.max_size), size_power=2.0,
              aspect=((0.8, 1.2), (0.7, 1.2)), tilt=0.12, footprint=0.35, sink=0.12, per_size=True,
              clearance=(0.6, 0.5), draws=("size", "variant", "rotation", "aspect", "tilt"), obstacle=True),
    AssetKind("stone", "rock", "rocks", "rocks", count=lambda c: 3 * c.rocks.count,
              variants=lambda c: max(1, c.rocks.variants // 2), mesh=fx.stone, slots=("rock",),
              placement=Placement(spacing=1.2, area=0.35, max_slope=0.6, min_above_water=-0.5, density=0.6,
                                  below_snow=False, avoid=ROCKS + (("path", 0.5),)),
              size=(0.25, 0.7), size_power=1.5, tilt=0.2, sink=0.15, per_size=True, footprint=0.3,
              draws=("size", "variant", "rotation", "tilt")),
    _tree("tree_conifer", fx.conifer, fx.named_tree_recipe("tree_conifer", "bark", 0.05, sat=(0.4, 0.7),
                                                           val=(0.04, 0.09), translucency=0.15),
          slope=0.4, snow=False, path=5.5),  # low, wide crowns: the camera cannot pass under them
    _tree("tree_broadleaf", fx.colonised("broadleaf"), fx.named_tree_recipe("tree_broadleaf", "bark")),
    _tree("tree_birch", fx.colonised("birch"), fx.named_tree_recipe("tree_birch", "birch", 0.02,
                                                                    val=(0.12, 0.26))),
    _tree("tree_acacia", fx.colonised("acacia"), fx.named_tree_recipe("tree_acacia", "bark", 0.04, val=(0.06, 0.14)),
          spacing=8.0),
    _tree("tree_palm", fx.palm, fx.named_tree_recipe("tree_palm", "palm", 0.02, val=(0.08, 0.2)), water=0.25),
    _tree("tree_dead", fx.colonised("dead"), fx.bark_only("tree_dead", "deadwood"), slope=0.4, snow=False),
    AssetKind("bush", "bush", "plants", "plants", count=lambda c: c.plants.bushes,
              variants=lambda c: c.plants.bush_variants, mesh=fx.bush,
              materials=fx.named_tree_recipe("bush", "bark", 0.03), slots=("bush_bark", "bush_leaf"),
              placement=Placement(spacing=2.5, area=0.35, max_slope=0.4, min_above_water=0.4, density=0.7,
                                  avoid=ROCKS + CLEAR + TREES),
              size=(0.7, 1.3), footprint=0.4, sink=0.05, obstacle=True),
    AssetKind("cactus", "cactus", "plants", "plants", count=lambda c: c.plants.bushes,
              variants=lambda c: c.plants.bush_variants + 1, mesh=fx.cactus, materials=fx.cactus_materials,
              slots=("cactus_skin",),
              placement=Placement(spacing=4.0, area=0.38, max_slope=0.35, min_above_water=0.5, density=0.6,
                                  avoid=ROCKS + CLEAR + TREES),
              size=(0.7, 1.3), footprint=0.3, sink=0.05, obstacle=True),
    # (in stands, twice the bushes' count, tall enough to spread a canopy under the surface)
    AssetKind("kelp", "plant", "plants", "plants", count=lambda c: 2 * c.plants.bushes,
              variants=lambda c: c.plants.bush_variants + 1, mesh=fx.kelp, materials=fx.kelp_materials,
              slots=("kelp_stipe", "kelp_blade"),
              placement=Placement(spacing=0.8, area=0.3, max_slope=0.45, min_above_water=-100.0, density=0.0,
                                  avoid=ROCKS + ("focus", ("path", 2.5)), pattern="stands"),
              size=(0.9, 1.0), tilt=0.03, sink=0.05, draws=("variant", "size", "rotation", "tilt"),
              under_surface=0.9),
    _coral("coral_table", fx.coral_recipe("coral_table", 0.6), spacing=2.2, size=(1.0, 2.4)),
    _coral("coral_brain", fx.coral_recipe("coral_brain", 0.4), spacing=1.3, size=(0.6, 1.8)),
    _coral("coral_branching", fx.coral_recipe("coral_branching"), spacing=1.1, size=(0.8, 1.7)),
    _coral("coral_fan", fx.coral_recipe("coral_fan", 0.3), spacing=1.0, size=(0.8, 1.8)),
    AssetKind("log", "deadwood", "plants", "plants", count=lambda c: max(1, c.plants.trees // 2),
              variants=lambda c: 3, mesh=fx.log, materials=fx.bark_only("log", "deadwood", mossy=True),
              slots=("log_bark",),
              placement=Placement(spacing=6.0, area=0.35, max_slope=0.25, min_above_water=0.3, density=0.5,
                                  avoid=ROCKS + ("focus", ("path", 2.0)) + TREES),
              size=(0.8, 1.2), sink=0.04, follow_ground=True),
    _instanced("fern", "fern", fx.fern, fx.fern_materials, ("fern_leaf",), spacing=0.9, size=(0.7, 1.3)),
    _instanced("reed", "reed", fx.reed, fx.reed_materials, ("reed_blade", "reed_head"), spacing=0.45,
               size=(0.8, 1.2), water=-0.35, max_above_water=0.5, slope=0.3),
    _instanced("flower", "flower", fx.flower, fx.flower_materials, ("flower_stem", "flower_petal_{i}"),
               spacing=0.3, size=(0.8, 1.4), variants=4),
    _instanced("mushroom", "mushroom", fx.mushroom, fx.mushroom_materials, ("mushroom_stem", "mushroom_cap_{i}"),
               spacing=0.4, size=(0.7, 1.5)),
    _dense("grass", "grass", fx.grass_tuft, fx.grass_materials, ("grass_blade",), clump=60, radius=0.55,
           density=0.3),
    _dense("dry_grass", "grass", fx.dry_tuft, fx.dry_grass_materials, ("dry_grass_blade",), clump=45, radius=0.6,
           density=0.4),
    _dense("clover", "ground_cover", fx.clover, fx.clover_materials, ("clover_leaf",), clump=16, radius=0.4),
    _dense("leaf_litter", "leaf_litter", fx.fallen_leaves, fx.leaf_litter_materials, ("leaf_litter_leaf",),
           clump=40, radius=0.5, size=(0.8, 1.3), tilt=0.05, sink=0.0, slope=0.45, density=0.35),
    _dense("needles", "leaf_litter", fx.needle_litter, fx.needle_litter_materials, ("needles_dry",), clump=30,
           radius=0.5, size=(0.8, 1.2), tilt=0.03, sink=0.0, slope=0.45, density=0.35),
    _dense("twigs", "deadwood", fx.twig, fx.bark_only("twigs", "deadwood"), ("twigs_bark",), clump=6, radius=0.7,
           size=(0.7, 1.3), tilt=0.05, sink=0.0, slope=0.45),
    _dense("pebble", "pebble", fx.pebble, fx.pebble_materials, ("pebble",), clump=10, radius=0.5,
           size=(0.04, 0.2), tilt=0.3, sink=0.25, per_size=True, slope=0.8, water=-1.0, snow=False, density=0.5),
)
