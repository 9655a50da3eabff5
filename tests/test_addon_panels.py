"""The Generate, Render Dataset and Train panels hold every option of their command, built from its
parser; the panels' values come back through the real parser unchanged; the panels draw into a
real Blender layout; a training job's live chart and held-out preview reach the Train panel."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from blender_gs_addon.blender import jobs, option_props, training_view
from blender_gs_addon.command_options import (
    COMMON_EXCLUDED,
    EXCLUDED,
    PANEL_COMMANDS,
    all_options,
    argv_of,
    parse,
    subcommand_parser,
    uncovered,
)
from procgen.render.png import read_png

pytestmark = [pytest.mark.blender, pytest.mark.usefixtures("registered_addon")]
ROOT = Path(__file__).resolve().parents[1]
# positional arguments and required options each command needs beside the panel's own
REQUIRED = {"generate": ["--out", "x"], "render": ["x.blend", "--out", "x"], "train": ["x", "--out", "x"]}


def _group(command: str):
    return getattr(bpy.context.scene.gaussian_scenes, command)


@pytest.mark.parametrize("command", PANEL_COMMANDS)
def test_every_cli_option_has_a_panel_field_or_a_stated_reason(command):
    group = _group(command)
    fields = set(group.bl_rna.properties.keys())
    assert uncovered(command, fields) == []
    # each exclusion names an option the command has, with a reason
    dests = {a.dest for a in subcommand_parser(command)._actions}
    for dest, reason in {**COMMON_EXCLUDED, **EXCLUDED[command]}.items():
        assert dest in dests and len(reason) > 20, dest
    # a field never also claims an excluded option
    assert not fields & set(EXCLUDED[command])


@pytest.mark.parametrize("command", PANEL_COMMANDS)
def test_fields_follow_the_parser(command):
    """Type, choices, bounds, default and help of every field are the option's own."""
    kinds = {"bool": "BOOLEAN", "int": "INT", "float": "FLOAT", "string": "STRING", "enum": "ENUM", "flags": "ENUM"}
    assert [o.dest for o in _group(command).options] == [
        o.dest for o in all_options(command) if o.dest not in {**COMMON_EXCLUDED, **EXCLUDED[command]}]
    for option in _group(command).options:
        action = next(a for a in subcommand_parser(command)._actions if a.dest == option.dest)
        prop = _group(command).bl_rna.properties[option.dest]
        assert prop.type == kinds[option.kind] and prop.description == action.help
        if action.choices is not None:
            items = [i.identifier for i in prop.enum_items if i.identifier != option_props.DEFAULT_ITEM]
            assert items == [str(c) for c in action.choices]
        if option.kind == "flags":
            assert prop.is_enum_flag and {i.identifier for i in prop.enum_items} == set(action.default)
        if option.kind in ("int", "float"):
            lo = getattr(action.type, "minimum", None)
            assert prop.hard_min == pytest.approx(lo if lo is not None else prop.hard_min, rel=1e-6)  # float32
            assert prop.array_length == (action.nargs if isinstance(action.nargs, int) else 0)
        if action.default is None and option.kind not in ("bool", "enum") and option.panel_default is None:
            assert f"use_{option.dest}" in _group(command).bl_rna.properties  # set only when asked


def _non_default(option, prop, rng):
    """A value for the field that differs from the command's default, within the option's bounds."""
    if option.kind == "bool":
        return True
    if option.kind == "flags":
        return set(option.choices[:3])
    if option.kind == "enum":
        return next(c for c in option.choices if c != option.default)
    if option.kind == "string":
        return "Scene.001"
    lo = option.minimum if option.minimum is not None else 0
    values = [lo + int(rng.integers(1, 50)) for _ in range(prop.array_length or 1)]
    if option.kind == "float":
        values = [v + 0.25 for v in values]
    return tuple(values) if prop.array_length else values[0]


