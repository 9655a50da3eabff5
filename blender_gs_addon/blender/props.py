"""Scene settings of the add-on: one PropertyGroup behind ``Scene.gaussian_scenes``."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

PRESET_ITEMS = [
    ("tiny", "Tiny", "Seconds to generate: a coarse terrain and a few cheap assets"),
    ("default", "Default", "A balanced natural scene"),
    ("large", "Large", "A big, detailed scene (slow)"),
]


class GS_PG_settings(bpy.types.PropertyGroup):
    """Everything the Gaussians sidebar edits, saved with the .blend."""

    preset: EnumProperty(name="Preset", description="Scene preset for the generator", items=PRESET_ITEMS,
                         default="tiny")
    seed: IntProperty(name="Seed", description="Random seed of the generated scene", default=0, min=0)
    dataset_dir: StringProperty(name="Dataset", description="Folder of the ground-truth dataset",
                                default="//dataset", subtype="DIR_PATH")
    samples: IntProperty(name="Samples", description="Render samples per pixel (0 = the scene's setting)",
                         default=0, min=0)
    overwrite: BoolProperty(name="Overwrite", description="Replace an existing complete dataset", default=False)
    train_dir: StringProperty(name="Output", description="Folder for the trained splats and checkpoints",
                              default="//splats", subtype="DIR_PATH")
    iterations: IntProperty(name="Iterations", description="Training iterations", default=7000, min=1)
    train_existing: EnumProperty(
        name="Existing Output", description="What Train does when the output folder holds an earlier run",
        items=[("CONTINUE", "Continue", "Continue the earlier run from its newest checkpoint"),
               ("REPLACE", "Replace", "Train anew; the earlier run stays until the new one is complete, "
                                      "and files the trainer did not write are kept")],
        default="CONTINUE")
    train_sky: EnumProperty(
        name="Sky", description="Model distant content (sky, clouds, far hills) by a shell of Gaussians far "
                                "outside the scene, saved in the same file and imported as its own object",
        items=[("auto", "Auto", "On, unless the images have alpha (objects on a transparent background)"),
               ("on", "On", "Always train a sky shell"), ("off", "Off", "No sky shell")],
        default="auto")
    train_depth_weight: FloatProperty(
        name="Depth Weight", description="Weight of the relative depth loss where the dataset has depth "
                                         "(0 = off)", default=1.0, min=0.0, soft_max=5.0)
    opacity_threshold: FloatProperty(name="Opacity Threshold",
                                     description="Only splats at least this opaque are shown as ellipsoids",
                                     default=0.5, min=0.0, max=1.0)
    # job status shown in the panel (written by the running operator)
    job_kind: StringProperty(name="Job", description="The running background job", default="")
    job_progress: FloatProperty(name="Progress", description="Progress of the running job",
                                default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    job_message: StringProperty(name="Status", description="Last message of the running job", default="")


classes = (GS_PG_settings,)


def register_properties() -> None:
    bpy.types.Scene.gaussian_scenes = bpy.props.PointerProperty(
        type=GS_PG_settings, name="Gaussian Scenes", description="Settings of the Gaussian Scenes add-on")


def unregister_properties() -> None:
    del bpy.types.Scene.gaussian_scenes
