"""The sky's rows in a splat file: which splats belong to the trainer's sky shell.

The trainer writes the shell's Gaussians after the scene's, each with the per-splat property
`sky` = 1 (0 for the scene's): a float column beside the standard ones, which readers that
take properties by name ignore. Everything here is numpy only.
"""
from __future__ import annotations

import numpy as np

from .data import SplatData

SKY_PROPERTY = "sky"


def with_sky(scene: SplatData, sky: SplatData) -> SplatData:
    """One SplatData: the scene's rows then the sky's (its SH padded with zeros to the scene's degree),
    marked by the `sky` column."""
    k1 = scene.sh_rest.shape[1]
    rest = np.zeros((len(sky), k1, 3), np.float32)
    m = min(k1, sky.sh_rest.shape[1])
    rest[:, :m] = sky.sh_rest[:, :m]

    def cat(a, b):
        return np.ascontiguousarray(np.concatenate([a, b]).astype(np.float32))

    normals = None
    if scene.normals is not None:
        normals = cat(scene.normals, np.zeros((len(sky), 3), np.float32) if sky.normals is None else sky.normals)
    mark = cat(np.zeros(len(scene), np.float32), np.ones(len(sky), np.float32))
    return SplatData(means=cat(scene.means, sky.means), scales_log=cat(scene.scales_log, sky.scales_log),
                     quats=cat(scene.quats, sky.quats), opacity_logit=cat(scene.opacity_logit, sky.opacity_logit),
                     sh_dc=cat(scene.sh_dc, sky.sh_dc), sh_rest=cat(scene.sh_rest, rest), normals=normals,
                     extra={SKY_PROPERTY: mark})


def sky_mask(data: SplatData) -> np.ndarray | None:
    """[N] bool of the sky's splats, or None when the data has no `sky` column."""
    col = data.extra.get(SKY_PROPERTY)
    return None if col is None else np.asarray(col) > 0.5


def split_sky(data: SplatData) -> tuple[SplatData, SplatData | None]:
    """(the scene's splats, the sky's or None); neither keeps the `sky` column when split."""
    mask = sky_mask(data)
    if mask is None:
        return data, None

    def part(sel):
        sub = data.subset(sel)
        sub.extra = {k: v for k, v in sub.extra.items() if k != SKY_PROPERTY}
        sub.layout = None if data.layout is None else [p for p in data.layout if p[0] != SKY_PROPERTY]
        return sub

    return part(~mask), (part(mask) if mask.any() else None)


def without_sky(data: SplatData) -> SplatData:
    """The scene's splats only (all of them when the data marks no sky)."""
    return split_sky(data)[0]
