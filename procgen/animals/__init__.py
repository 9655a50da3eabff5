"""Animals: fish schools under water, flocks of birds in the sky and herds of deer-like
grazers, each procedural (``bodies``), moving on smooth paths through the camera's view
(``paths``) with parts that move on their own (flapping wings, swinging legs, an undulating
body), as one keyframed object per animal (``objects``).

``animal_materials`` runs before the sky (so fog and caustics reach the animals too) and
``add_animals`` after the cameras: animals keep off the camera's path instead of the camera
avoiding them, so adding them leaves the camera, and everything else, as it was. A biome names
its animals in ``Biome.fauna`` (kind -> amount); each kind draws from its own streams
(``{kind}_material``, ``{kind}_mesh`` by variant, ``{kind}_group`` by group).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import bodies
from .paths import Habit

Colours = tuple[tuple[float, float, float], tuple[float, float, float], float]  # back, belly, roughness


@dataclass(frozen=True)
class AnimalKind:
    name: str                      # object names "{name}_{k:03d}" and the semantic class
    body: Callable[[np.random.Generator, int], bodies.Body]  # (rng, variant) -> body
    variants: int                  # distinct meshes of the kind in a scene
    habit: Habit
    groups: float                  # groups per unit of the biome's amount
    members: tuple[int, int]       # animals per group (lo, hi inclusive)
    frequency: tuple[float, float]  # Hz of the part motion (tail beat, wing beat, stride)
    palette: tuple[Colours, ...]   # one colouring per group, drawn from these


KINDS: dict[str, AnimalKind] = {k.name: k for k in (
    AnimalKind("fish", lambda rng, v: bodies.fish(rng), 3,
               Habit(distance=(3.5, 7.0), speed=(0.5, 1.1), turn=0.4, spread=(1.2, 1.0, 0.5), wobble=0.25,
                     size=(0.35, 0.6), medium="water"),
               groups=2.0, members=(8, 14), frequency=(1.5, 3.0),
               palette=(((0.03, 0.07, 0.08), (0.55, 0.58, 0.55), 0.3), ((0.3, 0.2, 0.02), (0.75, 0.65, 0.25), 0.4),
                        ((0.08, 0.09, 0.12), (0.7, 0.7, 0.72), 0.25))),
    AnimalKind("bird", lambda rng, v: bodies.bird(rng), 3,
               Habit(distance=(9.0, 20.0), speed=(6.0, 10.0), turn=0.3, spread=(3.0, 3.0, 1.2), wobble=0.4,
                     size=(0.7, 1.3), medium="air", above_view=(0.02, 0.15)),
               groups=1.0, members=(4, 8), frequency=(2.5, 4.5),
               palette=(((0.42, 0.44, 0.47), (0.85, 0.85, 0.85), 0.5), ((0.02, 0.02, 0.025), (0.04, 0.04, 0.045), 0.45),
                        ((0.2, 0.12, 0.06), (0.55, 0.45, 0.33), 0.6))),
    AnimalKind("deer", lambda rng, v: bodies.deer(rng, grazing=v == 0), 3,
               Habit(distance=(6.0, 13.0), speed=(0.5, 1.1), turn=0.2, spread=(2.5, 2.5, 0.0), wobble=0.3,
                     size=(0.85, 1.1), medium="ground"),
               groups=1.0, members=(3, 6), frequency=(0.9, 1.4),
               palette=(((0.2, 0.1, 0.04), (0.45, 0.34, 0.24), 0.7), ((0.25, 0.18, 0.11), (0.6, 0.55, 0.48), 0.7))),
)}
