"""A cave: rock overhead, which a height field alone cannot hold. The floor is the ``cave``
height field; the roof is a second height field over the same grid, seen from below, that
rises an arch's height above the floor along the tunnel's course (``heightfield._cave``) and
dips under the floor everywhere else, so the two surfaces meet in the walls and close the
tunnel on every side but one: the roof ends at the plane of the mouth, where the sun and
the sky shine in. Stalactites hang from the roof towards the walls, out of the cameras' way.
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Vector

from ..core.noise import Noise
from ..geometry.blender_mesh import mesh_from_geo, new_object
from ..geometry.mesh_arrays import Geo, concat, tube
from .heightfield import Heightfield
from .terrain_mesh import grid_faces

BURIED = 2.5  # metres below the floor at which the roof runs where there is no tunnel
OPEN = 0.8    # metres of free height under which nothing is placed on the floor
FILL_W = 400.0  # the mouth's fill light (W): the sky's and the sunlit floor's light scattered in


def course_distance(course: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from points (x, y) [...] to the polyline ``course`` [P, 2], and the position along
    it of the nearest point as a fractional index into ``course`` [...]."""
    p = np.stack([x, y], -1)[..., None, :]            # [..., 1, 2]
    a, b = course[:-1], course[1:]                   # [P-1, 2]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)  # [..., P-1]
    d = np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
    k = d.argmin(axis=-1)
    return np.take_along_axis(d, k[..., None], -1)[..., 0], k + np.take_along_axis(t, k[..., None], -1)[..., 0]


def roof_heights(hf: Heightfield, rng: np.random.Generator) -> np.ndarray:
    """The roof's heights [N, N] over the floor's grid: an arch over the course, flat-topped and
    steep-sided (1 - (d / w)^4), roughened by noise; ``BURIED`` under the floor away from it."""
    cave = hf.features["cave"]
    course = np.asarray(cave["course"])
    c = hf.coords
    x, y = np.meshgrid(c, c)
    d, at = course_distance(course, x, y)
    idx = np.arange(len(course))
    w, h = np.interp(at, idx, cave["half_width"]), np.interp(at, idx, cave["height"])
    noise = Noise(rng)
    off = rng.uniform(-500, 500, 2)
    rough = noise.fbm2(x / 6.0 + off[0], y / 6.0 + off[1], octaves=4, gain=0.55)
    w = w * (1.0 + 0.18 * noise.fbm2(x / 9.0 - off[1], y / 9.0 + off[0], octaves=3))  # bays in the walls
    gap = h * (1.0 - (d / w) ** 4) + 1.2 * rough
    floor = _blurred(hf.z, max(1, int(round(3.0 / hf.cell))))
    return floor + np.maximum(gap, -BURIED)


def _blurred(z: np.ndarray, r: int) -> np.ndarray:
    """A box blur of ``z`` [N, N] of radius ``r`` cells (edges repeated): the roof follows the
    floor's broad rise, not its every bump."""
    p = np.pad(z, r, mode="edge")
    k = np.ones(2 * r + 1) / (2 * r + 1)
    p = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, p)
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 1, p)


def free_height(hf: Heightfield, x, y) -> np.ndarray:
    """Metres of free space over the floor at (x, y): +inf in the open."""
    return hf.roof_at(x, y) - hf.height(x, y)


def blocked(hf: Heightfield):
    """Placement's keep-out test ``(x, y) -> bool``: inside the rock (no tunnel overhead)."""
    return lambda x, y: free_height(hf, x, y) < OPEN


def stalactites(hf: Heightfield, rng: np.random.Generator, count: int) -> Geo:
    """Cones [slot 0] hanging from the roof towards the walls (over half the half width off the
    course, where the free height is 2.5-5 m), each at most a third of the free height long,
    so they keep out of the cameras' way along the middle."""
    half = 0.45 * hf.size
    p = rng.uniform(-half, half, (count * 20, 2))
    free = free_height(hf, p[:, 0], p[:, 1])
    cave = hf.features["cave"]
    d, at = course_distance(np.asarray(cave["course"]), p[:, 0], p[:, 1])
    side = d > 0.55 * np.interp(at, np.arange(len(cave["course"])), cave["half_width"])
    p = p[(free > 2.5) & (free < 5.0) & side][:count]
    if not len(p):
        return Geo.empty()
    top = hf.roof_at(p[:, 0], p[:, 1]) + 0.3  # rooted in the rock
    free = free_height(hf, p[:, 0], p[:, 1])
    length = np.minimum(rng.uniform(0.3, 1.0, len(p)) ** 1.5 * 1.6, free / 3.0) + 0.3
    radius = rng.uniform(0.05, 0.09, len(p)) * (0.6 + length)
    parts = []
    for k in range(len(p)):
        path = np.stack([np.full(6, p[k, 0]), np.full(6, p[k, 1]), top[k] - np.linspace(0.0, length[k], 6)], 1)
        parts.append(tube(path, radius[k] * np.linspace(1.0, 0.05, 6) ** 0.8, sides=7, mat=0))
    return concat(parts)


