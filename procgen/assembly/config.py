"""Scene configuration: one dataclass per generator, nested in :class:`SceneConfig` (bpy-free).

Every parameter that shapes a scene lives here, so ``SceneConfig.to_dict()`` is the
complete recipe recorded in ``scene.json``. Presets: ``tiny`` (tests, seconds),
``default`` (the benchmark scene) and ``large``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .biomes import BIOME_NAMES

TERRAIN_KINDS = ("hills", "mountains", "canyon", "dunes", "plains", "valley", "coast", "cliff", "alpine", "river",
                 "cave", "reef")
TRAJECTORIES = ("orbit", "flythrough", "multiview", "walk")  # "auto" draws one of the first two


@dataclass
class TerrainConfig:
    kind: str = "auto"            # one of TERRAIN_KINDS, or "auto" (the biome's)
    size: float = 120.0           # metres along x and y
    resolution: int = 160         # grid vertices along each side
    height: float = 0.0           # peak relief in metres; 0 = the kind's own default
    octaves: int = 6
    warp: float = 0.35            # domain-warp strength, in units of the base wavelength
    erosion_iterations: int = 30  # thermal-erosion passes (slope relaxation)
    water: str = "auto"           # "auto" (the biome's), "on" or "off"


@dataclass
class RockConfig:
    count: int = 14               # boulders placed on the terrain
    variants: int = 4             # distinct rock meshes; boulders share them as linked data
    subdivisions: int = 5         # icosphere subdivisions (1 = icosahedron; 5 = 2562 vertices)
    min_size: float = 0.6         # metres
    max_size: float = 3.0


@dataclass
class PlantConfig:
    trees: int = 12
    tree_variants: int = 3
    tree_attractors: int = 500    # space-colonisation attraction points per tree
    tree_step: float = 0.25       # branch segment length in metres
    leaves_per_tip: int = 4
    bushes: int = 16
    bush_variants: int = 2
    grass: int = 400              # grass tufts
    grass_variants: int = 4
    flowers: int = 60
    flower_variants: int = 3


@dataclass
class ScatterConfig:
    pebbles: int = 600
    pebble_variants: int = 4
    ground_cover: int = 300       # small leafy plants / debris near the ground
    max_slope_plants: float = 0.55  # 1 - normal.z above which nothing grows
    max_slope_pebbles: float = 0.8
    density_scale: float = 0.04   # spatial frequency of the density map (1/m)
    cover_scale: float = 1.0      # multiplies the biome's ground-cover densities (copies per m^2)
    clump_variants: int = 8       # distinct clump meshes of each dense ground-cover kind


@dataclass
class MaterialConfig:
    snow: str = "auto"            # snow caps above the snow line: "auto", "on", "off"
    variation: float = 1.0        # scale of colour randomisation


@dataclass
class SkyConfig:
    sun_elevation: float = -1.0   # degrees; < 0 = from the seed, in the biome's range
    sun_azimuth: float = -1.0     # degrees; < 0 = from the seed
    strength: float = 1.0         # sky brightness multiplier
    sun_strength: float = 2.6     # sun lamp irradiance (W/m^2, Blender units)
    fog: float = -1.0             # height-fog density at the ground (1/m); 0 = none, < 0 = the biome's draw
    clouds: float = -1.0          # cloud cover 0..1; < 0 = the biome's draw
    weather: str = "auto"         # falling rain or snow: "auto" (the biome's draw), "none", "rain", "snow"
    precipitation_count: int = 12000  # rain streaks or snowflakes around the camera path
    volumes: bool = True          # cloud shadows and light shafts where the biome has them; False: none (faster)


@dataclass
class CameraConfig:
    trajectory: str = "auto"      # one of TRAJECTORIES, or "auto": orbit or flythrough, from the seed
    frames: int = 24
    resolution: tuple[int, int] = (256, 256)
    focal_mm: float = 24.0
    sensor_mm: float = 36.0
    min_clearance: float = 1.5    # metres above terrain and away from object bounds
    height: float = 0.0           # flying height above ground; 0 = from the seed, in the biome's range
    #                               (the walk's eye height: 0.8-1.2 m)


@dataclass
class MotionConfig:
    wind: bool = True             # plants sway in the scene's wind (direction and strength from the seed)
    wind_strength: float = 1.0    # times the strength drawn from the seed; 0 = no wind (generate --wind)
    rolling_rocks: int = 1
    animals: bool = True          # fish, birds and grazers where the biome has them (Biome.fauna)


@dataclass
class RenderConfig:
    samples: int = 64
    engine: str = "CYCLES"


@dataclass
class SceneConfig:
    seed: int = 0
    preset: str = "default"
    biome: str = "auto"           # one of biomes.BIOME_NAMES, or "auto" (picked from the seed)
    terrain: TerrainConfig = field(default_factory=TerrainConfig)
    rocks: RockConfig = field(default_factory=RockConfig)
    plants: PlantConfig = field(default_factory=PlantConfig)
    scatter: ScatterConfig = field(default_factory=ScatterConfig)
    materials: MaterialConfig = field(default_factory=MaterialConfig)
    sky: SkyConfig = field(default_factory=SkyConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    render: RenderConfig = field(default_factory=RenderConfig)

    @classmethod
    def from_preset(cls, name: str = "default", **overrides: Any) -> "SceneConfig":
        """The preset ``name`` (``cfg.preset`` records it) with overrides.

        Overrides are top-level fields (``seed=3``), whole sections as dicts
        (``terrain={"kind": "dunes"}``), or ``section__field`` keys
        (``camera__frames=8``). Shortcuts: ``frames``, ``resolution``, ``samples``.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        cfg = cls.from_dict(PRESETS[name])
        cfg.preset = name
        shortcuts = {"frames": "camera__frames", "resolution": "camera__resolution", "samples": "render__samples"}
        for key, value in overrides.items():
            key = shortcuts.get(key, key)
            if "__" in key:
                section, attr = key.split("__", 1)
                _set_field(getattr(cfg, section), attr, value, key)
            else:
                _set_fields(cfg, {key: value})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        t, c = self.terrain, self.camera
        if self.biome not in BIOME_NAMES + ("auto",):
            raise ValueError(f"biome {self.biome!r}: choose one of {('auto',) + BIOME_NAMES}")
        if self.sky.weather not in ("auto", "none", "rain", "snow"):
            raise ValueError(f"sky.weather {self.sky.weather!r}: choose auto, none, rain or snow")
        if t.kind not in TERRAIN_KINDS + ("auto",):
            raise ValueError(f"terrain.kind {t.kind!r}: choose one of {TERRAIN_KINDS + ('auto',)}")
        if c.trajectory not in TRAJECTORIES + ("auto",):
            raise ValueError(f"camera.trajectory {c.trajectory!r}: choose one of {TRAJECTORIES + ('auto',)}")
        if t.resolution < 8 or t.size <= 0:
            raise ValueError("terrain.resolution must be >= 8 and terrain.size > 0")
        if c.frames < 1 or min(c.resolution) < 1:
            raise ValueError("camera.frames and camera.resolution must be positive")
        if self.render.samples < 1:
            raise ValueError("render.samples must be >= 1")
        if not self.motion.wind_strength >= 0:
            raise ValueError(f"motion.wind_strength must be >= 0, got {self.motion.wind_strength}")
        for name in ("water",):
            if getattr(t, name) not in ("auto", "on", "off"):
                raise ValueError(f"terrain.{name} must be auto, on or off")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["camera"]["resolution"] = list(self.camera.resolution)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "SceneConfig":
        cfg = cls()
        _set_fields(cfg, data)
        return cfg


