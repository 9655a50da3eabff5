"""Pictures of the ground truth for people: colourised depth, flow colour wheel, normals, id palette.
All functions return uint8 [H, W, 3] images."""
from __future__ import annotations

import numpy as np

# dark blue -> blue -> cyan -> green -> yellow -> red, near -> far after the log mapping
_DEPTH_STOPS = np.array([
    [48, 18, 59], [70, 110, 230], [30, 200, 220], [90, 240, 100], [240, 210, 40], [200, 40, 10]], dtype=np.float64)


def _ramp(t: np.ndarray, stops: np.ndarray) -> np.ndarray:
    x = np.clip(t, 0.0, 1.0) * (len(stops) - 1)
    i = np.minimum(np.floor(x).astype(int), len(stops) - 2)
    f = (x - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def depth_image(depth: np.ndarray) -> np.ndarray:
    """Log-scaled colour depth [H, W] -> [H, W, 3]; black where there is no surface."""
    valid = np.isfinite(depth) & (depth > 0)
    out = np.zeros(depth.shape + (3,), dtype=np.uint8)
    if not valid.any():
        return out
    logd = np.log(depth[valid])
    lo, hi = np.percentile(logd, 1), np.percentile(logd, 99)
    t = (logd - lo) / max(hi - lo, 1e-6)
    out[valid] = np.rint(_ramp(t, _DEPTH_STOPS)).astype(np.uint8)
    return out


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0).astype(int) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = np.zeros(h.shape + (3,))
    for k, (r, g, b) in enumerate(choices):
        m = i == k
        rgb[m] = np.stack([r[m], g[m], b[m]], axis=-1)
    return rgb


