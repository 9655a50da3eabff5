"""A rock wall with an overhang and hollows, which a height field cannot hold: a mesh swept
along the cliff line of a ``cliff`` height field (``heightfield.cliff_line``).

Across the line, every column of the wall follows one profile: buried below the ground in
front, up the foot (set back into the rock where a hollow is), out to an overhanging lip,
over the top edge and back under the plateau behind. Fractal noise roughens it. The height
field's own step lies inside the rock (``heightfield.CLIFF_STEP``), so only the wall shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..assembly.camera_paths import Obstacle
from ..core.noise import Noise
from ..geometry.blender_mesh import mesh_from_arrays, new_object
from .heightfield import CLIFF_STEP, Heightfield, cliff_line

FACE_POINTS = 10  # of each column's profile: buried foot to the top edge; the rest lies under the plateau


@dataclass
class Wall:
    """The wall's shape along the line: lip overhang and hollow depth and height per column."""
    t: np.ndarray        # [C] position along the line (m)
    lip: np.ndarray      # [C] how far the lip reaches out over the foot (m)
    recess: np.ndarray   # [C] how far the foot is set back into the rock (m)
    hollow: np.ndarray   # [C] height of the hollow above the ground (m)
    bulge: np.ndarray    # [C] how far the whole face stands out towards the open ground (m)
    crest: np.ndarray    # [C] how far the top edge rises above the plateau (m): towers and notches


def draw_wall(hf: Heightfield, rng: np.random.Generator, step: float = 0.5) -> Wall:
    t = np.arange(-0.55 * hf.size, 0.55 * hf.size + step, step)
    lip = 1.8 + 2.2 * np.clip(0.5 + 0.5 * _smooth_noise(rng, t, 12.0), 0, 1)
    recess = np.full_like(t, 0.3)
    hollow = np.full_like(t, 0.5)
    for _ in range(int(rng.integers(2, 5))):  # hollows: bumps of set-back foot along the line
        c, w = rng.uniform(-0.35, 0.35) * hf.size, rng.uniform(2.5, 5.5)
        bump = np.exp(-((t - c) / w) ** 2)
        recess = np.maximum(recess, bump * rng.uniform(1.5, CLIFF_STEP[0] - 0.6))
        hollow = np.maximum(hollow, bump * rng.uniform(2.0, 3.5))
    # Buttresses and bays, and a broken skyline: a wall of even height on a straight line
    # reads as a man-made dam. Both only add rock in front of and above the height field's step.
    bulge = 3.0 * np.clip(0.5 + 0.6 * _smooth_noise(rng, t, 26.0), 0, 1) ** 1.5
    crest = 4.5 * np.clip(0.3 + 0.9 * _smooth_noise(rng, t, 22.0), 0, 1) ** 1.3
    return Wall(t, lip, recess, hollow, bulge, crest)


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, wavelength: float) -> np.ndarray:
    return sum(np.sin(2 * np.pi * t / (wavelength * f) + rng.uniform(0, 2 * np.pi)) / k
               for k, f in enumerate((1.0, 0.43, 0.21), start=1)) / 1.83


