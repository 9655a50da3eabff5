"""The PNG reader on files written by Blender's own PNG writer (which picks row filters itself,
average and Paeth included), checked against the pixels given to Blender and Blender's decoding."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from procgen.render.png import read_png

pytestmark = pytest.mark.blender


def _pattern(h: int, w: int, c: int, top: int, seed: int) -> np.ndarray:
    """Smooth gradients plus a little noise, the kind of image real renders give."""
    yy, xx = np.mgrid[0:h, 0:w]
    steps = np.array([5, 2, 7, 3])[:c] * (top // 255)
    base = yy[:, :, None] * steps + xx[:, :, None] * steps[::-1]
    noise = np.random.default_rng(seed).integers(0, 4 * (top // 255), size=(h, w, c))
    return ((base + noise) % (top + 1)).astype(np.uint8 if top == 255 else np.uint16)


def _blender_pixels(path: str, top: int, c: int) -> np.ndarray:
    """Stored values as Blender decodes them (no colour conversion), top row first."""
    img = bpy.data.images.load(path, check_existing=False)
    img.colorspace_settings.name = "Non-Color"
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return np.rint(px.reshape(h, w, 4)[::-1, :, :c] * top).astype(np.int64)


def _scene_with_png_output(depth: str, mode: str):
    scene = bpy.data.scenes[0] if bpy.data.scenes else bpy.data.scenes.new("png")
    settings = scene.render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = mode
    settings.color_depth = depth
    scene.view_settings.view_transform = "Standard"
    return scene


def test_reads_blender_8bit_rgba(tmp_path):
    h, w = 37, 29
    img = _pattern(h, w, 4, 255, 0)
    im = bpy.data.images.new("png8", w, h, alpha=True)
    im.pixels.foreach_set((img[::-1].astype(np.float32) / 255).ravel())
    path = str(tmp_path / "rgba8.png")
    im.filepath_raw = path
    im.file_format = "PNG"
    im.save()
    back = read_png(path)
    assert back.dtype == np.uint8 and np.array_equal(back, img)
    assert np.array_equal(back, _blender_pixels(path, 255, 4))


@pytest.mark.parametrize("depth,mode,c", [("8", "RGB", 3), ("16", "RGB", 3), ("16", "RGBA", 4)])
def test_reads_blender_render_output(tmp_path, depth, mode, c):
    """Written by ``save_render`` as the renderer does (float image, no colour conversion)."""
    top = 255 if depth == "8" else 65535
    h, w = 23, 31
    img = _pattern(h, w, c, top, 1)
    im = bpy.data.images.new("pngf", w, h, alpha=c == 4, float_buffer=True)
    im.colorspace_settings.name = "Non-Color"
    px = np.ones((h, w, 4), np.float32)
    px[:, :, :c] = img / top
    im.pixels.foreach_set(px[::-1].ravel())
    path = str(tmp_path / f"out{depth}{mode}.png")
    im.save_render(path, scene=_scene_with_png_output(depth, mode))
    back = read_png(path)
    assert back.shape == (h, w, c) and back.dtype == img.dtype
    assert np.array_equal(back, _blender_pixels(path, top, c))
    # float images hold premultiplied colour, which the writer divides by alpha: compare
    # colour only where alpha does not change it
    assert np.array_equal(back, img) if c == 3 else np.array_equal(back[:, :, 3], img[:, :, 3])
