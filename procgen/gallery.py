"""``gallery --out DIR``: one rendered frame of every biome for a few seeds, on one PNG sheet
with the biome's name (and seed) under each frame, and beside it a second, close-range frame
of the walk trajectory (low over the ground, past the biome's ``Biome.walk_past`` subjects).

Each frame is generated and rendered in this process (Cycles, the requested samples,
denoised); the frames are kept as ``DIR/frames/<biome>_<seed>.png`` and the sheet is
``DIR/gallery.png`` (``<biome>_<seed>_walk.png`` for the close-range view). A frame already on
disk is reused, so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .assembly.biomes import BIOME_NAMES
from .core import interrupt
from .core.cli_args import count
from .core.output_paths import check_folder
from .render.font import draw_text, text_mask
from .render.png import read_png, write_png

LABEL_H = 22


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for gallery.png and frames/")
    parser.add_argument("--seeds", type=count(0), nargs="+", default=[0, 1], metavar="S",
                        help="scene seeds rendered for every biome (default: 0 1)")
    parser.add_argument("--biomes", nargs="+", default=list(BIOME_NAMES), choices=BIOME_NAMES, metavar="BIOME",
                        help="biomes to show (default: all)")
    parser.add_argument("--resolution", type=count(16, 4096), nargs=2, default=(256, 256), metavar=("W", "H"))
    parser.add_argument("--samples", type=count(1, 100_000), default=32, help="Cycles samples (default: 32)")
    parser.add_argument("--frame", type=count(1), default=1, help="which frame of each scene's camera path")
    parser.add_argument("--preset", choices=("tiny", "default", "large"), default="default")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    parser.add_argument("--columns", type=count(1, 64), default=6, help="frames per row of the sheet (default: 6)")
    parser.add_argument("--overwrite", action="store_true", help="render frames again even when they exist")
    parser.add_argument("--no-walk", dest="walk", action="store_false",
                        help="leave out each biome's close-range (walk) view")


def render_frame(biome: str, seed: int, path: str, args, trajectory: str = "auto") -> float:
    """Generate the scene of (biome, seed) with the camera ``trajectory`` and render one frame of
    it to ``path``; returns seconds."""
    import bpy

    from .assembly.config import SceneConfig
    from .assembly.scene import generate_scene
    from .render import passes

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    generate_scene(SceneConfig.from_preset(args.preset, seed=seed, biome=biome, resolution=tuple(args.resolution),
                                           samples=args.samples, camera__trajectory=trajectory))
    scene = bpy.context.scene
    scene.frame_set(min(args.frame, scene.frame_end))
    settings = passes.Settings()
    passes.choose_device(scene, settings, args.device)
    passes.configure_common(scene, bpy.context.view_layer, settings)
    passes.configure_rgb(scene, bpy.context.view_layer, settings, args.samples, denoise=True)
    tmp = path + ".tmp.png"
    passes.render_still(scene, bpy.context.view_layer, tmp)
    os.replace(tmp, path)
    return time.perf_counter() - t0


def compose(frames: list[np.ndarray], labels: list[str], columns: int) -> np.ndarray:
    """A sheet [H, W, 3] uint8 of ``frames`` (all [h, w, 3+]) in rows of ``columns``, each
    with its label written under it."""
    h, w = frames[0].shape[:2]
    cols = max(1, min(columns, len(frames)))
    rows = -(-len(frames) // cols)
    gap = 4
    sheet = np.full((rows * (h + LABEL_H + gap) + gap, cols * (w + gap) + gap, 3), 24, np.uint8)
    for k, (img, label) in enumerate(zip(frames, labels)):
        i, j = divmod(k, cols)
        top, left = gap + i * (h + LABEL_H + gap), gap + j * (w + gap)
        sheet[top:top + h, left:left + w] = img[:h, :w, :3]
        # a label too wide for its cell is written smaller, never into the next cell
        scale = 2 if text_mask(label, 2).shape[1] <= w - 8 else 1
        draw_text(sheet[:, left:left + w], label, top + h + 4, 4, (235, 235, 235), scale=scale)
    return sheet


def is_gallery_folder(folder: str) -> bool:
    return os.path.isdir(os.path.join(folder, "frames")) or os.path.exists(os.path.join(folder, "gallery.png"))


def run(args: argparse.Namespace) -> int:
    out = check_folder(args.out, is_ours=is_gallery_folder, overwrite=args.overwrite)
    interrupt.install("gallery")
    os.makedirs(os.path.join(out, "frames"), exist_ok=True)
    frames, labels = [], []
    for biome in args.biomes:
        views = ("auto", "walk") if args.walk else ("auto",)
        for view in views:
            for seed in args.seeds:
                tail = "" if view == "auto" else f"_{view}"
                path = os.path.join(out, "frames", f"{biome}_{seed}{tail}.png")
                if args.overwrite or not os.path.exists(path):
                    seconds = render_frame(biome, seed, path, args, view)
                    print(f"gallery: {biome} seed {seed}{tail.replace('_', ' ')}: {seconds:.1f} s -> {path}",
                          flush=True)
                frames.append(read_png(path))
                labels.append(f"{biome.replace('_', ' ')} {seed}{tail.replace('_', ' ')}")
    sheet_path = os.path.join(out, "gallery.png")
    write_png(sheet_path, compose(frames, labels, args.columns))
    print(f"gallery: {len(frames)} frames -> {sheet_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
