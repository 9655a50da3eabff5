"""Training you can watch: the Train panel's live chart (loss and held-out PSNR) and the newest
preview render of a held-out view, both from the job's progress events (`jobs.LiveTraining`).

The chart is drawn with numpy (`trainer.plots.live_chart`); the panel shows it and the preview
as pictures of one `bpy.utils.previews` collection (`template_icon`) whose pixels are set from
numpy each time something new came (no file, no thumbnail cache). "Open in Image Editor" opens
the preview file there.
"""
from __future__ import annotations

import os

import bpy
import numpy as np

from procgen.render.png import read_png

from . import jobs

CHART, PREVIEW = "chart", "preview"  # keys in the previews collection
PREVIEW_IMAGE = "GS Training Preview"
CHART_SIZE = 256  # pixels, width and height
_icons = None  # the bpy.utils.previews collection, made on first use


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


def _show_icon(key: str, rgb: np.ndarray) -> None:
    """Picture ``key`` of the collection becomes ``rgb`` [H, W, 3 or 4] uint8 (rows top-down)."""
    icons = _collection()
    icon = icons.get(key) or icons.new(key)
    rgb = rgb[..., None] if rgb.ndim == 2 else rgb
    h, w = rgb.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = rgb[..., :3] / 255.0  # a grey picture's one channel fills all three
    if rgb.shape[2] == 4:
        rgba[..., 3] = rgb[..., 3] / 255.0
    icon.image_size = (w, h)
    icon.image_pixels_float.foreach_set(rgba[::-1].ravel())  # Blender's rows run bottom-up


def icon_of(key: str):
    """The picture of ``key`` (an ImagePreview), or None."""
    return None if _icons is None else _icons.get(key)


def refresh(live: jobs.LiveTraining) -> None:
    """Redraw the chart and re-read the preview after new points came."""
    from ..trainer.plots import live_chart

    _show_icon(CHART, live_chart(live.loss, live.test_psnr, CHART_SIZE, CHART_SIZE))
    if live.preview and os.path.isfile(live.preview):
        _show_icon(PREVIEW, read_png(live.preview))


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
