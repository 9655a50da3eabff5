"""Closed thin blades (bpy-free): leaves and kelp fronds as bodies with an upper and a lower
surface meeting at the rim, so that at close range they have thickness and a raised midrib
instead of being flat cards.

A blade is a base point, ``S`` cross-sections along its length and a tip point. Each
cross-section has ``C`` points on the upper surface from the left rim to the right rim and
``C - 2`` points on the lower surface from right to left; the two rim points are shared, so the
body is closed (every edge lies in two faces) and its thickness falls to nothing at the rim.
"""
from __future__ import annotations

import numpy as np

from .mesh_arrays import LEAF_T, Geo

# A leaf's cross-section is its midrib and the two rims: one ridge above and one below the
# midrib, thinning straight to the rim. (A lamina row on each side would show the midrib
# standing out of the lamina, but it nearly doubles a leaf's vertices, and trees carry
# hundreds of thousands of leaves: the densest biome's render went over its budget.)
RIB_THICKNESS = 0.008      # midrib thickness / leaf length (1.6 mm on a 20 cm leaf)
TIP_THINNING = 0.7         # thickness falls by this fraction from the base to the tip


def _layout(s: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Loops and face sizes of one blade of ``s`` sections with ``c`` upper points each.
    Vertex 0 is the base, 1 the tip, then section k's ring (upper left to right, lower right
    to left) at 2 + k * (2c - 2). Upper faces face +z of a blade along +x with its left at +y."""
    ring = 2 * c - 2
    sec = 2 + np.arange(s)[:, None] * ring                        # [S, 1]
    top = sec + np.arange(c)[None]                                # [S, C] left rim .. right rim
    bottom = sec + np.concatenate([[c - 1], c + np.arange(c - 2), [0]])[None]  # right rim .. left rim
    faces = []
    for cols in (top, bottom):
        a, b = cols[:-1, :-1], cols[:-1, 1:]
        quads = np.stack([a, b, cols[1:, 1:], cols[1:, :-1]], -1).reshape(-1, 4)
        base = np.stack([np.zeros(c - 1, int), cols[0, 1:], cols[0, :-1]], -1)
        tip = np.stack([np.ones(c - 1, int), cols[-1, :-1], cols[-1, 1:]], -1)
        faces += [base.reshape(-1), quads.reshape(-1), tip.reshape(-1)]
    sizes = np.concatenate([np.full(c - 1, 3), np.full(len(a.reshape(-1)), 4), np.full(c - 1, 3)] * 2)
    return np.concatenate(faces).astype(np.int32), sizes.astype(np.int32)


def closed_blades(base: np.ndarray, tip: np.ndarray, top: np.ndarray, bottom: np.ndarray, mat: int = 1,
                  attrs: dict | None = None) -> Geo:
    """Blades from their base [N, 3], tip [N, 3], upper cross-sections [N, S, C, 3] (left rim to
    right rim) and lower ones [N, S, C - 2, 3] (right to left, rims shared with the upper).
    ``attrs``: name -> per-vertex values [N, 2 + S * (2C - 2)]."""
    n, s, c = top.shape[:3]
    rings = np.concatenate([top, bottom], axis=2).reshape(n, -1, 3)  # [N, S * (2C - 2), 3]
    verts = np.concatenate([base[:, None], tip[:, None], rings], axis=1)
    per = verts.shape[1]
    loops, sizes = _layout(s, c)
    loops = (loops[None] + per * np.arange(n)[:, None]).reshape(-1).astype(np.int32)
    nf = len(sizes) * n
    out = {k: np.asarray(v, np.float32).reshape(-1) for k, v in (attrs or {}).items()}
    return Geo(verts.reshape(-1, 3), loops, np.tile(sizes, n), np.full(nf, mat, np.int32), np.zeros(nf, bool), out)


def leaf_body(width: float, fold: float, droop: float, cup: float = 0.15, pointed: float = 0.8,
              notch: float = 0.0, rib: float = RIB_THICKNESS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A unit-length closed leaf in its own frame (midrib along +x, blade facing +z): base [3],
    tip [3], upper sections [S, 3, 3] (left rim, midrib, right rim), lower sections [S, 1, 3]
    (the midrib). Folded up along the midrib by ``fold``, its rims raised further by ``cup``,
    bent down towards the tip by ``droop``; a ridge ``rib`` thick (a fraction of the length) along
    the midrib above and below, the thickness falling to nothing at the rim and thinning towards
    the tip. ``notch`` > 0 makes a heart (a clover's leaflet): widest near the end, the rims
    running past a tip pulled back into a notch."""
    t = LEAF_T
    w = width * np.sin(np.pi * t) ** pointed                      # [S] half-width
    u = np.array([1.0, 0.0, -1.0])                                # left rim (+y), midrib, right rim
    half = rib / 2 * (1 - np.abs(u))                              # [3]
    half = half[None] * (1 - TIP_THINNING * t[:, None])          # [S, 3]
    y = u[None] * w[:, None]
    mid = fold * np.abs(y) + cup * w[:, None] * u[None] ** 2
    x = np.broadcast_to(t[:, None], y.shape)
    ends = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    if notch:
        x, y, ends = _heart(t, u, width, notch)
    top = np.stack([x, y, mid + half], -1)                        # [S, 3, 3]
    bottom = np.stack([x, y, mid - half], -1)[:, 1:-1]            # [S, 1, 3]
    for arr in (top, bottom, ends):
        arr[..., 2] -= droop * arr[..., 0] ** 2
    return ends[0], ends[1], top, bottom


def _heart(t: np.ndarray, u: np.ndarray, width: float, notch: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x [S, 3] and y [S, 3] of a heart-shaped (obcordate) leaf's sections and its base and tip
    [2, 3]: narrow at the base, widest in the last section, whose rims reach past the tip,
    which sits ``notch`` back from the leaf's end."""
    w = width * (t / t[-1]) ** 0.4                                # [S] widening to the last section
    x = t[:, None] + 0.7 * (1 - t[-1]) * (t / t[-1])[:, None] ** 3 * u[None] ** 2  # lobes past the tip
    ends = np.array([[0.0, 0, 0], [1.0 - notch, 0, 0]])
    return x, u[None] * w[:, None], ends