@pytest.mark.parametrize("command", PANEL_COMMANDS)
def test_panel_values_come_back_through_the_real_parser(command):
    group = _group(command)
    rng = np.random.default_rng(3)
    expected = {}
    for option in group.options:
        prop = group.bl_rna.properties[option.dest]
        value = _non_default(option, prop, rng)
        setattr(group, option.dest, value)
        if option_props.has_toggle(option):
            setattr(group, "use_" + option.dest, True)
        expected[option.dest] = value
    args = parse(command, REQUIRED[command] + option_props.argv_from(group))
    for option in group.options:
        got, want = getattr(args, option.dest), expected[option.dest]
        if option.kind == "flags":
            got, want = set(got), set(want)
        elif option.kind == "enum":
            got = str(got)
        elif option.dest == "seed" and command == "generate":  # nargs="+": one seed in a panel
            got = got[0]
        elif isinstance(want, tuple):
            got = tuple(got)
        assert got == pytest.approx(want) if option.kind in ("int", "float") else got == want, option.dest


def test_defaults_pass_only_what_differs_from_the_command():
    argv = {c: option_props.argv_from(_group(c)) for c in PANEL_COMMANDS}
    assert argv == {"generate": ["--seed", "0", "--preset", "tiny"], "render": [], "train": ["--preview-every", "100"]}
    # an option left to the command stays out even with a value in its field
    group = _group("render")
    group.samples, group.use_samples = 12, False
    assert "--samples" not in option_props.argv_from(group)
    group.use_samples = True
    assert option_props.argv_from(group) == ["--samples", "12"]
    group.passes = set()
    assert option_props.argv_from(group)[-2:] == ["--passes", "none"]
    assert parse("render", REQUIRED["render"] + option_props.argv_from(group)).passes == ()
    assert argv_of(group.options, {"max_points": 100_000}) == []  # the command's default


@pytest.fixture
def preferences(registered_addon):
    """The add-on's preferences (an add-on entry as Blender's add-on manager makes one)."""
    from blender_gs_addon.blender import addon_package

    entry = bpy.context.preferences.addons.new()
    entry.module = addon_package.ADDON_PACKAGE
    yield addon_package.preferences()
    bpy.context.preferences.addons.remove(entry)


def test_train_argv_takes_the_preferences_device_only_for_auto(preferences):
    from blender_gs_addon.blender.ops_jobs import train_argv

    prefs = preferences
    prefs.device = "cpu"
    assert train_argv(bpy.context)[train_argv(bpy.context).index("--device") + 1] == "cpu"
    _group("train").device = "cuda"
    assert train_argv(bpy.context)[train_argv(bpy.context).index("--device") + 1] == "cuda"
    prefs.device = "auto"
    _group("train").device = "auto"
    assert "--device" not in train_argv(bpy.context, iterations=50)
    assert train_argv(bpy.context, iterations=50)[:2] == ["--iterations", "50"]


def test_generate_operator_builds_the_scene_of_the_panel_options():
    group = _group("generate")
    group.use_frames, group.frames = True, 3
    group.use_resolution, group.resolution = True, (48, 32)
    group.biome, group.trajectory = "meadow", "orbit"
    assert bpy.ops.gs.generate(seed=5) == {"FINISHED"}
    scene = bpy.context.scene
    info = json.loads(scene["gs_scene_info"])
    assert info["config"]["seed"] == 5 and info["config"]["preset"] == "tiny"
    assert info["biome"]["name"] == "meadow" and info["camera"]["trajectory"] == "orbit"
    assert scene.frame_end - scene.frame_start + 1 == 3
    assert (scene.render.resolution_x, scene.render.resolution_y) == (48, 32)


