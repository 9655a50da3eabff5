"""Animal bodies as numpy meshes with their part motion written on the vertices (bpy-free).

Each body faces +x in its own frame. Its parts move by one rule that a geometry-nodes modifier
evaluates per vertex at the scene time t (``objects.motion_group``)::

    s     = 2 pi f t + object phase + gs_phase
    p'    = p rotated by gs_swing * sin(s) about the axis gs_axis through gs_pivot
    p''   = p' + gs_wave * sin(s)

so a wing flaps about its shoulder (outer vertices swinging further: the wing bends), a leg
swings about its hip, and a fish's body undulates in a wave that runs from head to tail.
Vertices of the rigid body have zero swing and wave. ``gs_belly`` (0 on the back, 1 on the
belly) shades the countershading of the material.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.mesh_arrays import Geo, concat, tube


@dataclass
class Body:
    geo: Geo                # faces and the float attribute gs_belly
    pivot: np.ndarray       # [V, 3] centre of each vertex's swing (body frame)
    axis: np.ndarray        # [V, 3] unit axis of the swing
    swing: np.ndarray       # [V] swing amplitude (radians)
    wave: np.ndarray        # [V, 3] wave amplitude (body units)
    phase: np.ndarray       # [V] phase of each vertex (radians)
    radius: float           # the farthest vertex from the origin, moved parts included (body units)


def _part(geo: Geo, belly, pivot=(0.0, 0.0, 0.0), axis=(1.0, 0.0, 0.0), swing=0.0, wave=(0.0, 0.0, 0.0),
          phase=0.0) -> Body:
    """A part whose every vertex shares the given motion (arrays [V] or [V, 3] also accepted)."""
    n = geo.n_verts
    geo.attrs["gs_belly"] = np.broadcast_to(np.asarray(belly, np.float32), (n,)).copy()
    vec = lambda a: np.broadcast_to(np.asarray(a, np.float64), (n, 3)).copy()  # noqa: E731
    return Body(geo, vec(pivot), vec(axis), np.broadcast_to(np.asarray(swing, float), (n,)).copy(), vec(wave),
                np.broadcast_to(np.asarray(phase, float), (n,)).copy(), 0.0)


def _join(parts: list[Body]) -> Body:
    swing = np.concatenate([p.swing for p in parts])
    body = Body(concat([p.geo for p in parts]), *(np.concatenate([getattr(p, k) for p in parts])
                                                  for k in ("pivot", "axis")), swing,
                np.concatenate([p.wave for p in parts]), np.concatenate([p.phase for p in parts]), 0.0)
    arm = np.linalg.norm(body.geo.verts - body.pivot, axis=1)  # a swinging vertex stays on its circle
    reach = np.linalg.norm(body.pivot, axis=1) + arm
    moving = (swing != 0) | (np.abs(body.wave).sum(1) > 0)
    body.radius = float(np.where(moving, reach + np.linalg.norm(body.wave, axis=1),
                                 np.linalg.norm(body.geo.verts, axis=1)).max())
    return body


def _loft(xs: np.ndarray, zc: np.ndarray, width: np.ndarray, height: np.ndarray, sides: int = 10) -> tuple:
    """A closed body along x: an elliptic ring per station (half-axes ``width`` across, ``height``
    up, centred at height ``zc``), capped at both ends. Returns (Geo, belly [V], ring angle sine [V])."""
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    n = len(xs)
    ring = np.stack([np.broadcast_to(xs[:, None], (n, sides)), width[:, None] * np.cos(ang)[None],
                     zc[:, None] + height[:, None] * np.sin(ang)[None]], -1).reshape(-1, 3)
    verts = np.concatenate([ring, [[xs[0], 0.0, zc[0]], [xs[-1], 0.0, zc[-1]]]])
    i = np.arange(n - 1)[:, None] * sides
    j = np.arange(sides)[None]
    faces = list(np.stack([i + j, i + sides + j, i + sides + (j + 1) % sides, i + (j + 1) % sides], -1).reshape(-1, 4))
    a, b = len(verts) - 2, len(verts) - 1
    last = (n - 1) * sides
    faces += [np.array([a, (k + 1) % sides, k]) for k in range(sides)]
    faces += [np.array([b, last + k, last + (k + 1) % sides]) for k in range(sides)]
    up = np.concatenate([np.tile(np.sin(ang), n), [0.0, 0.0]])
    return Geo.from_faces(verts, faces, smooth=True), (1.0 - up) / 2


def fish(rng: np.random.Generator) -> Body:
    """A fish 1 long (nose at x = 0.5): a laterally flattened body, a forked tail and a dorsal fin,
    undulating in a wave that grows towards the tail."""
    depth = rng.uniform(0.2, 0.3)     # body height / length
    xs = np.linspace(-0.42, 0.5, 14)
    t = (xs - xs[0]) / (xs[-1] - xs[0])          # 0 at the tail's root .. 1 at the nose
    shape = np.sin(np.pi * np.clip(t, 0.02, 1.0) ** 0.75) ** 0.8 + 0.06
    body, belly = _loft(xs, np.zeros_like(xs), 0.4 * depth * shape, 0.5 * depth * shape)
    fork = rng.uniform(0.12, 0.2)
    tail = Geo.from_faces(np.array([[-0.41, 0, 0.035], [-0.41 - fork, 0, 0.17], [-0.5, 0, 0.0],
                                    [-0.41 - fork, 0, -0.17], [-0.41, 0, -0.035]]), [np.arange(5)])
    top = 0.5 * depth * 0.95
    dorsal = Geo.from_faces(np.array([[0.12, 0, top], [-0.12, 0, top + rng.uniform(0.06, 0.12)],
                                      [-0.08, 0, top * 0.6]]), [np.arange(3)])
    parts = [_part(body, belly), _part(tail, 0.3), _part(dorsal, 0.0)]
    for p in parts:  # side-to-side wave running from the nose (s = 0) to the tail (s = 1)
        s = 0.5 - p.geo.verts[:, 0]
        p.wave[:, 1] = 0.09 * s ** 2
        p.phase[:] = -2 * np.pi * 0.8 * s
    return _join(parts)


def bird(rng: np.random.Generator) -> Body:
    """A bird 1 across the wings: a body with head, beak and tail, and two wings that flap about
    their shoulders, the tips swinging further and a little later than the roots."""
    xs = np.linspace(-0.18, 0.24, 11)
    t = (xs - xs[0]) / (xs[-1] - xs[0])
    neck = 1.0 - 0.35 * np.exp(-((t - 0.72) / 0.08) ** 2)   # the neck is narrower than the head
    r = 0.065 * np.sin(np.pi * np.clip(t, 0.04, 0.96)) ** 0.6 * neck
    body, belly = _loft(xs, 0.012 * t, r, r * 1.05)
    beak = tube(np.array([[0.235, 0, 0.012], [0.3, 0, 0.0]]), np.array([0.018, 0.002]), sides=6)
    fan = rng.uniform(0.05, 0.09)
    tail = Geo.from_faces(np.array([[-0.15, 0.02, 0.01], [-0.15, -0.02, 0.01], [-0.33, -fan, 0.0],
                                    [-0.33, fan, 0.0]]), [np.arange(4)])
    parts = [_part(body, belly), _part(beak, 0.5), _part(tail, 0.2)]
    chord = rng.uniform(0.14, 0.2)
    amp = rng.uniform(0.5, 0.7)
    for side in (1.0, -1.0):
        u = np.linspace(0.0, 1.0, 7)                          # root .. tip
        y = side * (0.035 + 0.465 * u)
        le = 0.05 - 0.06 * u ** 2                              # swept back towards the tip
        c = chord * (1.0 - 0.55 * u ** 1.5)
        pts = np.stack([np.stack([le, y, 0.03 + 0.04 * u], -1), np.stack([le - 0.45 * c, y, 0.045 + 0.04 * u], -1),
                        np.stack([le - c, y, 0.03 + 0.04 * u], -1)], 1).reshape(-1, 3)  # cambered chord
        faces = [np.array([3 * i + j, 3 * i + j + 1, 3 * i + j + 4, 3 * i + j + 3]) for i in range(6) for j in range(2)]
        wing = Geo.from_faces(pts, faces)
        span = np.repeat(u, 3)
        parts.append(_part(wing, 0.25, pivot=(0.0, side * 0.035, 0.03), swing=side * amp * (1.0 + 0.5 * span),
                           phase=-0.5 * span))
    return _join(parts)


def deer(rng: np.random.Generator, grazing: bool) -> Body:
    """A deer-like grazer 1 high at the shoulder, standing on the origin: torso, neck and head
    (lowered to the grass when ``grazing``), ears, tail, and four legs that swing about their
    hips in a diagonal gait."""
    xs = np.linspace(-0.58, 0.55, 12)
    t = (xs - xs[0]) / (xs[-1] - xs[0])
    round_ = np.sin(np.pi * np.clip(t, 0.03, 0.97)) ** 0.45
    torso, belly = _loft(xs, 0.98 + 0.04 * t, 0.17 * round_ * rng.uniform(0.9, 1.1), 0.23 * round_)
    if grazing:
        neck_path = np.array([[0.45, 0, 1.02], [0.68, 0, 0.7], [0.82, 0, 0.38]])
        head_path = np.array([[0.8, 0, 0.4], [0.9, 0, 0.2], [0.93, 0, 0.08]])
    else:
        neck_path = np.array([[0.42, 0, 1.0], [0.58, 0, 1.25], [0.68, 0, 1.45]])
        head_path = np.array([[0.64, 0, 1.5], [0.8, 0, 1.45], [0.93, 0, 1.36]])
    neck = tube(neck_path, np.array([0.12, 0.085, 0.07]), sides=8)
    head = tube(head_path, np.array([0.085, 0.065, 0.035]), sides=8)
    ear_base = head_path[0] + np.array([0.0, 0.0, 0.06])
    ears = [Geo.from_faces(np.array([ear_base + (0, s * 0.04, 0), ear_base + (-0.02, s * 0.14, 0.07),
                                     ear_base + (0.04, s * 0.06, 0.02)]), [np.arange(3)]) for s in (1, -1)]
    tail = tube(np.array([[-0.57, 0, 1.08], [-0.66, 0, 0.95]]), np.array([0.04, 0.015]), sides=6)
    head_motion = dict(pivot=neck_path[0], axis=(0.0, 1.0, 0.0), swing=0.05 if not grazing else 0.12,
                       phase=np.pi / 2)
    parts = [_part(torso, belly), _part(tail, 0.2), _part(neck, 0.6, **head_motion),
             _part(head, 0.5, **head_motion)] + [_part(e, 0.3, **head_motion) for e in ears]
    stride = rng.uniform(0.3, 0.42)
    for x, y, phase in ((0.42, 0.1, 0.0), (0.42, -0.1, np.pi), (-0.42, 0.1, np.pi), (-0.42, -0.1, 0.0)):
        hip = np.array([x, y, 0.92])
        leg = tube(np.array([hip, [x - 0.02 * np.sign(x), y, 0.5], [x, y, 0.02]]), np.array([0.065, 0.04, 0.025]),
                   sides=6)
        parts.append(_part(leg, 0.5, pivot=hip, axis=(0.0, 1.0, 0.0), swing=stride, phase=phase))
    return _join(parts)
