"""Where animals go: groups (a school, a flock, a herd) on smooth curves through the camera's
view, kept off the camera's path, out of obstacles, and in their medium (bpy-free).

A group's centre moves at constant speed on a circular arc (heading h(t) = h0 + w (t - tm)),
through a point in front of the camera at the middle frame tm, across the line of sight. Each
member keeps its offset in the group's frame plus a slow wobble of its own; it faces along
the group's heading and pitches with its climb. A member is dropped when it would come within
``CAMERA_GAP`` plus its size of any camera position of the clip, enter an obstacle box, leave
the water (fish), or stand in water or on a steep slope (walkers).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..terrain.heightfield import Heightfield

CAMERA_GAP = 1.0      # metres between an animal's extent and any camera position of the clip
SURFACE_GAP = 0.8     # fish stay this far below the still water level (under the wave troughs)
FLOOR_GAP = 0.4       # and this far above the sea floor (plus their size)
MAX_SLOPE = 0.45      # walkers keep off ground steeper than this (rise over run)


@dataclass(frozen=True)
class Habit:
    """How one kind of animal moves as a group (distances in metres, speeds in m/s)."""
    distance: tuple[float, float]   # from the camera at the middle frame, along its view
    speed: tuple[float, float]
    turn: float                     # largest turn rate (rad/s)
    spread: tuple[float, float, float]  # standard deviation of members' offsets (along, across, up)
    wobble: float                   # amplitude of a member's own weaving (m)
    size: tuple[float, float]       # a member's scale (its body is 1 long, wide or high)
    medium: str                     # "water", "air" or "ground"
    above_view: tuple[float, float] = (0.0, 0.0)  # radians above the line of sight (air)


@dataclass
class Track:
    """One animal's motion over the clip (frames 1..F)."""
    position: np.ndarray  # [F, 3] world
    yaw: np.ndarray       # [F] heading about z (radians, unwrapped)
    pitch: np.ndarray     # [F] nose up (radians)
    scale: float
    frequency: float      # Hz of its part motion
    phase: float          # radians


def group_tracks(habit: Habit, count: int, cams: np.ndarray, forward: np.ndarray, hf: Heightfield,
                 obstacles: list, rng: np.random.Generator, radius: float, frequency: tuple[float, float],
                 fps: float = 24.0) -> list[Track]:
    """Up to ``count`` members of one group in view of the camera positions [F, 3] looking along
    ``forward`` [F, 3]; ``radius``: a member's extent per unit of scale (``bodies.Body.radius``)."""
    F = len(cams)
    t = np.arange(F) / fps
    m = F // 2
    look = forward[m] / (np.linalg.norm(forward[m]) + 1e-12)
    flat = np.array([look[0], look[1], 0.0])
    flat = flat / (np.linalg.norm(flat) + 1e-12)
    dist = rng.uniform(*habit.distance)
    centre = cams[m] + (flat if habit.medium == "ground" else look) * dist
    if habit.medium == "air":
        centre[2] += dist * np.tan(rng.uniform(*habit.above_view))
    across = np.arctan2(flat[1], flat[0]) + np.pi / 2 * rng.choice([-1.0, 1.0])
    h0, w = across + rng.normal(scale=0.35), rng.uniform(-habit.turn, habit.turn)
    speed = rng.uniform(*habit.speed)
    heading = h0 + w * (t - t[m])
    path = centre[None] + _arc(heading, h0, w, speed, t - t[m])
    out = []
    for _ in range(count):
        off = rng.normal(size=3) * np.array(habit.spread)
        scale = float(rng.uniform(*habit.size))
        wob_f, wob_p = rng.uniform(0.2, 0.5), rng.uniform(0, 2 * np.pi, 2)
        c, s = np.cos(heading), np.sin(heading)
        side = habit.wobble * np.sin(2 * np.pi * wob_f * t + wob_p[0])
        lift = 0.0 if habit.medium == "ground" else 0.5 * habit.wobble * np.sin(2 * np.pi * wob_f * t + wob_p[1])
        pos = path + np.stack([c * off[0] - s * (off[1] + side), s * off[0] + c * (off[1] + side),
                               np.full(F, off[2]) + lift], -1)
        track = _settle(pos, heading, habit, hf, scale * radius)
        phase = float(rng.uniform(0, 2 * np.pi))
        freq = float(rng.uniform(*frequency))
        if track is None or not _clear(track[0], scale * radius, cams, obstacles):
            continue
        out.append(Track(track[0], heading.copy(), track[1], scale, freq, phase))
    return out


def _arc(heading: np.ndarray, h0: float, w: float, speed: float, dt: np.ndarray) -> np.ndarray:
    """Offsets [F, 3] along a circular arc of turn rate ``w`` from its point at dt = 0."""
    if abs(w) < 1e-6:
        return np.stack([speed * dt * np.cos(h0), speed * dt * np.sin(h0), np.zeros_like(dt)], -1)
    r = speed / w
    return np.stack([r * (np.sin(heading) - np.sin(h0)), -r * (np.cos(heading) - np.cos(h0)), np.zeros_like(dt)], -1)


def _settle(pos: np.ndarray, heading: np.ndarray, habit: Habit, hf: Heightfield, extent: float):
    """(positions [F, 3], pitch [F]) in the member's medium, or None where it cannot be there."""
    ground = hf.height(pos[:, 0], pos[:, 1])
    if np.abs(pos[:, :2]).max() > 0.45 * hf.size:
        return None
    if habit.medium == "ground":
        ahead = np.stack([np.cos(heading), np.sin(heading)], -1) * 0.5
        rise = hf.height(pos[:, 0] + ahead[:, 0], pos[:, 1] + ahead[:, 1]) - hf.height(
            pos[:, 0] - ahead[:, 0], pos[:, 1] - ahead[:, 1])
        if np.abs(rise).max() > MAX_SLOPE or (hf.water_level is not None and ground.min() < hf.water_level + 0.05):
            return None
        pos = pos.copy()
        pos[:, 2] = ground
        return pos, np.arctan(rise)
    pos = pos.copy()
    if habit.medium == "water":
        lo, hi = ground + FLOOR_GAP + extent, float(hf.water_level) - SURFACE_GAP - extent
        if (lo > hi).any():
            return None
        pos[:, 2] = np.clip(pos[:, 2], lo, hi)
    else:
        pos[:, 2] = np.maximum(pos[:, 2], ground + 3.0 + extent)
    climb = np.gradient(pos[:, 2]) if len(pos) > 1 else np.zeros(1)
    step = np.linalg.norm(np.gradient(pos[:, :2], axis=0), axis=1) if len(pos) > 1 else np.ones(1)
    return pos, np.arctan2(climb, np.maximum(step, 1e-6))


def _clear(pos: np.ndarray, extent: float, cams: np.ndarray, obstacles: list) -> bool:
    """Whether positions [F, 3] keep ``extent`` plus ``CAMERA_GAP`` from every camera position
    [C, 3] and ``extent`` out of every obstacle box (``lo``, ``hi`` [3])."""
    gaps = np.linalg.norm(pos[:, None] - cams[None], axis=-1)
    if gaps.min() < extent + CAMERA_GAP:
        return False
    for ob in obstacles:
        inside = np.all((pos > ob.lo - extent) & (pos < ob.hi + extent), axis=1)
        if inside.any():
            return False
    return True
