"""Scene settings of the add-on: one PropertyGroup behind ``Scene.gaussian_scenes``."""
from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    IntVectorProperty,
    PointerProperty,
    StringProperty,
)

from . import option_props
from .option_props import GROUPS


def _browse_frame(settings, context) -> None:
    from .dataset_browser import jump_to_frame

    jump_to_frame(context, settings.browser_index, report=None)


class GS_PG_dataset_frame(bpy.types.PropertyGroup):
    """One frame of a browsed dataset: its image, pose and intrinsics as transforms.json gives them."""

    image: StringProperty(name="Image", description="The frame's RGB image", subtype="FILE_PATH")
    c2w: FloatVectorProperty(name="Camera to World", description="transform_matrix, row by row (OpenGL axes)",
                             size=16)
    intrinsics: FloatVectorProperty(name="Intrinsics", description="fl_x, fl_y, cx, cy in pixels", size=4)
    size: IntVectorProperty(name="Size", description="Image width and height in pixels", size=2)
    held_out: BoolProperty(name="Held Out", description="A test view of the dataset's split")


class GS_PG_settings(bpy.types.PropertyGroup):
    """Everything the Gaussians sidebar edits, saved with the .blend."""

    # every option of the panels' commands, built from their parsers (option_props)
    generate: PointerProperty(type=GROUPS["generate"], name="Generate", description="Options of `generate`")
    render: PointerProperty(type=GROUPS["render"], name="Render Dataset", description="Options of `render`")
    train: PointerProperty(type=GROUPS["train"], name="Train", description="Options of `train`")
    dataset_dir: StringProperty(name="Dataset", description="Folder of the ground-truth dataset",
                                default="//dataset", subtype="DIR_PATH")
    train_dir: StringProperty(name="Output", description="Folder for the trained splats and checkpoints",
                              default="//splats", subtype="DIR_PATH")
    train_existing: EnumProperty(
        name="Existing Output", description="What Train does when the output folder holds an earlier run",
        items=[("CONTINUE", "Continue", "Continue the earlier run from its newest checkpoint"),
               ("REPLACE", "Replace", "Train anew; the earlier run stays until the new one is complete, "
                                      "and files the trainer did not write are kept")],
        default="CONTINUE")
    # the dataset browser (dataset_browser.py)
    browser_frames: CollectionProperty(type=GS_PG_dataset_frame, name="Frames",
                                       description="The frames of the dataset loaded into the browser")
    browser_index: IntProperty(name="Frame", description="The browsed frame: the active camera jumps to it",
                               default=0, min=0, update=_browse_frame)
    browser_source: StringProperty(name="Camera File", description="The transforms.json the browser shows",
                                   default="", subtype="FILE_PATH")
    frustum_size: FloatProperty(name="Frustum Size", description="Depth of the drawn camera frusta (scene units; "
                                "0: a tenth of the cameras' spread)", default=0.0, min=0.0, soft_max=10.0)
    opacity_threshold: FloatProperty(name="Opacity Threshold",
                                     description="Only splats at least this opaque are shown as ellipsoids",
                                     default=0.5, min=0.0, max=1.0)
    # job status shown in the panel (written by the running operator)
    job_kind: StringProperty(name="Job", description="The running background job", default="")
    job_progress: FloatProperty(name="Progress", description="Progress of the running job",
                                default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    job_message: StringProperty(name="Status", description="Last message of the running job", default="")


classes = (*option_props.classes, GS_PG_dataset_frame, GS_PG_settings)


def register_properties() -> None:
    bpy.types.Scene.gaussian_scenes = bpy.props.PointerProperty(
        type=GS_PG_settings, name="Gaussian Scenes", description="Settings of the Gaussian Scenes add-on")


def unregister_properties() -> None:
    del bpy.types.Scene.gaussian_scenes