_DRAW_CHILD = r"""
import json, os, sys, traceback
import bpy
import blender_gs_addon
from blender_gs_addon.blender import jobs, panels, training_view
blender_gs_addon.register()
s = bpy.context.scene.gaussian_scenes
for c in ("generate", "render", "train"):
    getattr(s, c).show_advanced = True
live = jobs.LIVE["train"] = jobs.LiveTraining()
for i in range(1, 6):
    live.add({"event": "progress", "stage": "train", "done": 10 * i, "total": 50, "loss": 1.0 / i,
              "test_psnr": 15.0 + i, "preview": sys.argv[2]})
training_view.refresh(live)
s.dataset_dir = sys.argv[3]
bpy.ops.gs.dataset_load()
# an active splat object, so that the Splats and Edit Splats panels draw their object's rows
from blender_gs_addon.blender import api, ops_edit
from blender_gs_addon.splats.synthetic import random_splats
obj = api.object_from_splats(random_splats(50, degree=1), "Splats")
bpy.context.view_layer.objects.active = obj
draws = {**panels.DRAWS, "edit": lambda layout, context: ops_edit.VIEW3D_PT_gs_edit_splats.draw(
    type("P", (), {"layout": layout})(), context)}
drawn = {}

def draw(menu, context):
    # Blender crashes after a popup is built in background mode, so report and leave from in here
    for name, fn in draws.items():
        try:
            fn(menu.layout, context)
            drawn[name] = "ok"
        except Exception:
            drawn[name] = traceback.format_exc()
    with open(sys.argv[1], "w") as fh:
        icons = {k: list(training_view.icon_of(k).image_size) for k in ("chart", "preview")}
        json.dump({"drawn": drawn, "icons": icons}, fh)
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)

win = bpy.context.window_manager.windows[0]
area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
region = next(r for r in area.regions if r.type == "UI")
with bpy.context.temp_override(window=win, area=area, region=region):  # the sidebar, where the panels live
    bpy.context.window_manager.popup_menu(draw, title="panels")
"""


def _dataset(folder: Path) -> Path:
    from procgen.render.png import write_png

    (folder / "images").mkdir(parents=True)
    frames = []
    for i in range(3):
        write_png(folder / "images" / f"{i:05d}.png", np.full((12, 16, 3), 40 * i, np.uint8))
        c2w = np.eye(4)
        c2w[0, 3] = i
        frames.append({"file_path": f"images/{i:05d}.png", "transform_matrix": c2w.tolist()})
    (folder / "transforms.json").write_text(json.dumps({"fl_x": 20.0, "fl_y": 20.0, "cx": 8, "cy": 6,
                                                        "w": 16, "h": 12, "frames": frames}))
    return folder


def test_panels_draw_into_a_real_blender_layout(tmp_path):
    """Each panel's draw function, every fold open, in a real UILayout (a popup's: the only layout the
    background Blender makes); nothing raises and Blender reports no unknown property or operator."""
    from procgen.render.png import write_png

    preview = tmp_path / "preview.png"
    write_png(preview, np.zeros((24, 40, 3), np.uint8))
    result = tmp_path / "drawn.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    argv = [str(result), str(preview), str(_dataset(tmp_path / "d"))]
    proc = subprocess.run([sys.executable, "-c", _DRAW_CHILD, *argv], capture_output=True, text=True, timeout=300,
                          env=env, cwd=ROOT)
    assert result.exists(), proc.stdout + proc.stderr
    out = json.loads(result.read_text())
    panels_drawn = ("generate", "render", "train", "browser", "splats", "edit")
    assert out["drawn"] == dict.fromkeys(panels_drawn, "ok"), out["drawn"]
    # popups have no layout panels: the folds fall back to toggles there (Blender says so, once per fold)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if ("not found" in line or "Traceback" in line or "Error" in line) and "icon" not in line
                and "Layout panels can not be used in this context" not in line]
    assert problems == []
    size = training_view.CHART_SIZE
    assert out["icons"] == {"chart": [size, size], "preview": [40, 24]}


def _line_rows(half: np.ndarray, colour) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(np.all(half == colour, axis=-1))
    return rows, cols