def profile(wall: Wall, g_low: np.ndarray, g_top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Across-line offsets ds [C, P] (towards the plateau) and heights z [C, P] of each column."""
    h = g_top - g_low
    r, lip, hol = wall.recess[:, None], wall.lip[:, None], wall.hollow[:, None]
    back = CLIFF_STEP[1] + 2.0
    ds = np.concatenate([r + 0.2, r, r * 0.95, r * 0.6 - 0.1, -0.3 * lip, -0.85 * lip, -lip, -0.9 * lip,
                         -0.5 * lip, 0.5 + 0 * r, np.full_like(r, back - 1.5), np.full_like(r, back)], axis=1)
    lo, top = g_low[:, None], g_top[:, None]
    z = np.concatenate([lo - 1.5, lo + 0.1, lo + 0.75 * hol, lo + hol, lo + hol + 0.3 * (h[:, None] - hol),
                        lo + 0.62 * h[:, None], lo + 0.8 * h[:, None], top - 0.25, top + 0.08, top + 0.12,
                        top + 0.02, top - 0.8], axis=1)
    face = slice(0, FACE_POINTS)  # not the part hidden under the plateau
    ds[:, face] -= wall.bulge[:, None]
    z[:, face] += wall.crest[:, None] * np.clip((z[:, face] - lo) / h[:, None], 0, 1)  # the face stretches up
    return _densify(ds, 3), _densify(z, 3)


def _densify(a: np.ndarray, k: int) -> np.ndarray:
    """Each segment of the rows of ``a`` [C, P] split into ``k`` (linear), [C, (P - 1) * k + 1]."""
    s = np.linspace(0, 1, k, endpoint=False)
    out = [a[:, i:i + 1] * (1 - s) + a[:, i + 1:i + 2] * s for i in range(a.shape[1] - 1)]
    return np.concatenate(out + [a[:, -1:]], axis=1)


def build_cliff(hf: Heightfield, material, rng: np.random.Generator):
    """The wall object over the cliff's step, its camera obstacles and its keep-out test for
    placement ``(x, y, margin) -> blocked``."""
    c = hf.features["cliff"]
    d = np.array(c["direction"])
    across, along = d, np.array([-d[1], d[0]])
    wall = draw_wall(hf, rng)
    foot = cliff_line(c, wall.t)
    base = foot[:, None] * across + wall.t[:, None] * along  # [C, 2]
    front = base - across * (wall.lip.max() + wall.bulge.max() + 2.0)
    behind = base + across * (CLIFF_STEP[1] + 1.0)
    g_low = hf.height(front[:, 0], front[:, 1])
    g_top = hf.height(behind[:, 0], behind[:, 1])
    ds, z = profile(wall, g_low, g_top)
    xy = base[:, None] + ds[..., None] * across
    verts = np.concatenate([xy, z[..., None]], axis=-1)  # [C, P, 3]
    verts = _roughen(verts, across, rng)
    rows, cols = verts.shape[:2]
    me = mesh_from_arrays("cliff", verts.reshape(-1, 3), _faces(rows, cols), smooth=True)
    if material is not None:
        me.materials.append(material)
    ob = new_object("cliff", me, "cliff")
    reach = float(wall.lip.max() + wall.bulge.max()) + 0.5
    # how far in front of the foot line the face can stand at the ground (its bulge and roughening)
    c["face_front"] = float(wall.bulge.max()) + 1.5

    def blocked(x, y, margin=0.0):
        s, t = x * d[0] + y * d[1], -x * d[1] + y * d[0]
        off = s - cliff_line(c, t)
        return (off > -(reach + margin)) & (off < CLIFF_STEP[1] + 1.0 + margin)

    return ob, _obstacles(verts), blocked


def _roughen(verts: np.ndarray, across: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fractal noise pushes the surface in and out across the line (and a little up and down);
    the buried and hidden ends of each column stay put."""
    noise = Noise(rng)
    flat = verts.reshape(-1, 3)
    n1 = noise.fbm3(flat * 0.25 + rng.uniform(-50, 50, 3), octaves=5, gain=0.55)
    n2 = noise.fbm3(flat * 0.9 + rng.uniform(-50, 50, 3), octaves=3)
    ribs = noise.fbm3(flat * np.array([0.7, 0.7, 0.06]) + rng.uniform(-50, 50, 3), octaves=3)  # vertical fissures
    amount = np.ones(verts.shape[:2])
    amount[:, :2] = 0.3
    amount[:, -4:] = 0.2
    push = (1.6 * n1 + 0.35 * n2 + 0.9 * ribs).reshape(verts.shape[:2]) * amount
    out = verts.copy()
    out[..., :2] += push[..., None] * across
    out[..., 2] += 0.3 * n2.reshape(verts.shape[:2]) * amount
    return out


def _faces(rows: int, cols: int) -> np.ndarray:
    """Quads of a rows x cols vertex grid, facing out of the rock (towards the open ground)."""
    idx = np.arange(rows * cols).reshape(rows, cols)
    return np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1).reshape(-1, 4)


def _obstacles(verts: np.ndarray, chunk: int = 8) -> list[Obstacle]:
    """Boxes around short stretches of the wall (cameras stay out of them)."""
    out = []
    for i in range(0, verts.shape[0] - 1, chunk):
        part = verts[i:i + chunk + 1].reshape(-1, 3)
        out.append(Obstacle(part.min(axis=0), part.max(axis=0)))
    return out
