"""`train DATASET --out DIR ...`: the command-line face of the trainer (torch imported lazily)."""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from procgen.core import interrupt
from procgen.core.cli_args import count, number
from procgen.core.disk import describe_write_error
from procgen.core.folder_lock import FolderLockedError
from procgen.core.jobs_protocol import ENV, Reporter, requested
from procgen.core.output_paths import OutputPathError, check_folder

from ..splats import io as splat_io
from .schedule import DENSIFY_ABSGRAD_THRESHOLD, DENSIFY_GRAD_THRESHOLD, DENSIFY_SIGNALS, OBJECT_DENSIFY_GRAD_THRESHOLD

# after a stop request (Ctrl-C, SIGTERM) the run saves a checkpoint and its results; past this it just exits
STOP_GRACE_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset folder (transforms.json, transforms_train/test.json or a "
                                        "COLMAP text model with images/)")
    parser.add_argument("--out", required=True, help="output folder (point_cloud.ply, metrics.json, checkpoints/)")
    parser.add_argument("--iterations", type=count(1), default=7000, help="training iterations (default 7000)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when available, else the C++ CPU kernels")
    parser.add_argument("--sh-degree", type=int, default=3, choices=(0, 1, 2, 3), help="max SH degree (default 3)")
    parser.add_argument("--max-gaussians", type=count(0), default=0, metavar="N",
                        help="at most N Gaussians in the scene, the initial points included (a random subset of "
                             "them where there are more; growth stops at N); the sky shell is counted apart "
                             "(sky_gaussians in metrics.json) (0 = no cap)")
    parser.add_argument("--strategy", choices=("default", "mcmc"), default="default",
                        help="densification: default (clone, split and prune on screen-space gradients) or mcmc "
                             "(relocate transparent Gaussians onto opaque ones and grow to a budget: "
                             "--max-gaussians, else 300,000); see docs/training.md")
    parser.add_argument("--densify-threshold", type=number(1e-9), default=None, metavar="G",
                        help="default strategy: clone or split Gaussians whose view-averaged screen-space gradient "
                             f"exceeds G (default {DENSIFY_GRAD_THRESHOLD:g}, {OBJECT_DENSIFY_GRAD_THRESHOLD:g} for "
                             f"objects on a transparent background, or {DENSIFY_ABSGRAD_THRESHOLD:g} for absgrad; "
                             "lower: more Gaussians, finer detail, slower)")
    parser.add_argument("--densify-signal", choices=DENSIFY_SIGNALS, default="grad",
                        help="default strategy: the statistic thresholded, the screen-space gradient (grad) or the "
                             "sum of each pixel's absolute gradient (absgrad, which sees thin structures whose "
                             "pixels pull in opposite directions); see docs/training.md")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in --out (refused when it belongs to another "
                             "dataset or other settings)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output of an earlier run in --out; the old output stays until the new "
                             "run has ended, and files the trainer did not write are kept")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="with --resume: accept a checkpoint of an earlier version, which records no dataset "
                             "and settings to check")
    parser.add_argument("--downscale", type=count(1), default=1,
                        help="load images downscaled by this whole factor (at most the smallest image side)")
    parser.add_argument("--background", choices=("random", "black", "white"), default="random",
                        help="background behind the splats in training (random: a new colour each step)")
    parser.add_argument("--depth-weight", type=number(0.0), default=None,
                        help="weight of the relative depth loss where the dataset has depth (default "
                             "1.0; 0 = off)")
    parser.add_argument("--sky", choices=("auto", "on", "off"), default="auto",
                        help="model distant content by a shell of Gaussians far outside the scene, saved in the "
                             "same file with the per-splat property 'sky' = 1 (auto: on unless the images have "
                             "alpha, as objects on a transparent background do)")
    parser.add_argument("--time-limit", type=number(0.0), default=0.0, metavar="SECONDS",
                        help="stop after this much training time, keeping the result (0 = no limit)")
    parser.add_argument("--preview-every", type=count(0), default=0, metavar="N",
                        help="every N iterations, evaluate the held-out views and write a render of the first "
                             "to renders/live_preview.png, reported with the held-out PSNR (0 = only at the end)")
    parser.add_argument("--seed", type=count(0, 2**32 - 1), default=0,
                        help="seed of the random choices (initial points, view order, backgrounds); "
                             "the same seed, data and device give the same result (default 0)")
    formats = [s[1:] for s in splat_io.extensions()]
    parser.add_argument("--format", choices=formats, default="ply", metavar="FORMAT",
                        help="also write the splats as point_cloud.FORMAT beside point_cloud.ply: "
                             + ", ".join(formats) + " (default ply only)")
    parser.add_argument("--progress-json", action="store_true",
                        help="report on stdout in JSON lines (progress, result, error events) instead of a bar; "
                             f"also turned on by the environment variable {ENV}=1")


