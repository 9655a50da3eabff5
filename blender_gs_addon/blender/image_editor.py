"""Showing a picture file in Blender's Image Editor (dataset ground truth, training previews)."""
from __future__ import annotations

import os

import bpy


def load_image(path: str, name: str) -> bpy.types.Image:
    """The image datablock ``name`` holding the file at ``path``, read afresh (the file may have
    changed since: a training preview is rewritten while the job runs)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such picture")
    image = bpy.data.images.get(name)
    if image is None or image.source != "FILE":
        image = bpy.data.images.load(path, check_existing=False)
        image.name = name
    elif os.path.abspath(bpy.path.abspath(image.filepath)) != path:
        image.filepath = path
    image.reload()
    return image


def image_editor_area(context):
    """An Image Editor on the screen; else the first window's, or None (background Blender)."""
    screens = [context.screen] if context.screen else []
    screens += [w.screen for w in context.window_manager.windows if w.screen]
    for screen in screens:
        for area in screen.areas:
            if area.type == "IMAGE_EDITOR":
                return area
    return None


def show_in_image_editor(context, path: str, name: str) -> tuple[bpy.types.Image, bool]:
    """Load ``path`` as image ``name`` and show it in an Image Editor; a new window holds one where
    the screen has none. -> (the image, whether an editor shows it)."""
    image = load_image(path, name)
    area = image_editor_area(context)
    if area is None and context.window is not None and not bpy.app.background:
        bpy.ops.wm.window_new()
        area = context.window_manager.windows[-1].screen.areas[0]
        area.type = "IMAGE_EDITOR"
    if area is None:
        return image, False
    area.spaces.active.image = image
    area.tag_redraw()
    return image, True
