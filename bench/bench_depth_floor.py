"""Benchmark section `depth_floor`: how closely any pixel-averaging render can match the dataset's depth.

The dataset's depth is one exact ray per pixel, through its centre. A splat render's depth is a
blend over the pixel's footprint. Where the surface changes depth within a pixel (grass blades in
front of the ground), the two differ even for a perfect model. This section measures that floor:
it renders the same frame of the same scene at FACTOR times the resolution (one ray per sub-pixel,
the render CLI's own ground truth), averages each FACTOR x FACTOR block to the exact pixel-area
mean depth, and reports the median of |centre depth - area mean| / centre depth over pixels whose
block is all surface: the depth error that a render of the exact area mean would score. Compare
it with the trainer's `depth_error` on the same views.

Default dataset: the meadow of the training section (build/bench_biomes/meadow/scene, generated
there when missing), its held-out frames (the dataset's test split).

    python bench/bench_depth_floor.py [DATASET] [--factor 4]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.02  # the demo's depth-error target (median relative error)

_UPRES = """
import bpy, sys
blend, out, factor = sys.argv[-3], sys.argv[-2], int(sys.argv[-1])
bpy.ops.wm.open_mainfile(filepath=blend)
r = bpy.context.scene.render
r.resolution_x *= factor
r.resolution_y *= factor
bpy.ops.wm.save_as_mainfile(filepath=out)
"""


def _held_out_frames(dataset: Path) -> list[int]:
    """The frame numbers of the dataset's own test split (transforms.json's test_filenames)."""
    meta = json.loads((dataset / "transforms.json").read_text())
    return sorted(int(Path(name).stem) for name in meta["test_filenames"])


def _fine_depth(dataset: Path, frame: int, factor: int, work: Path) -> np.ndarray:
    """[H * factor, W * factor] depth of `frame`, rendered by the render CLI from the dataset's scene.blend."""
    big = work / "scene_fine.blend"
    if not big.exists():
        subprocess.run([sys.executable, "-c", _UPRES, str(dataset / "scene.blend"), str(big), str(factor)],
                       check=True, capture_output=True, text=True)
    out = work / f"frame_{frame}"
    subprocess.run([sys.executable, "-m", "blender_gs_addon", "render", str(big), "--out", str(out), "--frames",
                    str(frame), str(frame), "--samples", "1", "--passes", "none", "--no-denoise"],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    return np.load(out / "depth" / f"{frame:05d}.npy")


def area_mean_error(centre: np.ndarray, fine: np.ndarray, factor: int) -> tuple[float, float]:
    """centre [H, W], fine [H*f, W*f] -> (median |centre - block mean| / centre over all-surface blocks,
    the share of pixels that are such blocks)."""
    h, w = centre.shape
    blocks = fine.reshape(h, factor, w, factor).transpose(0, 2, 1, 3).reshape(h, w, factor * factor)
    surface = np.isfinite(centre) & np.all(np.isfinite(blocks), axis=-1)
    if not surface.any():
        return float("nan"), 0.0
    mean = blocks[surface].mean(axis=-1)
    err = np.abs(centre[surface] - mean) / centre[surface]
    return float(np.median(err)), float(surface.mean())


def measure(dataset: Path, factor: int, frames: list[int] | None = None) -> dict:
    frames = frames or _held_out_frames(dataset)
    per_frame = {}
    with tempfile.TemporaryDirectory(prefix="gs-depth-floor-") as tmp:
        for frame in frames:
            centre = np.load(dataset / "depth" / f"{frame:05d}.npy").astype(np.float64)
            fine = _fine_depth(dataset, frame, factor, Path(tmp)).astype(np.float64)
            err, share = area_mean_error(centre, fine, factor)
            per_frame[f"{frame:05d}"] = {"area_mean_error": err, "surface_share": share}
            print(f"[depth_floor] frame {frame}: |centre - area mean| / centre median {100 * err:.2f} % "
                  f"over {100 * share:.0f} % of the pixels", flush=True)
    mean_err = float(np.mean([v["area_mean_error"] for v in per_frame.values()]))
    return {"dataset": str(dataset), "factor": factor, "frames": per_frame, "area_mean_error": mean_err,
            "area_mean_error_vs_target": mean_err / TARGET}


def run(quick: bool) -> dict:
    from bench.bench_training_biomes import _dataset

    work = ROOT / "build" / "bench_biomes" / "meadow"
    work.mkdir(parents=True, exist_ok=True)
    dataset, _ = _dataset("meadow", work, quick)
    if not (dataset / "scene.blend").exists():
        raise RuntimeError(f"{dataset} holds no scene.blend to render finer")
    return measure(dataset, 2 if quick else 4, _held_out_frames(dataset)[:1] if quick else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", nargs="?", help="a dataset folder with scene.blend (default: the bench's meadow)")
    ap.add_argument("--factor", type=int, default=4, help="sub-pixels per side (default 4)")
    args = ap.parse_args()
    result = run(False) if args.dataset is None else measure(Path(args.dataset), args.factor)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
