"""The scene's wind (bpy-free): one direction and strength per scene, drawn from the seed, and
how each kind of plant answers it.

A plant bends downwind by an angle ``theta(t, s) = strength * (lean + gust * g(t, s))`` where
``s`` is the plant's base position along the wind (m) and

    g(t, s) = sin(w (t - s / c) + p) + 0.4 sin(2.7 w (t - s / c) + 2.7 p + 1.3)

a gust of angular frequency ``w`` travelling downwind at ``c`` m/s: neighbours along the wind
bend one after the other, neighbours across it together. A point at height ``h`` above the base
moves downwind by ``theta * h`` (instanced cover: a shear of each copy) or ``theta * h^2 / H``
(plants with their own object, ``H`` their height: a bending stem). On top, a fast flutter of
``flutter`` metres (leaves, blade tips) whose phase varies over the plant, so leaves and blades
move against each other. ``geometry.wind_nodes`` builds these formulas as geometry nodes on
the scene time, so Cycles' vector pass and every evaluated mesh see the same deformed surfaces.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..core.seeding import stream


@dataclass(frozen=True)
class Wind:
    """The wind of one scene."""
    direction: float     # radians, counter-clockwise from +x: where the wind blows to
    strength: float      # 0 = calm, 1 = a fresh breeze (the draw times the config's scale)
    gust_speed: float    # m/s: how fast gusts travel downwind
    gust_period: float   # s: the main gust's period

    @property
    def vector(self) -> np.ndarray:
        """Unit downwind direction [2] in the world's xy plane."""
        return np.array([np.cos(self.direction), np.sin(self.direction)])

    @property
    def omega(self) -> float:
        return 2 * np.pi / self.gust_period

    def gust(self, t, s):
        """g(t, s) of the module docstring: the gust at time t (s) and downwind position s (m)."""
        a = self.omega * (np.asarray(t) - np.asarray(s) / self.gust_speed)
        return np.sin(a) + 0.4 * np.sin(2.7 * a + 1.3)

    def record(self) -> dict:
        """What scene.json holds: the drawn values, the direction also in degrees."""
        d = {k: round(float(v), 6) for k, v in asdict(self).items()}
        d["direction_deg"] = round(float(np.degrees(self.direction)) % 360.0, 3)
        return d


def draw_wind(seed: int, scale: float) -> Wind | None:
    """The wind of scene ``seed`` (its own stream, so no other draw changes), its strength times
    ``scale``; None when ``scale`` is 0 (no wind)."""
    rng = stream(seed, "wind_field")
    direction = rng.uniform(0, 2 * np.pi)
    strength = rng.uniform(0.4, 1.0) * scale
    speed, period = rng.uniform(3.0, 7.0), rng.uniform(2.2, 4.0)
    if scale <= 0:
        return None
    return Wind(float(direction), float(strength), float(speed), float(period))


@dataclass(frozen=True)
class Sway:
    """How one semantic class answers the wind (at strength 1)."""
    lean: float           # mean bend angle downwind (radians)
    gust: float           # amplitude of the gusts' bend (radians)
    flutter: float        # amplitude of the fast flutter (m, at the tips)
    flutter_hz: float     # its frequency
    flutter_scale: float  # 1/m: how fast the flutter's phase turns over the plant (leaves out of step)


SWAY: dict[str, Sway] = {
    "tree": Sway(lean=0.012, gust=0.018, flutter=0.03, flutter_hz=2.2, flutter_scale=3.0),
    "bush": Sway(lean=0.03, gust=0.05, flutter=0.02, flutter_hz=2.6, flutter_scale=5.0),
    "plant": Sway(lean=0.04, gust=0.07, flutter=0.04, flutter_hz=0.6, flutter_scale=1.0),  # kelp, in the current
    "grass": Sway(lean=0.12, gust=0.16, flutter=0.015, flutter_hz=3.0, flutter_scale=12.0),
    "flower": Sway(lean=0.08, gust=0.14, flutter=0.012, flutter_hz=2.5, flutter_scale=10.0),
    "fern": Sway(lean=0.04, gust=0.07, flutter=0.02, flutter_hz=2.0, flutter_scale=6.0),
    "reed": Sway(lean=0.08, gust=0.12, flutter=0.02, flutter_hz=1.8, flutter_scale=6.0),
    "ground_cover": Sway(lean=0.02, gust=0.05, flutter=0.006, flutter_hz=3.0, flutter_scale=15.0),
}
