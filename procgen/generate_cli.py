"""``generate --seed S --preset P --out DIR``: a procedural scene and its dataset.

For each seed: reset Blender to an empty scene, generate, save ``scene.blend``
atomically, then render the ground-truth dataset next to it. Several seeds
(``--seed 0 1 2`` or ``--seeds 0-9``) go to ``DIR/seed_0000`` ...; a failing seed is
reported and the others still run. bpy is imported inside ``run`` (fast ``--help``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

PRESET_NAMES = ("tiny", "default", "large")


def parse_seed_ranges(text: str) -> list[int]:
    """``"0-3,7"`` -> [0, 1, 2, 3, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ValueError(f"seed range {part!r} runs backwards")
            seeds.extend(range(lo, hi + 1))
        else:
            seeds.append(int(part))
    if any(s < 0 for s in seeds):
        raise ValueError("seeds must be >= 0")
    return seeds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, nargs="+", default=None, metavar="S",
                        help="scene seed(s); several seeds write DIR/seed_NNNN each")
    parser.add_argument("--seeds", default=None, metavar="RANGE", help="seed ranges such as 0-9 or 0-3,7")
    parser.add_argument("--preset", choices=PRESET_NAMES, default="default",
                        help="tiny: 64x64, 4 frames (tests); default: 256x256, 24 frames, 64 samples; large")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for scene.blend and the dataset")
    parser.add_argument("--frames", type=int, default=None, metavar="N", help="number of frames")
    parser.add_argument("--resolution", type=int, nargs=2, default=None, metavar=("W", "H"), help="image size")
    parser.add_argument("--samples", type=int, default=None, metavar="N", help="Cycles samples for RGB")
    parser.add_argument("--terrain", choices=("auto", "hills", "mountains", "canyon", "dunes"), default=None,
                        help="terrain kind (default: from the seed)")
    parser.add_argument("--trajectory", choices=("auto", "orbit", "flythrough", "multiview"), default=None,
                        help="camera path (default: orbit or flythrough, from the seed)")
    parser.add_argument("--no-render", action="store_true", help="only generate and save scene.blend")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto", help="Cycles device")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing scene.blend and dataset in DIR")


def _config_from_args(args, seed: int):
    from .config import SceneConfig

    over: dict = {"seed": seed}
    if args.frames is not None:
        over["frames"] = args.frames
    if args.resolution is not None:
        over["resolution"] = tuple(args.resolution)
    if args.samples is not None:
        over["samples"] = args.samples
    if args.terrain is not None:
        over["terrain__kind"] = args.terrain
    if args.trajectory is not None:
        over["camera__trajectory"] = args.trajectory
    return SceneConfig.preset(args.preset, **over)


