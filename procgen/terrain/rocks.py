"""Rocks, boulders and pebbles: icospheres deformed by stretch, fracture planes and fractal noise."""
from __future__ import annotations

import bmesh
import numpy as np

from ..core.noise import Noise
from ..geometry.mesh_arrays import Geo


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere vertices [V, 3] and triangles [F, 3]."""
    bm = bmesh.new()
    bmesh.ops.create_icosphere(bm, subdivisions=max(1, int(subdivisions)), radius=1.0)
    verts = np.array([v.co[:] for v in bm.verts], dtype=np.float64)
    faces = np.array([[v.index for v in f.verts] for f in bm.faces], dtype=np.int32)
    bm.free()
    return verts, faces


# Shape ranges per kind of rock: fracture planes, noise amplitude, height stretch.
ROCK_STYLES = {
    "boulder": {"planes": (3, 8), "bump": (0.12, 0.22), "height": (0.35, 0.7), "depth": (0.55, 0.95)},
    "outcrop": {"planes": (6, 11), "bump": (0.15, 0.25), "height": (0.3, 0.5), "depth": (0.5, 0.8)},
    "pebble": {"planes": (1, 3), "bump": (0.05, 0.1), "height": (0.35, 0.6), "depth": (0.6, 0.9)},
}


def rock_shape(rng: np.random.Generator, subdivisions: int = 4,
               style: str = "boulder") -> tuple[np.ndarray, np.ndarray]:
    """A rock's vertices [V, 3] and triangles [F, 3]: base at z = 0, largest extent 1.

    Random fracture planes give flat facets; anisotropic stretch and fractal noise
    along the radius make each one a different, irregular, clearly non-spherical blob.
    """
    st = ROCK_STYLES[style]
    v, f = icosphere(subdivisions)
    # Fracture planes: clamp everything beyond each plane back onto it (mostly).
    for _ in range(int(rng.integers(*st["planes"]))):
        n = rng.normal(size=3)
        n /= np.linalg.norm(n)
        d = rng.uniform(0.45, 0.85)
        over = v @ n - d
        cut = over > 0
        v[cut] -= np.outer(over[cut] * rng.uniform(0.75, 1.0), n)
    noise = Noise(rng)
    dirs = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    freq = rng.uniform(0.9, 1.6)
    bump = noise.fbm3(v * freq + rng.uniform(-50, 50, 3), octaves=5, gain=0.5)
    v = v + dirs * (rng.uniform(*st["bump"]) * bump)[:, None]
    # Stretch along a random frame: boulders are wider than tall.
    stretch = np.array([1.0, rng.uniform(*st["depth"]), rng.uniform(*st["height"])])
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    v = v @ q  # random orientation of the fracture pattern
    v = v * stretch
    v[:, 2] -= v[:, 2].min()
    v[:, :2] -= (v[:, :2].min(axis=0) + v[:, :2].max(axis=0)) / 2
    v /= 2.0 * np.abs(v[:, :2]).max()
    return v, f


def rock_geo(rng: np.random.Generator, subdivisions: int = 4, style: str = "boulder") -> Geo:
    """``rock_shape`` as smooth-shaded geometry (slot 0)."""
    v, f = rock_shape(rng, subdivisions, style)
    return Geo.from_faces(v, f, mat=0, smooth=True)