def build_roof(hf: Heightfield, material, rng: np.random.Generator):
    """The roof object ``cave_roof`` (class terrain): the roof grid on the inside of the mouth's
    plane, facing down, with its stalactites. ``hf.features["roof"]`` must hold the heights."""
    n = 2 * hf.n - 1  # twice as fine as the floor: the walls carry the detail
    c = np.linspace(-hf.size / 2, hf.size / 2, n)
    x, y = (a.ravel() for a in np.meshgrid(c, c))
    inside = np.isfinite(hf.roof_at(x, y))
    verts = _roughen(np.stack([x, y, np.where(inside, hf.roof_at(x, y), 0.0)], -1), rng)
    faces = grid_faces(n)[:, ::-1]  # clockwise from above: facing down, into the tunnel
    faces = faces[inside[faces].all(axis=1)]
    used = np.unique(faces)
    remap = np.zeros(len(verts), np.int64)
    remap[used] = np.arange(len(used))
    geo = concat([Geo.from_faces(verts[used], remap[faces], smooth=True),
                  stalactites(hf, rng, int(rng.integers(60, 120)))])
    ob = new_object("cave_roof", mesh_from_geo("cave_roof", geo, [material] if material is not None else []),
                    "terrain")
    ob["gs_kind"] = "cave"
    ob["gs_mouth"] = [float(v) for v in hf.features["cave"]["mouth"]]        # the way out, a unit vector [2]
    ob["gs_mouth_at"] = [float(v) for v in hf.features["cave"]["mouth_at"]]  # a point of the mouth's plane [2]
    return ob


def _roughen(verts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vertices [V, 3] pushed about by 3D fractal noise: knobs, ledges and hollows in the walls
    (sideways, where they are steep) and the roof, finer than its grid's own relief."""
    noise = Noise(rng)
    out = verts.copy()
    for k in range(3):
        off = rng.uniform(-500, 500, 3)
        out[:, k] += 0.45 * noise.fbm3(verts * 0.45 + off, octaves=4, gain=0.55)
        out[:, k] += 0.12 * noise.fbm3(verts * 2.0 - off, octaves=2)
    return out


def inside_point(hf: Heightfield, rng: np.random.Generator) -> np.ndarray:
    """A point [2] on the course, a third to a half of the way in: the view's centre."""
    course = np.asarray(hf.features["cave"]["course"])
    k = rng.uniform(0.33, 0.5) * (len(course) - 1)
    return np.array([np.interp(k, np.arange(len(course)), course[:, j]) for j in range(2)])


def sun_azimuth(hf: Heightfield, rng: np.random.Generator) -> float:
    """A sun azimuth (degrees, the sky's convention: 0 towards +y) within 25 degrees of the
    mouth's direction, so that the low sun shines in through it."""
    mx, my = hf.features["cave"]["mouth"]
    return float(np.degrees(np.arctan2(-mx, my)) + rng.uniform(-25.0, 25.0)) % 360.0


def mouth_fill(hf: Heightfield, colour=(0.8, 0.86, 1.0)):
    """A weak fill light: a rectangle the size of the mouth just inside it, shining into the
    tunnel (its light is what the sky and the sunlit ground outside scatter in, which few of
    the render's samples find on their own). Unseen by camera and mirror rays."""
    cave = hf.features["cave"]
    m, at = np.asarray(cave["mouth"]), np.asarray(cave["mouth_at"])
    w, h = cave["half_width"][0], cave["height"][0]
    p = at - m
    light = bpy.data.lights.new("cave_fill", "AREA")
    light.shape, light.size, light.size_y = "RECTANGLE", 1.6 * w, 0.7 * h
    light.energy, light.color = FILL_W, colour
    ob = new_object("cave_fill", light, "light")
    ob.location = (float(p[0]), float(p[1]), float(hf.height(p[0], p[1])) + 0.45 * h)
    ob.rotation_mode = "QUATERNION"
    ob.rotation_quaternion = Vector((float(-m[0]), float(-m[1]), 0.0)).to_track_quat("-Z", "Z")
    for attr in ("visible_camera", "visible_glossy", "visible_transmission"):
        if hasattr(ob, attr):
            setattr(ob, attr, False)
    return ob
