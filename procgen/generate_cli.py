"""``generate --seed S --preset P --out DIR``: a procedural scene and its dataset.

For each seed: reset Blender to an empty scene, generate, save ``scene.blend``
atomically, then render the ground-truth dataset next to it. Several seeds
(``--seed 0 1 2`` or ``--seeds 0-9``) go to ``DIR/seed_000000`` ... (the names ``batch``
gives them too); a failing seed is
reported and the others still run. bpy is imported inside ``run`` (fast ``--help``).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import time
import traceback

from .assembly.biomes import BIOME_NAMES
from .assembly.config import TERRAIN_KINDS, TRAJECTORIES
from .core import interrupt
from .core.atomic import atomic_path
from .core.cli_args import count, number
from .core.disk import describe_write_error, is_disk_full
from .core.folder_lock import FolderLock, FolderLockedError
from .core.output_paths import check_folder
from .core.staged_output import commit as commit_staged
from .core.staged_output import finish_commit, product_files, stage_dir
from .render.layout import MANIFEST, SCENE_FILE, is_scene_output_file

PRESET_NAMES = ("tiny", "default", "large")


def parse_seed_ranges(text: str) -> list[range]:
    """``"0-3,7"`` -> [range(0, 4), range(7, 8)]; ranges stay lazy, so 0-100000000 costs nothing."""
    ranges: list[range] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo_text, dash, hi_text = part[1:].partition("-") if part[:1] != "-" else ("", "", "")
        try:
            lo = int(part[0] + lo_text) if dash else int(part)
            hi = int(hi_text) if dash else lo
        except ValueError:
            raise ValueError(f"{part!r} is not a seed or a range such as 0-9") from None
        if lo < 0:
            raise ValueError("seeds must be >= 0")
        if hi < lo:
            raise ValueError(f"seed range {part!r} runs backwards")
        ranges.append(range(lo, hi + 1))
    return ranges


def seed_dir_name(seed: int) -> str:
    """The folder name of one seed among several, for ``generate`` and ``batch``: ``seed_000042``."""
    return f"seed_{seed:06d}"


def seed_dir(root: str, seed: int) -> str:
    """``root/seed_NNNNNN``; or ``root/seed_NNNN`` where an older ``generate`` (which named its folders
    so) left only that one for this seed, so that a run begun before resumes in its own folder."""
    folder = os.path.join(root, seed_dir_name(seed))
    older = os.path.join(root, f"seed_{seed:04d}")
    return older if older != folder and os.path.isdir(older) and not os.path.exists(folder) else folder


def iter_seeds(ranges: list[range]):
    """Each seed once, in the order given (a seed inside an earlier range is skipped)."""
    for i, r in enumerate(ranges):
        for seed in r:
            if not any(seed in earlier for earlier in ranges[:i]):
                yield seed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .render.cli import add_passes_argument

    parser.add_argument("--seed", type=count(0), nargs="+", default=None, metavar="S",
                        help="scene seed(s); several seeds write DIR/seed_NNNNNN each")
    parser.add_argument("--seeds", default=None, metavar="RANGE", help="seed ranges such as 0-9 or 0-3,7")
    parser.add_argument("--preset", choices=PRESET_NAMES, default="default",
                        help="tiny: 64x64, 4 frames (tests); default: 256x256, 24 frames, 64 samples; large")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for scene.blend and the dataset")
    parser.add_argument("--frames", type=count(1, 100_000), default=None, metavar="N", help="number of frames")
    parser.add_argument("--resolution", type=count(1, 16_384), nargs=2, default=None, metavar=("W", "H"),
                        help="image size in pixels")
    parser.add_argument("--samples", type=count(1, 1_000_000), default=None, metavar="N",
                        help="Cycles samples for RGB")
    parser.add_argument("--biome", choices=("auto",) + BIOME_NAMES, default=None,
                        help="scene type: terrain, ground, plants, rocks, sky and weather (default: from the seed)")
    parser.add_argument("--terrain", choices=("auto",) + TERRAIN_KINDS, default=None,
                        help="terrain recipe instead of the biome's own")
    parser.add_argument("--trajectory", choices=("auto",) + TRAJECTORIES, default=None,
                        help="camera path (default: orbit or flythrough, from the seed); walk: close range, "
                             "0.8-1.2 m above the ground among the trees")
    parser.add_argument("--no-animals", action="store_true",
                        help="leave out the fish, birds and grazers the biome would have")
    parser.add_argument("--wind", type=number(0), default=None, metavar="S",
                        help="wind strength, times the one drawn from the seed (default 1; 0: no wind)")
    parser.add_argument("--no-render", action="store_true", help="only generate and save scene.blend")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto", help="Cycles device")
    add_passes_argument(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing scene.blend and dataset in DIR (the old ones stay until "
                             "the new ones are complete; other files in DIR are kept)")


def config_from_args(args, seed: int):
    """The SceneConfig of one seed from parsed ``generate`` options (also the add-on's Generate)."""
    from .assembly.config import SceneConfig

    over: dict = {"seed": seed}
    if args.frames is not None:
        over["frames"] = args.frames
    if args.resolution is not None:
        over["resolution"] = tuple(args.resolution)
    if args.samples is not None:
        over["samples"] = args.samples
    if args.biome is not None:
        over["biome"] = args.biome
    if args.terrain is not None:
        over["terrain__kind"] = args.terrain
    if args.trajectory is not None:
        over["camera__trajectory"] = args.trajectory
    if getattr(args, "wind", None) is not None:
        over["motion__wind_strength"] = args.wind
    if getattr(args, "no_animals", False):
        over["motion__animals"] = False
    return SceneConfig.from_preset(args.preset, **over)


def _save_blend_atomically(bpy, path: str) -> None:
    with atomic_path(path, suffix=".blend") as tmp:  # same folder: relative paths in the file stay valid
        bpy.ops.wm.save_as_mainfile(filepath=tmp, copy=True)


def _stored_config(bpy, path: str) -> dict | None:
    """The config recorded in an existing scene.blend (None when it has none)."""
    bpy.ops.wm.open_mainfile(filepath=path)
    raw = bpy.context.scene.get("gs_scene_info")
    return json.loads(raw)["config"] if raw else None


def _reuse_or_refuse(bpy, blend: str, config, replace_different: bool) -> dict | None:
    """The scene info of an identical scene.blend to resume, or None to generate anew."""
    if not os.path.exists(blend):
        return None
    stored = _stored_config(bpy, blend)
    if stored == config.to_dict():
        return json.loads(bpy.context.scene["gs_scene_info"])
    if not replace_different:
        raise FileExistsError(f"{blend} exists and holds a different scene; use --overwrite to replace it")
    return None


def generate_one(args, seed: int, out_dir: str, bar_factory=None, replace_different: bool = False) -> dict:
    """Generate (or reuse an identical) scene for ``seed`` in ``out_dir`` and render it.

    A different scene already in ``out_dir`` is refused unless ``replace_different`` (a staging
    folder of --overwrite, which holds only what this command wrote).
    """
    import bpy

    from .assembly.scene import generate_scene
    from .render import render_dataset
    from .render.layout import load_manifest

    config = config_from_args(args, seed)
    os.makedirs(out_dir, exist_ok=True)
    blend = os.path.join(out_dir, "scene.blend")
    info = _reuse_or_refuse(bpy, blend, config, replace_different)
    reused = info is not None
    if not reused and replace_different:
        shutil.rmtree(out_dir)  # a staging folder of another scene: everything in it is ours
        os.makedirs(out_dir)
    if not reused:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        info = generate_scene(config)
        bpy.context.preferences.filepaths.save_version = 0
        _save_blend_atomically(bpy, blend)
    c = info["counts"]
    biome = info.get("biome", {}).get("name", "?")
    print(f"generate: seed {seed}: {biome} ({info['terrain']['kind']} terrain), {c['objects']} objects, "
          f"{c['vertices']:,} vertices, {info['camera']['trajectory']} camera, "
          f"{'reused' if reused else 'generated in %.1f s' % info['timings']['total']} -> {blend}", flush=True)
    result = {"seed": seed, "scene": blend, "generate_s": info["timings"]["total"], "reused": reused,
              "complete": bool(args.no_render)}
    if args.no_render:
        return result
    manifest = load_manifest(out_dir) if reused else None
    if manifest and manifest.get("complete"):
        print(f"generate: seed {seed}: the dataset in {out_dir} is already complete", flush=True)
        result.update(rendered=False, already_complete=True, complete=True)
        return result
    summary = _render(bpy, render_dataset, out_dir, args, bar_factory)
    result.update(rendered=True, render=summary, complete=summary["frames_done"] == summary["frames_total"])
    return result


def _render(bpy, render_dataset, out_dir: str, args, bar_factory) -> dict:
    bar = bar_factory() if bar_factory else None

    def progress(done: int, total: int, message: str) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(message)
            bar.refresh()

    try:
        return render_dataset(out_dir, scene=bpy.context.scene, samples=args.samples,
                              progress=progress, device=args.device, passes=args.passes,
                              track_points=args.track_points)
    finally:
        if bar is not None:
            bar.close()


def generate_seed(args, seed: int, out_dir: str, bar_factory=None) -> dict:
    """One seed into ``out_dir``; with --overwrite the new output is built beside the old one."""
    check_folder(out_dir, is_ours=is_scene_folder, overwrite=args.overwrite)
    os.makedirs(out_dir, exist_ok=True)
    if finish_commit(out_dir, is_scene_output_file):
        print(f"generate: finished the replacement that an interrupted --overwrite run began in {out_dir}")
    if not (args.overwrite and product_files(out_dir, is_scene_output_file)):
        if os.path.isdir(stage_dir(out_dir)):
            print(f"generate: note: {stage_dir(out_dir)} holds an unfinished --overwrite run; "
                  "run with --overwrite to resume it", file=sys.stderr)
        return generate_one(args, seed, out_dir, bar_factory)
    result = generate_one(args, seed, stage_dir(out_dir), bar_factory, replace_different=True)
    if result["complete"]:
        commit_staged(out_dir, is_scene_output_file)
        result["scene"] = os.path.join(out_dir, "scene.blend")
    return result


def describe_failure(exc: Exception, out_dir: str) -> str:
    """One line: a full disk named as such, else the error (which names its file where it has one)."""
    if isinstance(exc, (OSError, RuntimeError)) and is_disk_full(exc, getattr(exc, "filename", None) or out_dir):
        return describe_write_error(exc, out_dir)
    return f"{type(exc).__name__}: {exc}"


def _seed_list(args) -> list[range]:
    ranges = parse_seed_ranges(args.seeds) if args.seeds is not None else []
    if args.seeds is not None and not ranges:
        raise ValueError("names no seed; give seeds such as 0-9 or 0-3,7")
    ranges = [range(s, s + 1) for s in (args.seed or [])] + ranges
    return ranges or [range(0, 1)]


def is_scene_folder(folder: str) -> bool:
    """Whether ``folder`` holds generate's own output (a scene, or a dataset being rendered) to resume."""
    from .render import DATASET_MARK

    return any(os.path.exists(os.path.join(folder, name)) for name in (SCENE_FILE, MANIFEST, DATASET_MARK))


def _holds_seed_folders(folder: str) -> bool:
    return any(name.startswith("seed_") and os.path.isdir(os.path.join(folder, name)) for name in os.listdir(folder))


def run(args: argparse.Namespace) -> int:
    try:
        ranges = _seed_list(args)
    except ValueError as exc:
        print(f"generate: --seeds {args.seeds!r}: {exc}", file=sys.stderr)
        return 2
    single = len(list(itertools.islice(iter_seeds(ranges), 2))) == 1
    # one seed writes into --out itself; several write --out/seed_NNNNNN, each checked when its turn comes
    out_root = check_folder(args.out, is_ours=is_scene_folder if single else _holds_seed_folders,
                            overwrite=args.overwrite)
    interrupt.install("generate")
    try:
        with FolderLock(out_root, "generate"):
            return _generate_all(args, ranges, out_root)
    except FolderLockedError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1


def _interrupted(seed: int) -> int:
    print(f"generate: interrupted at seed {seed}; finished scenes and frames were kept "
          f"(run the same command again to resume)", file=sys.stderr)
    return interrupt.exit_code()


def _generate_all(args, ranges: list[range], out_root: str) -> int:
    from tqdm import tqdm

    single = len(list(itertools.islice(iter_seeds(ranges), 2))) == 1
    failures: list[tuple[int, str]] = []
    done = 0
    t0 = time.perf_counter()
    for seed in iter_seeds(ranges):
        out_dir = out_root if single else seed_dir(out_root, seed)
        try:
            generate_seed(args, seed, out_dir,
                          bar_factory=lambda s=seed: tqdm(unit="frame", desc=f"render seed {s}", dynamic_ncols=True))
            done += 1
        except KeyboardInterrupt:
            return _interrupted(seed)
        except Exception as exc:  # one bad seed must not stop the others
            if interrupt.received():  # C code can turn the signal's KeyboardInterrupt into another error
                return _interrupted(seed)
            message = describe_failure(exc, out_dir)
            failures.append((seed, message))
            print(f"generate: seed {seed} failed: {message}", file=sys.stderr)
            if os.environ.get("GS_DEBUG"):
                traceback.print_exc()
    print(f"generate: {done}/{done + len(failures)} seeds done in {time.perf_counter() - t0:.1f} s -> {out_root}")
    for seed, msg in failures:
        print(f"generate: FAILED seed {seed}: {msg}", file=sys.stderr)
    return 1 if failures else 0