@pytest.mark.parametrize("size", [256, 320])
def test_chart_pixels_follow_the_points(size):
    """Each point of the chart lies on its curve where a linear (PSNR) or logarithmic (loss) axis
    spanning the curve's own pixel extent puts it."""
    from blender_gs_addon.trainer.plots import live_chart

    loss = [(10 * i, 0.5 * 0.8 ** i + 0.01 * (i % 3)) for i in range(1, 21)]
    psnr = [(50 * i, 15 + 3 * np.sqrt(i)) for i in range(1, 5)]
    img = live_chart(loss, psnr, size, size)
    assert img.shape == (size, size, 3)
    for half, points, colour, scale in ((img[:size // 2], loss, (200, 30, 30), np.log10),
                                        (img[size // 2:], psnr, (30, 60, 200), lambda v: v)):
        rows, cols = _line_rows(half, colour)
        its, vals = np.array([p[0] for p in points], float), scale(np.array([p[1] for p in points]))
        left, right, top, bottom = cols.min(), cols.max(), rows.min(), rows.max() - 1  # lines are 2 px thick
        for it, v in zip(its, vals):
            col = int(round(left + (it - its[0]) / (its[-1] - its[0]) * (right - left)))
            want = top + (vals.max() - v) / (vals.max() - vals.min()) * (bottom - top)
            assert np.abs(rows[cols == col] - want).min() <= 1.0, (it, v)


def _synthetic_dataset(tmp_path, training_python: str) -> Path:
    dataset = tmp_path / "dataset"
    code = ("import sys\nfrom blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset\n"
            "write_transforms_dataset(make_scene(n_gaussians=40, n_views=9, size=24), sys.argv[1], n_points=100)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([training_python, "-c", code, str(dataset)], env=env, check=True, timeout=300)
    return dataset


def _icon_pixels(key: str) -> np.ndarray:
    """The panel's picture ``key`` as [H, W, 3] uint8, rows top-down."""
    icon = training_view.icon_of(key)
    w, h = icon.image_size
    flat = np.empty(w * h * 4, np.float32)
    icon.image_pixels_float.foreach_get(flat)
    return np.round(flat.reshape(h, w, 4)[::-1, :, :3] * 255).astype(np.uint8)


def test_train_job_charts_its_curves_and_opens_its_preview(tmp_path, training_python, monkeypatch):
    from blender_gs_addon.trainer.plots import live_chart

    monkeypatch.setenv("GS_TRAINING_PYTHON", training_python)
    dataset, out = _synthetic_dataset(tmp_path, training_python), tmp_path / "out"
    group = _group("train")
    group.preview_every, group.sky = 10, "off"
    assert not bpy.ops.gs.open_training_preview.poll()  # nothing to open before a job
    assert bpy.ops.gs.train(dataset=str(dataset), out_dir=str(out), iterations=20) == {"FINISHED"}
    live = jobs.LIVE["train"]
    assert [it for it, _ in live.test_psnr] == [10, 20] and [it for it, _ in live.loss] == [10, 20]
    metrics = json.loads((out / "metrics.json").read_text())
    assert live.test_psnr[-1][1] == pytest.approx(metrics["psnr"])
    # the panel's pictures: the chart of those points, and the newest preview
    size = training_view.CHART_SIZE
    np.testing.assert_array_equal(_icon_pixels("chart"), live_chart(live.loss, live.test_psnr, size, size))
    np.testing.assert_array_equal(_icon_pixels("preview"), read_png(live.preview)[..., :3])
    # Open in Image Editor: the preview's pixels in the screen's Image Editor
    area = next(a for a in bpy.context.window_manager.windows[0].screen.areas if a.type != "VIEW_3D")
    area.type = "IMAGE_EDITOR"
    assert bpy.ops.gs.open_training_preview() == {"FINISHED"}
    image = area.spaces.active.image
    assert image is not None and image.name == training_view.PREVIEW_IMAGE
    pixels = np.array(image.pixels[:]).reshape(24, 24, -1)[::-1, :, :3]  # Blender's rows run bottom-up
    np.testing.assert_array_equal(np.round(pixels * 255).astype(np.uint8), read_png(live.preview)[..., :3])
