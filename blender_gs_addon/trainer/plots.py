"""Training curves drawn with numpy into an RGB image (no plotting library)."""
from __future__ import annotations

import numpy as np

# 3x5 bitmap digits for axis labels
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "e": "000111111100111", "k": "100101110101101", " ": "000000000000000",
    "L": "100100100100111", "P": "111101111100100", "S": "111100111001111", "N": "101111111111101",
    "R": "110101110101101", "O": "111101101101111", "o": "000111101101111", "s": "000111110011111",
    "d": "001001111101111", "B": "110101110101110", "i": "010000010010010", "t": "010111010010011",
}


def _text(img: np.ndarray, x: int, y: int, s: str, color, scale: int = 2) -> None:
    for ch in s:
        g = _GLYPHS.get(ch, _GLYPHS[" "])
        for i, bit in enumerate(g):
            if bit == "1":
                r, c = divmod(i, 3)
                y0, x0 = y + r * scale, x + c * scale
                img[max(y0, 0):max(y0 + scale, 0), max(x0, 0):max(x0 + scale, 0)] = color
        x += 4 * scale


def _line(img: np.ndarray, x0, y0, x1, y1, color) -> None:
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.clip(np.round(np.linspace(x0, x1, n)).astype(int), 0, img.shape[1] - 1)
    ys = np.clip(np.round(np.linspace(y0, y1, n)).astype(int), 0, img.shape[0] - 1)
    img[ys, xs] = color
    img[np.clip(ys + 1, 0, img.shape[0] - 1), xs] = color


def _panel(xs: np.ndarray, ys: np.ndarray, title: str, color, w: int = 480, h: int = 240,
           log: bool = False) -> np.ndarray:
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 50, 10, 24, 20
    _text(img, left, 6, title, (0, 0, 0))
    img[top:h - bottom, left] = 0
    img[h - bottom, left:w - right] = 0
    ok = np.isfinite(ys) & ((ys > 0) if log else True)
    xs, ys = np.asarray(xs, float)[ok], np.asarray(ys, float)[ok]
    if len(xs) < 2:
        return img
    vy = np.log10(ys) if log else ys
    lo, hi = float(vy.min()), float(vy.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    px = left + 1 + (xs - xs.min()) / max(xs.max() - xs.min(), 1e-9) * (w - left - right - 2)
    py = (h - bottom - 1) - (vy - lo) / (hi - lo) * (h - top - bottom - 2)
    for i in range(len(px) - 1):
        _line(img, px[i], py[i], px[i + 1], py[i + 1], color)
    fmt = (lambda v: f"{10 ** v:.3f}") if log else (lambda v: f"{v:.1f}")  # noqa: E731
    _text(img, 2, top, fmt(hi), (0, 0, 0))
    _text(img, 2, h - bottom - 10, fmt(lo), (0, 0, 0))
    _text(img, w - right - 8 * len(str(int(xs.max()))), h - bottom + 5, str(int(xs.max())), (0, 0, 0))
    _text(img, left, h - bottom + 5, str(int(xs.min())), (0, 0, 0))
    return img


def curve_image(iterations, losses, psnrs) -> np.ndarray:
    """Two stacked panels: loss (log scale) and training PSNR against iteration -> [H, W, 3] uint8."""
    it = np.asarray(iterations, float)
    a = _panel(it, np.asarray(losses, float), "Loss", (200, 30, 30), log=True)
    b = _panel(it, np.asarray(psnrs, float), "PSNR dB", (30, 60, 200))
    return np.concatenate([a, b], axis=0)


def live_chart(loss_points, psnr_points, width: int = 320, height: int = 240) -> np.ndarray:
    """The add-on's live chart of a training job: the loss (log scale) over the held-out PSNR,
    each against the iteration; points are (iteration, value) pairs -> [height, width, 3] uint8."""
    def xy(points):
        a = np.asarray(points, float).reshape(-1, 2)
        return a[:, 0], a[:, 1]

    top = _panel(*xy(loss_points), "Loss", (200, 30, 30), w=width, h=height // 2, log=True)
    bottom = _panel(*xy(psnr_points), "PSNR dB", (30, 60, 200), w=width, h=height - height // 2)
    return np.concatenate([top, bottom], axis=0)