def _set_fields(cfg: "SceneConfig", data: dict) -> None:
    """Top-level fields from ``data``, and a section's fields from a dict under its name."""
    for key, value in data.items():
        if isinstance(value, dict):
            sub = getattr(cfg, key)
            for attr, v in value.items():
                _set_field(sub, attr, v, f"{key}.{attr}")
        else:
            _set_field(cfg, key, value, key)


def _set_field(obj, attr: str, value, label: str) -> None:
    names = {f.name for f in dataclasses.fields(obj)}
    if attr not in names:
        raise ValueError(f"unknown config field {label!r}; {type(obj).__name__} has {sorted(names)}")
    if attr == "resolution" and isinstance(obj, CameraConfig):
        value = tuple(int(v) for v in value)
    setattr(obj, attr, value)


# Each field the presets change, with its (tiny, large) values; None keeps the default.
# tiny: seconds to generate, a coarse terrain and a handful of cheap assets.
_PRESET_VALUES: dict[str, tuple] = {
    "terrain.size": (60.0, 200.0), "terrain.resolution": (48, 320), "terrain.octaves": (4, 7),
    "terrain.erosion_iterations": (5, 50),
    "rocks.count": (3, 40), "rocks.variants": (2, 8), "rocks.subdivisions": (3, 6),
    "plants.trees": (2, 40), "plants.tree_variants": (1, 6), "plants.tree_attractors": (120, 900),
    "plants.tree_step": (0.4, 0.2), "plants.bushes": (2, 50), "plants.bush_variants": (1, 4),
    "plants.grass": (20, 3000), "plants.grass_variants": (1, 8), "plants.flowers": (5, 300),
    "plants.flower_variants": (1, 4),
    "scatter.pebbles": (20, 3000), "scatter.pebble_variants": (1, 8), "scatter.ground_cover": (5, 1500),
    "scatter.cover_scale": (0.01, None), "scatter.clump_variants": (2, None),
    "sky.precipitation_count": (1500, None),
    "camera.frames": (4, 60), "camera.resolution": ((64, 64), (640, 480)),
    "motion.rolling_rocks": (1, None),
    "render.samples": (4, 128),
}


def _preset(column: int) -> dict:
    """The nested override dict of one column of ``_PRESET_VALUES``."""
    out: dict = {}
    for path, values in _PRESET_VALUES.items():
        if values[column] is not None:
            section, field = path.split(".")
            out.setdefault(section, {})[field] = values[column]
    return out


PRESETS: dict[str, dict] = {"tiny": _preset(0), "default": {}, "large": _preset(1)}
