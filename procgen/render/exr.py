"""Read the passes of a multilayer EXR written by a Cycles render (rows top-down)."""
from __future__ import annotations

import os

import numpy as np

# pass name in the file -> channel suffixes, in the order we stack them
PASS_CHANNELS = {
    "Combined": ("R", "G", "B", "A"),
    "Depth": ("Z",),
    "Vector": ("X", "Y", "Z", "W"),
    "Normal": ("X", "Y", "Z"),
    "IndexOB": ("X",),
    "IndexMA": ("X",),
    "DiffCol": ("R", "G", "B"),
}
# names the same passes carry in other Blender versions (5.0 spells the index passes out)
PASS_ALIASES = {"IndexOB": ("Object Index",), "IndexMA": ("Material Index",), "DiffCol": ("Diffuse Color",)}


def read_channels(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every channel of every part of an EXR file: full name -> [H, W] array."""
    import OpenEXR

    try:
        f = OpenEXR.File(os.fspath(path), separate_channels=True)
    except Exception as exc:  # the binding raises bare exceptions: name the file
        raise OSError(f"{os.fspath(path)}: cannot read EXR ({exc})") from exc
    out: dict[str, np.ndarray] = {}
    for part in f.parts:
        for name, channel in part.channels.items():
            out[name] = np.asarray(channel.pixels)
    return out


def read_passes(path: str | os.PathLike, layer: str | None = None) -> dict[str, np.ndarray]:
    """Render passes of a multilayer EXR: pass name -> [H, W] (one channel) or [H, W, C] float32.

    ``layer`` is the view layer name (the part before the first dot); by default the
    layer of the first channel found. Passes missing from the file are missing from the dict.
    """
    channels = read_channels(path)
    if not channels:
        raise OSError(f"{os.fspath(path)}: EXR has no channels")
    if layer is None:
        layer = next(iter(sorted(channels))).split(".", 1)[0]
    out: dict[str, np.ndarray] = {}
    for pass_name, suffixes in PASS_CHANNELS.items():
        for spelling in (pass_name, *PASS_ALIASES.get(pass_name, ())):
            names = [f"{layer}.{spelling}.{s}" for s in suffixes]
            if all(n in channels for n in names):
                break
        else:
            continue
        planes = [channels[n].astype(np.float32, copy=False) for n in names]
        out[pass_name] = planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)
    return out
