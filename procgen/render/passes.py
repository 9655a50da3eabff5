"""Cycles settings for the two renders of a frame, and the render call itself.

- RGB render: the requested samples, the scene's pixel filter, the denoiser; written by
  Blender as an 8-bit PNG through the scene's colour management (view transform, look).
- Ground-truth render: 1 sample through the pixel centre (box filter of width 0.01 px),
  no denoiser, volume-only objects hidden (fog is not a surface), passes z / vector / normal / object index /
  material index (and diffuse colour for the albedo pass), written as a 32-bit multilayer EXR.
  One sample means edge pixels never blend depth, flow or ids.

Every setting changed is recorded in a ``Settings`` snapshot and restored afterwards, so a
user's scene keeps its own render settings.
"""
from __future__ import annotations

import contextlib
import os
import sys

import bpy

GT_PASSES = ("use_pass_z", "use_pass_vector", "use_pass_normal", "use_pass_object_index", "use_pass_material_index")
ALBEDO_PASS = "use_pass_diffuse_color"  # Cycles' diffuse colour: DiffCol (4.x) / "Diffuse Color" (5.x) in the EXR
GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")


class Settings:
    """Set attributes and remember their first value, to put everything back with ``restore()``."""

    def __init__(self):
        self._saved: list[tuple[object, str, object]] = []
        self._seen: set[tuple[int, str]] = set()

    def set(self, owner, attr: str, value) -> None:
        key = (owner.as_pointer() if hasattr(owner, "as_pointer") else id(owner), attr)
        if key not in self._seen:
            self._seen.add(key)
            self._saved.append((owner, attr, getattr(owner, attr)))
        if getattr(owner, attr) != value:
            setattr(owner, attr, value)

    def original(self, owner, attr: str):
        key = (owner.as_pointer() if hasattr(owner, "as_pointer") else id(owner), attr)
        for o, a, v in self._saved:
            if (o.as_pointer() if hasattr(o, "as_pointer") else id(o), a) == key:
                return v
        return getattr(owner, attr)

    def restore(self) -> None:
        failed = []
        for owner, attr, value in reversed(self._saved):
            try:
                setattr(owner, attr, value)
            except (AttributeError, TypeError, ReferenceError):
                failed.append((owner, attr, value))
        for owner, attr, value in failed:  # once more: some depend on others (file format on media type)
            try:
                setattr(owner, attr, value)
            except (AttributeError, TypeError, ReferenceError):
                pass  # the owner went away or turned read-only: nothing to restore
        self._saved.clear()
        self._seen.clear()


def choose_device(scene, settings: Settings, device: str = "auto") -> str:
    """Use a GPU for Cycles where one is available (``device`` 'auto' or 'gpu'), else the CPU.

    Returns the backend used: 'CPU', 'CUDA', 'OPTIX', ...
    """
    device = device.lower()
    if device == "cpu":
        settings.set(scene.cycles, "device", "CPU")
        return "CPU"
    try:
        prefs = bpy.context.preferences.addons["cycles"].preferences
    except (KeyError, AttributeError):
        prefs = None
    if prefs is not None:
        for backend in GPU_BACKENDS:
            try:
                settings.set(prefs, "compute_device_type", backend)
            except (TypeError, ValueError):
                continue  # this build of Blender has no such backend
            try:
                refresh = getattr(prefs, "refresh_devices", None) or prefs.get_devices
                refresh()
            except Exception:
                continue
            gpus = [d for d in prefs.devices if d.type == backend]
            if gpus:
                for d in prefs.devices:
                    settings.set(d, "use", d.type == backend)
                settings.set(scene.cycles, "device", "GPU")
                return backend
        settings.set(prefs, "compute_device_type", settings.original(prefs, "compute_device_type"))
    if device == "gpu":
        raise RuntimeError("no GPU that Cycles can use was found (asked for --device gpu)")
    settings.set(scene.cycles, "device", "CPU")
    return "CPU"


def configure_common(scene, view_layer, settings: Settings) -> None:
    """Settings both renders share: Cycles, no motion blur (the vector pass needs it off), no compositing."""
    r = scene.render
    settings.set(r, "engine", "CYCLES")
    settings.set(r, "use_motion_blur", False)
    settings.set(r, "use_border", False)  # a render region would crop the image away from the intrinsics
    settings.set(r, "use_compositing", False)
    settings.set(r, "use_sequencer", False)
    settings.set(r, "use_persistent_data", True)
    settings.set(r, "use_file_extension", True)
    settings.set(view_layer, "use", True)


