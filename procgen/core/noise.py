"""Vectorised gradient noise, fractal sums and ridged noise in numpy (bpy-free).

A :class:`Noise` owns its permutation table, drawn from an explicit Generator, so two
noises from two streams are independent and each is reproducible.
"""
from __future__ import annotations

import numpy as np


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


class Noise:
    """Gradient noise in 2D and 3D with values roughly in [-1, 1]."""

    def __init__(self, rng: np.random.Generator):
        perm = rng.permutation(256)
        self.perm = np.concatenate([perm, perm]).astype(np.int64)  # [512]
        ang = rng.uniform(0.0, 2.0 * np.pi, 256)
        self.grad2 = np.stack([np.cos(ang), np.sin(ang)], axis=1)  # [256, 2]
        g3 = rng.normal(size=(256, 3))
        self.grad3 = g3 / np.linalg.norm(g3, axis=1, keepdims=True)  # [256, 3]

    def noise2(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Noise at points (x, y) of any matching shape."""
        xi, yi = np.floor(x), np.floor(y)
        fx, fy = x - xi, y - yi
        xi = xi.astype(np.int64) & 255
        yi = yi.astype(np.int64) & 255
        p = self.perm
        u, v = _fade(fx), _fade(fy)

        def corner(dx, dy):
            g = self.grad2[p[p[xi + dx] + yi + dy] & 255]
            return g[..., 0] * (fx - dx) + g[..., 1] * (fy - dy)

        n00, n10, n01, n11 = corner(0, 0), corner(1, 0), corner(0, 1), corner(1, 1)
        nx0 = n00 + u * (n10 - n00)
        nx1 = n01 + u * (n11 - n01)
        return (nx0 + v * (nx1 - nx0)) * 1.414

    def noise3(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        xi, yi, zi = np.floor(x), np.floor(y), np.floor(z)
        fx, fy, fz = x - xi, y - yi, z - zi
        xi = xi.astype(np.int64) & 255
        yi = yi.astype(np.int64) & 255
        zi = zi.astype(np.int64) & 255
        p = self.perm
        u, v, w = _fade(fx), _fade(fy), _fade(fz)

        def corner(dx, dy, dz):
            g = self.grad3[p[p[p[xi + dx] + yi + dy] + zi + dz] & 255]
            return g[..., 0] * (fx - dx) + g[..., 1] * (fy - dy) + g[..., 2] * (fz - dz)

        c = {(a, b, d): corner(a, b, d) for a in (0, 1) for b in (0, 1) for d in (0, 1)}
        x00 = c[0, 0, 0] + u * (c[1, 0, 0] - c[0, 0, 0])
        x10 = c[0, 1, 0] + u * (c[1, 1, 0] - c[0, 1, 0])
        x01 = c[0, 0, 1] + u * (c[1, 0, 1] - c[0, 0, 1])
        x11 = c[0, 1, 1] + u * (c[1, 1, 1] - c[0, 1, 1])
        y0 = x00 + v * (x10 - x00)
        y1 = x01 + v * (x11 - x01)
        return (y0 + w * (y1 - y0)) * 1.6

    def fbm2(self, x, y, octaves: int = 5, lacunarity: float = 2.0, gain: float = 0.5) -> np.ndarray:
        """Fractal sum normalised to roughly [-1, 1]."""
        total = np.zeros(np.broadcast(x, y).shape)
        amp, freq, norm = 1.0, 1.0, 0.0
        for i in range(octaves):
            # A per-octave offset hides the lattice alignment at the origin.
            total += amp * self.noise2(x * freq + 17.3 * i, y * freq - 9.1 * i)
            norm += amp
            amp *= gain
            freq *= lacunarity
        return total / norm

    def ridged2(self, x, y, octaves: int = 5, lacunarity: float = 2.0, gain: float = 0.5) -> np.ndarray:
        """Ridged multifractal in [0, 1]: sharp crests where the noise crosses zero."""
        total = np.zeros(np.broadcast(x, y).shape)
        amp, freq, norm = 1.0, 1.0, 0.0
        weight = np.ones_like(total)
        for i in range(octaves):
            r = 1.0 - np.abs(self.noise2(x * freq + 31.7 * i, y * freq + 5.3 * i))
            r = r * r * weight
            weight = np.clip(r * 1.5, 0.0, 1.0)  # detail concentrates on the crests
            total += amp * r
            norm += amp
            amp *= gain
            freq *= lacunarity
        return total / norm

    def fbm3(self, p: np.ndarray, octaves: int = 4, lacunarity: float = 2.0, gain: float = 0.5) -> np.ndarray:
        """Fractal 3D noise at points ``p`` [N, 3] -> [N]."""
        total = np.zeros(p.shape[0])
        amp, freq, norm = 1.0, 1.0, 0.0
        for i in range(octaves):
            q = p * freq + np.array([13.1, -7.7, 3.9]) * i
            total += amp * self.noise3(q[:, 0], q[:, 1], q[:, 2])
            norm += amp
            amp *= gain
            freq *= lacunarity
        return total / norm
