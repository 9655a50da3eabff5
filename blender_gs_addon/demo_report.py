"""The demo's report: ``report.html`` for people and ``report.png``, a one-picture summary.

bpy-free and torch-free: it reads what the stages wrote (dataset, metrics, renders) and
only arranges it. Every figure shown comes from files written in this run.
"""
from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path

import numpy as np

from procgen.core import atomic
from procgen.render.layout import preview_files
from procgen.render.png import read_png, write_png

TILE = 256  # edge of one picture in report.png


def _rgb8(img: np.ndarray) -> np.ndarray:
    """Any PNG's pixels -> [H, W, 3] uint8."""
    if img.dtype == np.uint16:
        img = (img // 257).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return img[:, :, :3]


def _fit(img: np.ndarray, size: int = TILE) -> np.ndarray:
    """Nearest-neighbour resize into a size x size tile, letterboxed on black. [H, W, 3] -> [size, size, 3]"""
    h, w = img.shape[:2]
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    ys = np.minimum((np.arange(nh) / s).astype(int), h - 1)
    xs = np.minimum((np.arange(nw) / s).astype(int), w - 1)
    tile = np.zeros((size, size, 3), np.uint8)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    tile[oy:oy + nh, ox:ox + nw] = img[ys][:, xs]
    return tile


def _grid(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Tiles [TILE, TILE, 3] in rows -> one picture with white gaps."""
    ncol = max(len(r) for r in rows)
    out = np.full((len(rows) * (TILE + gap) + gap, ncol * (TILE + gap) + gap, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            y, x = gap + i * (TILE + gap), gap + j * (TILE + gap)
            out[y:y + TILE, x:x + TILE] = tile
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 pictures [H, W, 3]."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0 ** 2
    return float("inf") if mse == 0 else float(-10.0 * np.log10(mse))


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _ground_truth_kinds(scene_dir: Path) -> list[tuple[str, Path]]:
    """Preview pictures of the first frame's ground truth, in a fixed order."""
    found = []
    first = sorted((scene_dir / "images").glob("*.png"))[:1]
    if not first:
        return found
    found.append(("RGB", first[0]))
    previews = preview_files(int(first[0].stem))
    for label, kind in [("depth", "depth"), ("forward flow", "flow_fwd"), ("instance segmentation", "instance"),
                        ("semantic segmentation", "semantic"), ("normals", "normals")]:
        if (scene_dir / previews[kind]).exists():
            found.append((label, scene_dir / previews[kind]))
    return found


def _held_out_views(views: list[dict], scene_dir: Path, splat_dir: Path, assets: Path):
    """(rows for the page, tiles for report.png, PSNRs) of Render Splats against ground truth per view."""
    view_rows, view_tiles, view_psnrs = [], [], []
    for view in views:
        gt = _rgb8(read_png(scene_dir / view["ground_truth"]))
        ours = _rgb8(read_png(splat_dir / view["render"]))
        diff = np.clip(np.abs(gt.astype(np.int16) - ours.astype(np.int16)) * 4, 0, 255).astype(np.uint8)
        diff_path = assets / f"diff_{Path(view['render']).stem}.png"
        write_png(diff_path, diff)
        p = psnr(gt, ours)
        view["psnr"] = p
        view_psnrs.append(p)
        view_rows.append((view, scene_dir / view["ground_truth"], splat_dir / view["render"], diff_path, p))
        view_tiles.append([_fit(gt), _fit(ours), _fit(diff)])
    return view_rows, view_tiles, view_psnrs


def _cycles_rows(views: list[dict], scene_dir: Path, splat_dir: Path) -> list[tuple]:
    """(view, cycles path, cycles picture, PSNR of Cycles against ground truth, PSNR of Cycles against
    Render Splats) for every view that Blender's own Cycles rendered (Blenders with native splats)."""
    rows = []
    for view in views:
        if not view.get("cycles"):
            continue
        gt = _rgb8(read_png(scene_dir / view["ground_truth"]))
        ours = _rgb8(read_png(splat_dir / view["render"]))
        cycles = _rgb8(read_png(splat_dir / view["cycles"]))
        rows.append((view, splat_dir / view["cycles"], cycles, psnr(gt, cycles), psnr(ours, cycles)))
    return rows


def _cycles_section(rows: list[tuple], splat_dir: Path, out: Path) -> list[str]:
    """HTML: Blender's Cycles render of its native splat object beside Render Splats, with PSNRs."""
    if not rows:
        return []
    samples = rows[0][0].get("cycles_samples", "?")
    body = [f"<h2>Blender's own splats in Cycles ({samples} samples, no denoiser) beside Render Splats</h2>",
            "<p>Blender draws the imported object as Gaussian splats itself; Cycles blends them in linear "
            "light, Render Splats (like the trainer) in display values.</p><table><tr><th>view</th>"
            "<th>Cycles vs ground truth</th><th>Render Splats vs ground truth</th><th>Cycles vs Render Splats</th>"
            "<th>Cycles time</th></tr>"]
    gt_psnrs = []
    for view, _, _, p_gt, p_ours in rows:
        gt_psnrs.append(p_gt)
        body.append(f"<tr><td>{html.escape(view['ground_truth'])}</td><td>{p_gt:.2f} dB</td>"
                    f"<td>{view['psnr']:.2f} dB</td><td>{p_ours:.2f} dB</td>"
                    f"<td>{view['cycles_seconds']:.1f} s</td></tr>")
    body.append(f"</table><p>mean PSNR of the Cycles native-splat images: {np.mean(gt_psnrs):.2f} dB</p>")
    for view, cycles_p, _, _, _ in rows:
        body.append(f"<img src='{_rel(splat_dir / view['render'], out)}'><img src='{_rel(cycles_p, out)}'>")
    return body


def write_report(out: Path, scene_dir: Path, train_dir: Path, splat_dir: Path, state: dict, args) -> tuple[Path, Path]:
    """Write ``out/report.html`` and ``out/report.png``; returns both paths."""
    assets = out / "report_assets"
    assets.mkdir(exist_ok=True)
    renders = json.loads((splat_dir / "done.json").read_text())
    metrics = json.loads((train_dir / "metrics.json").read_text())
    transforms = json.loads((scene_dir / "transforms.json").read_text())

    view_rows, view_tiles, view_psnrs = _held_out_views(renders["views"], scene_dir, splat_dir, assets)
    cycles_rows = _cycles_rows(renders["views"], scene_dir, splat_dir)
    for tiles, (_, _, cycles_img, _, _) in zip(view_tiles, cycles_rows):
        tiles.append(_fit(cycles_img))

    kinds = _ground_truth_kinds(scene_dir)
    kind_tiles = [_fit(_rgb8(read_png(p))) for _, p in kinds]
    rows = view_tiles[:3] + ([kind_tiles[:3], kind_tiles[3:6]] if kind_tiles else [])
    png_path = out / "report.png"
    write_png(png_path, _grid([r for r in rows if r]))

    curve = next((p for p in sorted(train_dir.glob("*.png")) if "curve" in p.name), None)
    stage_rows = []
    for name, entry in state.get("stages", {}).items():
        last = entry["runs"][-1]
        stage_rows.append(f"<tr><td>{html.escape(name)}</td><td>{last['seconds']:.1f} s</td>"
                          f"<td>{(last['peak_memory_mb'] or 0):.0f} MB</td><td>{len(entry['runs'])}</td>"
                          f"<td><code>{html.escape(entry.get('command', ''))}</code></td></tr>")

    def fmt(key, unit="", digits=2):
        v = metrics.get(key)
        return "n/a" if v is None else (f"{v:.{digits}f}{unit}" if isinstance(v, float) else f"{v}{unit}")

    depth_error = "n/a" if metrics.get("depth_error") is None else f"{100 * metrics['depth_error']:.2f} %"
    py = Path(sys.executable)
    body = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Gaussian Scenes demo report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}img{max-width:32%;margin:2px}"
        "td,th{padding:3px 10px;text-align:left}code{font-size:90%}</style></head><body>",
        "<h1>Gaussian Scenes demo report</h1>",
        f"<p>Scene seed {args.seed}, preset <b>{html.escape(args.preset)}</b>: "
        f"{transforms.get('w')}x{transforms.get('h')} pixels, {len(transforms['frames'])} frames of which "
        f"{len(transforms.get('test_filenames') or [])} held out; trained for {fmt('iterations', digits=0)} iterations "
        f"on <b>{html.escape(str(metrics.get('device', '?')))}</b>. Every figure below was measured in this run.</p>",
        "<h2>Held-out views: ground truth, splats, difference (x4)</h2>",
    ]
    for view, gt_p, ours_p, diff_p, p in view_rows:
        body.append(f"<p>{html.escape(view['ground_truth'])}: PSNR of this render {p:.2f} dB<br>"
                    f"<img src='{_rel(gt_p, out)}'><img src='{_rel(ours_p, out)}'><img src='{_rel(diff_p, out)}'></p>")
    body.append("<h2>Quality</h2><table>"
                f"<tr><th>held-out PSNR (trainer)</th><td>{fmt('psnr', ' dB')}</td></tr>"
                f"<tr><th>held-out SSIM (trainer)</th><td>{fmt('ssim', '', 4)}</td></tr>"
                f"<tr><th>held-out PSNR of the sky / of the rest</th><td>{fmt('psnr_sky', ' dB')} / "
                f"{fmt('psnr_rest', ' dB')}</td></tr>"
                f"<tr><th>held-out SSIM of the sky / of the rest</th><td>{fmt('ssim_sky', '', 4)} / "
                f"{fmt('ssim_rest', '', 4)}</td></tr>"
                f"<tr><th>depth error of the splats (median |rendered - true| / true depth)</th><td>"
                f"{depth_error}</td></tr>"
                f"<tr><th>mean PSNR of the Blender 'Render splats' images</th><td>"
                f"{(np.mean(view_psnrs) if view_psnrs else float('nan')):.2f} dB</td></tr>"
                f"<tr><th>Gaussians (of which the sky's)</th><td>{fmt('gaussians')} ({fmt('sky_gaussians')})"
                "</td></tr>"
                f"<tr><th>training wall time</th><td>{fmt('wall_time_s', ' s', 1)}</td></tr>"
                f"<tr><th>iterations per second</th><td>{fmt('iterations_per_s', '', 2)}</td></tr></table>")
    body += _cycles_section(cycles_rows, splat_dir, out)
    if curve:
        body.append(f"<h2>Loss and PSNR during training</h2><img style='max-width:70%' src='{_rel(curve, out)}'>")
    body.append("<h2>Ground truth of one frame</h2>")
    for label, p in kinds:
        body.append(f"<figure style='display:inline-block;margin:4px'><img style='max-width:250px' "
                    f"src='{_rel(p, out)}'><figcaption>{html.escape(label)}</figcaption></figure>")
    body.append("<h2>Stages</h2><table><tr><th>stage</th><th>wall time (last run)</th><th>peak memory</th>"
                "<th>runs</th><th>command</th></tr>" + "".join(stage_rows) + "</table>")
    body.append("<h2>Open it and re-run it</h2><pre>"
                + html.escape(f"blender {out / 'scene_with_splats.blend'}\n")
                + "".join(html.escape(e.get("command", "") + "\n") for e in state.get("stages", {}).values())
                + html.escape(f"{py} -m blender_gs_addon demo --out {out}\n") + "</pre></body></html>")
    html_path = out / "report.html"
    atomic.write_text(html_path, "\n".join(body))
    return html_path, png_path