def configure_rgb(scene, view_layer, settings: Settings, samples: int, denoise: bool = True) -> None:
    c = scene.cycles
    settings.set(c, "samples", int(samples))
    # The ground-truth render of the frame before turned these off: every setting it changes comes back.
    settings.set(c, "use_adaptive_sampling", settings.original(c, "use_adaptive_sampling"))
    settings.set(c, "pixel_filter_type", settings.original(c, "pixel_filter_type"))
    settings.set(c, "filter_width", settings.original(c, "filter_width"))
    settings.set(c, "use_denoising", bool(denoise))
    if denoise and "OPENIMAGEDENOISE" in c.bl_rna.properties["denoiser"].enum_items.keys():
        settings.set(c, "denoiser", "OPENIMAGEDENOISE")
    for p in (*GT_PASSES, ALBEDO_PASS):
        settings.set(view_layer, p, False)
    for ob in volume_only_objects(scene):
        settings.set(ob, "hide_render", settings.original(ob, "hide_render"))
    im = scene.render.image_settings
    if hasattr(im, "media_type"):  # 5.0: still image vs multilayer is a separate setting
        settings.set(im, "media_type", "IMAGE")
    settings.set(im, "file_format", "PNG")
    settings.set(im, "color_mode", "RGB")
    settings.set(im, "color_depth", "8")


def configure_gt(scene, view_layer, settings: Settings, albedo: bool = False) -> None:
    """``albedo``: also Cycles' diffuse colour pass (the albedo pass of the dataset)."""
    c = scene.cycles
    settings.set(c, "samples", 1)
    settings.set(c, "use_adaptive_sampling", False)
    settings.set(c, "use_denoising", False)
    settings.set(c, "pixel_filter_type", "BOX")
    settings.set(c, "filter_width", 0.01)  # the one sample lands on the pixel centre
    for p in GT_PASSES:
        settings.set(view_layer, p, True)
    settings.set(view_layer, ALBEDO_PASS, bool(albedo))
    # Volumes (fog) are not surfaces: a single sample scattered in one would leave its pixel
    # without depth, flow or id, so the ground-truth render leaves them out.
    for ob in volume_only_objects(scene):
        settings.set(ob, "hide_render", True)
    im = scene.render.image_settings
    if hasattr(im, "media_type"):
        settings.set(im, "media_type", "MULTI_LAYER_IMAGE")
    settings.set(im, "file_format", "OPEN_EXR_MULTILAYER")
    settings.set(im, "color_depth", "32")
    settings.set(im, "exr_codec", "ZIP")


def _volume_only(mat) -> bool:
    """A material whose output shades a volume and no surface (fog, smoke)."""
    tree = getattr(mat, "node_tree", None)
    if tree is None:
        return False
    outs = [n for n in tree.nodes if n.type == "OUTPUT_MATERIAL"]
    return bool(outs) and all(o.inputs["Volume"].is_linked and not o.inputs["Surface"].is_linked for o in outs)


def volume_only_objects(scene) -> list:
    """Mesh objects of ``scene`` whose every material is volume-only: no surface to see."""
    out = []
    for ob in scene.objects:
        if ob.type != "MESH":
            continue
        mats = [s.material for s in ob.material_slots]
        if mats and all(m is not None and _volume_only(m) for m in mats):
            out.append(ob)
    return out



def save_linear_exr(scene, settings: Settings, path: str) -> None:
    """Save the last render's Combined pass as a scene-linear RGBA float EXR."""
    im = scene.render.image_settings
    settings.set(im, "file_format", "OPEN_EXR")
    settings.set(im, "color_mode", "RGBA")
    settings.set(im, "color_depth", "32")
    bpy.data.images["Render Result"].save_render(filepath=path, scene=scene)


@contextlib.contextmanager
def quiet_stdout(enabled: bool = True):
    """Silence Blender's per-sample status lines (printed by C code on file descriptor 1)."""
    if not enabled:
        yield
        return
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield  # no real stdout to silence (e.g. inside Blender's UI)
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def render_still(scene, view_layer, path: str, quiet: bool = True) -> None:
    """Render the current frame of ``scene`` (one view layer) and write it to ``path`` (extension included)."""
    scene.render.filepath = path  # restored by the caller's Settings (recorded before the first render)
    with quiet_stdout(quiet):
        result = bpy.ops.render.render(write_still=True, scene=scene.name, layer=view_layer.name)
    if "CANCELLED" in result:  # Blender's own break (Ctrl-C in a Blender binary, Esc in the UI)
        raise KeyboardInterrupt(f"render of frame {scene.frame_current} was cancelled")
    if "FINISHED" not in result or not os.path.exists(path):
        raise RuntimeError(f"Cycles render of frame {scene.frame_current} did not write {path}")
