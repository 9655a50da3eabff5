"""The gallery sheet: the bitmap font, the layout with a label under every frame, and the
command end to end on the tiny preset."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from procgen.render.font import _GLYPHS, H, W, text_mask


def test_every_glyph_is_a_full_bitmap_and_letters_differ():
    assert all(len(rows) == W * H and set(rows) <= {"#", "."} for rows in _GLYPHS.values())
    letters = [text_mask(ch, 1).tobytes() for ch in "abcdefghijklmnopqrstuvwxyz0123456789"]
    assert len(set(letters)) == len(letters)
    m = text_mask("ab c", 2)
    assert m.shape == (H * 2, 4 * (W + 1) * 2) and not m[:, 2 * 2 * (W + 1):3 * 2 * (W + 1)].any()  # the space


def test_sheet_puts_each_frame_in_its_cell_with_its_label():
    from procgen.gallery import LABEL_H, compose

    frames = [np.full((20, 30, 3), 40 * (k + 1), np.uint8) for k in range(5)]
    sheet = compose(frames, [f"f{k}" for k in range(5)], columns=2)
    gap = 4
    assert sheet.shape == (3 * (20 + LABEL_H + gap) + gap, 2 * (30 + gap) + gap, 3)
    for k in range(5):
        i, j = divmod(k, 2)
        top, left = gap + i * (20 + LABEL_H + gap), gap + j * (30 + gap)
        assert (sheet[top:top + 20, left:left + 30] == 40 * (k + 1)).all()
        label = sheet[top + 20:top + 20 + LABEL_H, left:left + 30]
        assert (label == 235).all(axis=-1).sum() > 20  # text drawn under the frame


@pytest.mark.blender
def test_gallery_command_renders_two_labelled_views_per_biome_and_seed(tmp_path):
    from procgen import gallery
    from procgen.render.png import read_png

    parser = argparse.ArgumentParser()
    gallery.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path), "--biomes", "meadow", "desert", "--seeds", "3",
                              "--preset", "tiny", "--resolution", "48", "32", "--samples", "2", "--device", "cpu"])
    assert gallery.run(args) == 0
    a = read_png(tmp_path / "frames" / "meadow_3.png")
    b = read_png(tmp_path / "frames" / "desert_3.png")
    assert a.shape[:2] == b.shape[:2] == (32, 48)
    assert np.abs(a[..., :3].astype(int).mean((0, 1)) - b[..., :3].astype(int).mean((0, 1))).max() > 5
    for biome, usual in (("meadow", a), ("desert", b)):  # every biome's second, close-range view
        walk = read_png(tmp_path / "frames" / f"{biome}_3_walk.png")
        assert walk.shape == usual.shape and np.abs(walk.astype(int) - usual.astype(int)).mean() > 5
    sheet = read_png(tmp_path / "gallery.png")
    assert sheet.shape[1] == 4 * (48 + 4) + 4 and sheet.shape[0] == 32 + gallery.LABEL_H + 8


def test_a_label_wider_than_its_frame_stays_in_its_cell():
    from procgen.gallery import LABEL_H, compose

    frames = [np.zeros((20, 60, 3), np.uint8) for _ in range(2)]
    sheet = compose(frames, ["broadleaf forest 0 walk", ""], columns=2)
    gap = 4
    second = sheet[gap + 20:gap + 20 + LABEL_H, 2 * gap + 60:2 * gap + 120]
    assert not (second == 235).any()  # nothing of the first label in the second cell
    first = sheet[gap + 20:gap + 20 + LABEL_H, gap:gap + 60]
    assert (first == 235).any()  # but the first label is written