def _before_torch(args: argparse.Namespace) -> int | None:
    """What can be said before torch loads, so a Python without torch (Blender's) still gets one line."""
    from .out_folder import is_training_folder

    reporter = Reporter("train", enabled=requested(args.progress_json))
    try:
        args.out = check_folder(args.out, is_ours=is_training_folder, overwrite=args.overwrite)
        problem = None
    except OutputPathError as exc:
        problem = str(exc)
    if not os.path.exists(args.dataset):
        message, code = f"{os.path.abspath(args.dataset)}: dataset not found", 2
    elif args.strategy == "mcmc" and (args.densify_threshold is not None or args.densify_signal != "grad"):
        message, code = ("--densify-threshold and --densify-signal set the default strategy's growth; --strategy "
                         "mcmc grows to its budget (--max-gaussians) instead: leave them out, or use --strategy "
                         "default"), 2
    elif problem is not None:
        message, code = problem, 2
    elif importlib.util.find_spec("torch") is None:
        message, code = (f"torch is not installed for {sys.executable}; train with a Python that has it "
                         "(the add-on's Training Interpreter, or GS_TRAINING_PYTHON)"), 1
    else:
        return None
    reporter.error(message)
    print(f"train: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    early = _before_torch(args)
    if early is not None:
        return early
    from .dataset_loader import DatasetError
    from .out_folder import OutputExistsError, train_in_folder
    from .sky import SkyConfig
    from .train import DEFAULT_DEPTH_WEIGHT, TrainConfig, TrainingError

    progress_json = requested(args.progress_json)
    cfg = TrainConfig(dataset=args.dataset, out=args.out, iterations=args.iterations, device=args.device,
                      sh_degree=args.sh_degree, max_gaussians=args.max_gaussians, resume=args.resume,
                      strategy=args.strategy, densify=_densify_config(args),
                      downscale=args.downscale, background=args.background, seed=args.seed,
                      depth_weight=DEFAULT_DEPTH_WEIGHT if args.depth_weight is None else args.depth_weight,
                      sky=SkyConfig(mode=args.sky), progress_json=progress_json,
                      time_limit_s=args.time_limit, eval_every=args.preview_every, out_format=args.format,
                      trust_checkpoint=args.trust_checkpoint)
    interrupt.install("train", grace_s=STOP_GRACE_S)  # a stop request ends the iteration, then saves
    try:
        metrics = train_in_folder(cfg, overwrite=args.overwrite)
    except KeyboardInterrupt:  # a signal while loading or writing the results
        print(f"train: interrupted; the checkpoints in {args.out} are kept: run the same command with --resume "
              "to continue", file=sys.stderr)
        return interrupt.exit_code()
    except DatasetError as exc:  # bad input: one line that names the file, a usage-like exit code
        Reporter("train", enabled=progress_json).error(str(exc))
        print(f"train: {exc}", file=sys.stderr)
        return 2
    except (TrainingError, FolderLockedError, OutputExistsError, ValueError, OSError, RuntimeError) as exc:
        message = describe_write_error(exc, args.out) if isinstance(exc, OSError) else str(exc)
        Reporter("train", enabled=progress_json).error(message)
        print(f"train: {message}", file=sys.stderr)
        return 1
    if metrics["status"] == "cancelled":
        return _cancelled(metrics, args.out)
    if not progress_json:
        psnr = metrics["psnr"]
        shown = "n/a (no held-out views)" if psnr is None else f"{psnr:.2f} dB, SSIM {metrics['ssim']:.4f}"
        print(f"{metrics['status']}: {metrics['iterations']} iterations in {metrics['wall_time_s']:.1f} s "
              f"({metrics['iterations_per_s']:.2f} it/s on {metrics['device']}), {metrics['gaussians']} Gaussians, "
              f"held-out PSNR {shown}\n  -> {os.path.join(args.out, 'point_cloud.ply')}"
              + ("" if args.format == "ply" else f" and point_cloud.{args.format}"))
    return 0


def _densify_config(args: argparse.Namespace):
    from .densify import DensifyConfig

    return DensifyConfig(grad_threshold=args.densify_threshold, signal=args.densify_signal)  # None: the trainer's


def _cancelled(metrics: dict, out: str) -> int:
    """A stopped run: say how to continue; 143 for SIGTERM, else 130 (Ctrl-C, the add-on's cancel)."""
    by = metrics.get("stopped_by") or "a cancel request"
    by = "the cancel request" if by == "cancel file" else by
    print(f"train: stopped by {by} at iteration {metrics['iterations']} of {metrics['total_iterations']}; "
          f"the checkpoint is kept: run the same command with --resume to continue ({out})", file=sys.stderr)
    return 143 if by == "SIGTERM" else 130
