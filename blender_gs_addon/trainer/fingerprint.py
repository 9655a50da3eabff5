"""What a checkpoint belongs to: its dataset (views, cameras, sizes, pixels) and its run's settings.

Each checkpoint stores both; ``--resume`` compares them with the present dataset and options
and refuses a checkpoint of another dataset or of other settings, saying what differs.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict

import numpy as np

# TrainConfig fields that change what the rest of a run computes -> the option that sets each
SETTINGS = {"iterations": "--iterations", "sh_degree": "--sh-degree", "seed": "--seed",
            "background": "--background", "depth_weight": "--depth-weight", "max_gaussians": "--max-gaussians",
            "downscale": "--downscale", "random_points": "random points", "densify": "densification settings",
            "strategy": "--strategy", "mcmc": "densification settings",
            "sky": "--sky and the sky settings"}
# nested settings added after checkpoints began to record their settings -> what every run of an
# older version did, so that its checkpoints stay resumable
ADDED_LATER = {("densify", "signal"): "grad"}
_SHOWN = 3  # differences named in a message; the rest are counted


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def dataset_fingerprint(data) -> dict:
    """Layout and, per view, its split, size, camera (pose and intrinsics) and pixels (as digests)."""
    views = {}
    for split, cams in (("train", data.train), ("test", data.test)):
        for c in cams:
            views[c.name] = {"split": split, "size": [int(c.width), int(c.height)],
                             "camera": _digest(c.viewmat.astype(np.float32), c.K.astype(np.float32)),
                             "pixels": _digest(c.image, *(() if c.alpha is None else (c.alpha,)))}
    return {"layout": data.layout, "views": views}


def settings_fingerprint(cfg) -> dict:
    nested = ("densify", "mcmc", "sky")
    return {key: (asdict(getattr(cfg, key)) if key in nested else getattr(cfg, key)) for key in SETTINGS}


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(f"'{n}'" for n in names[:_SHOWN]) + more


def dataset_differences(stored: dict, now: dict) -> list[str]:
    """Human-readable differences between a checkpoint's dataset fingerprint and the present one."""
    out = []
    if stored["layout"] != now["layout"]:
        out.append(f"layout {now['layout']} now, {stored['layout']} in the checkpoint")
    old, new = stored["views"], now["views"]
    gone, added = [n for n in old if n not in new], [n for n in new if n not in old]
    if gone or added:
        out.append(f"{len(new)} views now, {len(old)} in the checkpoint")
    if gone:
        out.append(f"views missing now: {_listed(gone)}")
    if added:
        out.append(f"views not in the checkpoint: {_listed(added)}")
    for what, label in (("size", "image size"), ("split", "train/test split"), ("camera", "camera pose or intrinsics"),
                        ("pixels", "image content")):
        changed = [n for n in new if n in old and old[n][what] != new[n][what]]
        if changed:
            detail = ""
            if what in ("size", "split"):
                a, b = old[changed[0]][what], new[changed[0]][what]
                shown = (lambda s: f"{s[0]}x{s[1]}") if what == "size" else str
                detail = f" (first: {shown(b)} now, {shown(a)} in the checkpoint)"
            out.append(f"{label} differs for {_listed(changed)}{detail}")
    return out


def settings_differences(stored: dict, now: dict) -> list[str]:
    out = []
    for key, option in SETTINGS.items():
        if key in stored and stored[key] != now[key]:
            if isinstance(now[key], dict):
                keys = [k for k in now[key] if stored[key].get(k, ADDED_LATER.get((key, k))) != now[key][k]]
                if keys:
                    out.append(f"{option} differ ({', '.join(keys)})")
            else:
                out.append(f"{option} {now[key]} now, {stored[key]} in the checkpoint")
    return out


def resume_problem(ck: dict, now: dict, path: str, trust_old: bool) -> str | None:
    """Why the checkpoint ``ck`` (read from ``path``) must not be resumed with the fingerprint ``now``, or None."""
    stored = ck.get("fingerprint")
    if stored is None:
        if trust_old:
            return None
        return (f"{path}: the checkpoint was written by an earlier version and does not record its dataset and "
                "settings, so it cannot be checked against this dataset; pass --trust-checkpoint to resume from "
                "it all the same, or --overwrite to start anew")
    found = []
    data = dataset_differences(stored["dataset"], now["dataset"])
    if data:
        found.append("a different dataset: " + "; ".join(data))
    settings = settings_differences(stored["settings"], now["settings"])
    if settings:
        found.append("different settings: " + "; ".join(settings))
    if not found:
        return None
    return (f"{path}: will not resume, the checkpoint belongs to " + ", and to ".join(found)
            + " (resume with that run's dataset and options, or use --overwrite to start anew)")
