"""Training you can watch: the Train panel's live chart (loss and held-out PSNR) and the newest
preview render of a held-out view, both from the job's progress events (`jobs.LiveTraining`).

The chart is drawn with numpy (`trainer.plots.live_chart`) into a PNG in the cache folder; the
panel shows it and the preview through one `bpy.utils.previews` collection (`template_icon`),
which reads each picture afresh when it changes. "Open in Image Editor" opens the preview there.
"""
from __future__ import annotations

import os

import bpy

from procgen.core.atomic import write_bytes
from procgen.render.png import encode_png

from . import jobs, torch_env

CHART, PREVIEW = "chart", "preview"  # keys in the previews collection
PREVIEW_IMAGE = "GS Training Preview"
CHART_SIZE = 256  # pixels, width and height: Blender shows pictures in panels as thumbnails of at most 256
_icons = None  # the bpy.utils.previews collection, made on first use


def chart_path() -> str:
    return os.path.join(torch_env.cache_dir(), "live", "training_chart.png")


def _collection():
    global _icons
    if _icons is None:
        import bpy.utils.previews

        _icons = bpy.utils.previews.new()
    return _icons


def release() -> None:
    """Free the pictures and forget the jobs' curves (on unregister)."""
    global _icons
    jobs.LIVE.clear()
    if _icons is not None:
        bpy.utils.previews.remove(_icons)
        _icons = None


def _show_icon(key: str, path: str) -> None:
    icons = _collection()
    if key in icons:
        del icons[key]
    icons.load(key, path, "IMAGE", force_reload=True)


def icon_of(key: str):
    """The loaded picture of ``key`` (an ImagePreview), or None."""
    return None if _icons is None else _icons.get(key)


def write_chart(live: jobs.LiveTraining, path: str) -> None:
    """The chart of ``live``'s points as a PNG at ``path`` (replaced atomically)."""
    from ..trainer.plots import live_chart

    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_bytes(path, encode_png(live_chart(live.loss, live.test_psnr, CHART_SIZE, CHART_SIZE)))


def refresh(live: jobs.LiveTraining) -> None:
    """Redraw the chart and re-read the preview after new points came."""
    path = chart_path()
    write_chart(live, path)
    _show_icon(CHART, path)
    if live.preview and os.path.isfile(live.preview):
        _show_icon(PREVIEW, live.preview)


def draw_live(layout, live: jobs.LiveTraining | None) -> None:
    """The chart and the preview of a training job, with the button that opens the preview."""
    if live is None or not (live.loss or live.test_psnr or live.preview):
        return
    col = layout.column(align=True)
    last = [f"loss {live.loss[-1][1]:.4f}" if live.loss else "",
            f"held-out {live.test_psnr[-1][1]:.2f} dB" if live.test_psnr else ""]
    col.label(text=", ".join(t for t in last if t) or "training", icon="GRAPH")
    chart = icon_of(CHART)
    if chart is not None:
        col.template_icon(icon_value=chart.icon_id, scale=8.0)
    preview = icon_of(PREVIEW)
    if preview is not None:
        col.label(text="Held-out view", icon="IMAGE_DATA")
        col.template_icon(icon_value=preview.icon_id, scale=8.0)
    row = col.row()
    row.enabled = bool(live.preview)
    row.operator("gs.open_training_preview", icon="IMAGE")


class GS_OT_open_training_preview(bpy.types.Operator):
    """Open the newest preview render of the training job's held-out view in the Image Editor"""

    bl_idname = "gs.open_training_preview"
    bl_label = "Open in Image Editor"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        live = jobs.LIVE.get("train")
        if live is not None and live.preview:
            return True
        cls.poll_message_set("No training preview yet (Train writes one every 'Preview Every' iterations)")
        return False

    def execute(self, context):
        from .image_editor import show_in_image_editor

        path = jobs.LIVE["train"].preview
        try:
            image, shown = show_in_image_editor(context, path, PREVIEW_IMAGE)
        except FileNotFoundError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{image.name}: {path}" + ("" if shown else " (no Image Editor to show it in)"))
        return {"FINISHED"}


classes = (GS_OT_open_training_preview,)