def _save_blend_atomically(bpy, path: str) -> None:
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp.blend")
    try:
        bpy.ops.wm.save_as_mainfile(filepath=tmp, copy=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _stored_config(bpy, path: str) -> dict | None:
    """The config recorded in an existing scene.blend (None when it has none)."""
    bpy.ops.wm.open_mainfile(filepath=path)
    raw = bpy.context.scene.get("gs_scene_info")
    return json.loads(raw)["config"] if raw else None


def generate_one(args, seed: int, out_dir: str, bar_factory=None) -> dict:
    """Generate (or reuse an identical) scene for ``seed`` in ``out_dir`` and render it."""
    import bpy

    from .scene import generate_scene

    config = _config_from_args(args, seed)
    os.makedirs(out_dir, exist_ok=True)
    blend = os.path.join(out_dir, "scene.blend")
    reused = False
    if os.path.exists(blend) and not args.overwrite:
        stored = _stored_config(bpy, blend)
        if stored != config.to_dict():
            raise FileExistsError(f"{blend} exists and holds a different scene; pass --overwrite to replace it")
        reused = True  # same seed and settings: resume its dataset instead of regenerating
        info = json.loads(bpy.context.scene["gs_scene_info"])
    else:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        info = generate_scene(config)
        bpy.context.preferences.filepaths.save_version = 0
        _save_blend_atomically(bpy, blend)
    c = info["counts"]
    print(f"generate: seed {seed}: {info['terrain']['kind']} terrain, {c['objects']} objects, "
          f"{c['vertices']:,} vertices, {info['camera']['trajectory']} camera, "
          f"{'reused' if reused else 'generated in %.1f s' % info['timings']['total']} -> {blend}", flush=True)
    result = {"seed": seed, "scene": blend, "generate_s": info["timings"]["total"], "reused": reused}
    if args.no_render:
        return result
    try:
        from .render import render_dataset
    except ImportError:
        print("generate: renderer not available yet; the scene was saved but no dataset was rendered",
              file=sys.stderr)
        result["rendered"] = False
        return result
    from .render.layout import load_manifest

    manifest = load_manifest(out_dir) if reused and not args.overwrite else None
    if manifest and manifest.get("complete"):
        # The same scene with a finished dataset: nothing to do, and nothing went wrong.
        print(f"generate: seed {seed}: the dataset in {out_dir} is already complete", flush=True)
        result["rendered"] = False
        result["already_complete"] = True
        return result
    bar = bar_factory() if bar_factory else None

    def progress(done: int, total: int, message: str) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(message)
            bar.refresh()

    try:
        summary = render_dataset(out_dir, scene=bpy.context.scene, samples=args.samples,
                                 overwrite=args.overwrite, progress=progress, device=args.device)
    finally:
        if bar is not None:
            bar.close()
    result["rendered"] = True
    result["render"] = summary
    return result


def run(args: argparse.Namespace) -> int:
    try:
        seeds = list(args.seed or [])
        if args.seeds:
            seeds += parse_seed_ranges(args.seeds)
    except ValueError as exc:
        print(f"generate: --seeds {args.seeds!r}: {exc}", file=sys.stderr)
        return 2
    if not seeds:
        seeds = [0]
    if any(s < 0 for s in seeds):
        print("generate: seeds must be >= 0", file=sys.stderr)
        return 2
    for name, value in (("--frames", args.frames), ("--samples", args.samples)):
        if value is not None and value < 1:
            print(f"generate: {name} must be at least 1, got {value}", file=sys.stderr)
            return 2
    if args.resolution is not None and min(args.resolution) < 1:
        print(f"generate: --resolution must be positive, got {args.resolution}", file=sys.stderr)
        return 2
    seeds = list(dict.fromkeys(seeds))  # keep order, drop repeats
    out_root = os.path.abspath(args.out)
    if os.path.exists(out_root) and not os.path.isdir(out_root):
        print(f"generate: {out_root} exists and is not a folder", file=sys.stderr)
        return 2

    from tqdm import tqdm

    failures: list[tuple[int, str]] = []
    t0 = time.perf_counter()
    for seed in seeds:
        out_dir = out_root if len(seeds) == 1 else os.path.join(out_root, f"seed_{seed:04d}")
        try:
            generate_one(args, seed, out_dir,
                         bar_factory=lambda: tqdm(unit="frame", desc=f"render seed {seed}", dynamic_ncols=True))
        except KeyboardInterrupt:
            print(f"generate: interrupted at seed {seed}; finished scenes and frames were kept "
                  f"(run the same command again to resume)", file=sys.stderr)
            return 130
        except Exception as exc:  # one bad seed must not stop the others
            failures.append((seed, f"{type(exc).__name__}: {exc}"))
            print(f"generate: seed {seed} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            if os.environ.get("GS_DEBUG"):
                traceback.print_exc()
    done = len(seeds) - len(failures)
    print(f"generate: {done}/{len(seeds)} seeds done in {time.perf_counter() - t0:.1f} s -> {out_root}")
    if failures:
        for seed, msg in failures:
            print(f"generate: FAILED seed {seed}: {msg}", file=sys.stderr)
        return 1
    return 0