def flow_image(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour wheel of a flow [H, W, 2]: hue = direction, saturation = magnitude (white = still)."""
    dx, dy = flow[..., 0], flow[..., 1]
    mag = np.hypot(dx, dy)
    finite = np.isfinite(mag)
    # the 99th percentile, so a few fast pixels near the camera do not wash out the rest
    scale = max_magnitude or (float(np.percentile(mag[finite], 99)) if finite.any() else 0.0) or 1.0
    hue = (np.arctan2(-dy, -dx) / (2 * np.pi) + 0.5) % 1.0
    sat = np.clip(np.where(finite, mag, 0.0) / scale, 0, 1)
    rgb = _hsv_to_rgb(hue, sat, np.ones_like(sat))
    return np.rint(rgb * 255).astype(np.uint8)


def normals_image(normals: np.ndarray) -> np.ndarray:
    """Camera-space normals [H, W, 3] mapped from [-1, 1] to colours; black where zero."""
    out = np.rint((normals * 0.5 + 0.5) * 255).clip(0, 255).astype(np.uint8)
    out[np.all(normals == 0, axis=-1)] = 0
    return out


def id_palette(ids: np.ndarray) -> np.ndarray:
    """Distinct colours for integer ids [H, W]; id 0 is black."""
    i = ids.astype(np.float64)
    hue = (i * 0.6180339887498949) % 1.0
    sat = 0.55 + 0.45 * ((i * 0.37) % 1.0)
    val = 0.7 + 0.3 * ((i * 0.73) % 1.0)
    rgb = _hsv_to_rgb(hue, sat, val)
    rgb[ids == 0] = 0
    return np.rint(rgb * 255).astype(np.uint8)


def boundaries_image(bits: np.ndarray) -> np.ndarray:
    """Occlusion boundaries [H, W] (bit 1 depth, bit 2 instance): white on depth edges, orange on
    instance-only edges, black elsewhere."""
    out = np.zeros(bits.shape + (3,), dtype=np.uint8)
    out[(bits & 2) > 0] = (230, 140, 30)
    out[(bits & 1) > 0] = 255
    return out


def occlusion_image(mask: np.ndarray) -> np.ndarray:
    """Occlusion mask [H, W] (0 visible, 1 occluded, 2 out of view, 255 unknown): grey where
    visible, red where occluded, blue where out of view, black where unknown."""
    out = np.zeros(mask.shape + (3,), dtype=np.uint8)
    out[mask == 0] = 90
    out[mask == 1] = (230, 40, 30)
    out[mask == 2] = (40, 90, 230)
    return out


def scene_flow_image(flow: np.ndarray) -> np.ndarray:
    """3D scene flow [H, W, 3] (world x, y, z): each axis as a colour channel, mid-grey at rest and
    full scale at the largest component of the frame; black where no surface (NaN)."""
    ok = np.all(np.isfinite(flow), axis=-1)
    scale = float(np.abs(flow[ok]).max()) if ok.any() else 0.0
    rgb = np.full(flow.shape, 0.5)
    if scale > 0:
        rgb[ok] = 0.5 + 0.5 * flow[ok] / scale
    out = np.rint(rgb * 255).astype(np.uint8)
    out[~ok] = 0
    return out


def albedo_image(albedo: np.ndarray) -> np.ndarray:
    """Linear albedo [H, W, 3] as 8-bit sRGB (values above 1 clipped)."""
    a = np.clip(np.nan_to_num(albedo.astype(np.float64)), 0.0, 1.0)
    srgb = np.where(a <= 0.0031308, 12.92 * a, 1.055 * np.power(a, 1 / 2.4) - 0.055)
    return np.rint(srgb * 255).astype(np.uint8)


def track_colours(query_points: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 [N, 3] colours of tracks by where they start (query (t, y, x)): hue across the image,
    brightness down it, so neighbouring tracks look alike and far ones differ."""
    x = query_points[:, 2] / max(width, 1)
    y = query_points[:, 1] / max(height, 1)
    rgb = _hsv_to_rgb(0.85 * np.clip(x, 0, 1), np.full(len(x), 0.85), 1.0 - 0.35 * np.clip(y, 0, 1))
    return np.rint(rgb * 255).astype(np.uint8)


def _stamp(img: np.ndarray, xy: np.ndarray, colours: np.ndarray, offsets: np.ndarray) -> None:
    """Paint ``colours`` [M, 3] at pixels (x, y) [M, 2] plus each (dy, dx) of ``offsets`` [K, 2]."""
    h, w = img.shape[:2]
    if not len(xy):
        return
    cols = np.floor(xy[:, None, 0]).astype(np.int64) + offsets[None, :, 1]
    rows = np.floor(xy[:, None, 1]).astype(np.int64) + offsets[None, :, 0]
    ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    img[rows[ok], cols[ok]] = np.broadcast_to(colours[:, None, :], rows.shape + (3,))[ok]


def _disc(radius: float, hollow: bool = False) -> np.ndarray:
    """(dy, dx) offsets [K, 2] of a disc of ``radius`` pixels, or of its outline."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    d = np.hypot(dy, dx)
    keep = (d <= radius + 0.25) & ((d > radius - 1.0) if hollow else True)
    return np.stack([dy[keep], dx[keep]], -1)


def tracks_image(rgb: np.ndarray, trail: np.ndarray, visible: np.ndarray, in_view: np.ndarray,
                 colours: np.ndarray) -> np.ndarray:
    """Point tracks drawn over a frame ``rgb`` [H, W, 3] (dimmed): a dot on each visible track, a ring
    on each track in view but covered, and the track's last positions ``trail`` [N, K, 2] (x, y; the
    frame's own last) as a line where ``visible`` [N, K]; tracks out of view (``in_view`` [N] false)
    are left out. ``colours`` [N, 3] uint8."""
    img = (rgb.astype(np.float64) * 0.6).astype(np.uint8)
    h, w = img.shape[:2]
    radius = max(1.0, min(h, w) / 128)
    for k in range(trail.shape[1] - 1):  # segments between consecutive positions seen at both ends
        both = visible[:, k] & visible[:, k + 1]
        a, b = trail[both, k], trail[both, k + 1]
        steps = int(np.ceil(np.abs(b - a).max(initial=0) * 2)) + 1
        for s in np.linspace(0.0, 1.0, min(steps, 4096)):
            _stamp(img, a + (b - a) * s, colours[both], np.zeros((1, 2), np.int64))
    now = visible[:, -1]
    _stamp(img, trail[in_view & ~now, -1], colours[in_view & ~now], _disc(radius + 1, hollow=True))
    _stamp(img, trail[now, -1], colours[now], _disc(radius))
    return img
