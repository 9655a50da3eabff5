"""Scene folders of a batch: where each seed goes, when a folder is finished, and ``index.json``.

A scene folder counts as finished only when the renderer has said so in both of its records:
``scene.json`` with ``render.complete`` and ``.render_progress.json`` with ``complete``, and
``transforms.json`` is there. A folder that a killed or crashed run left half-written lacks
at least one of them, so it is run again (and the renderer resumes its finished frames).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from procgen.core import atomic
from procgen.generate_cli import seed_dir
from procgen.render.layout import MANIFEST as PROGRESS  # the renderer's progress record

INDEX = "index.json"


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scene_complete(folder: str) -> bool:
    """Whether ``folder`` holds a finished scene (see the module docstring)."""
    if not os.path.isfile(os.path.join(folder, "transforms.json")):
        return False
    progress = _read_json(os.path.join(folder, PROGRESS)) or {}
    scene = _read_json(os.path.join(folder, "scene.json")) or {}
    render = scene.get("render") if isinstance(scene.get("render"), dict) else {}
    return progress.get("complete") is True and render.get("complete") is True


def scene_biome(scene: dict) -> str | None:
    """The biome a scene was generated with, where its generator records one."""
    config = scene.get("config") if isinstance(scene.get("config"), dict) else {}
    biome = scene.get("biome", config.get("biome"))
    if isinstance(biome, dict):  # a record with its name and parameters
        biome = biome.get("name") or biome.get("kind")
    return biome if isinstance(biome, str) else None


def _frame_of(entries: dict[str, int], names: list) -> list[int]:
    return [entries[n] for n in names if n in entries]


def index_entry(root: str, seed: int) -> dict:
    """What ``index.json`` says of a finished scene; paths relative to the batch folder ``root``."""
    folder = seed_dir(root, seed)
    rel = os.path.basename(folder)
    transforms = _read_json(os.path.join(folder, "transforms.json")) or {}
    scene = _read_json(os.path.join(folder, "scene.json")) or {}
    frames = transforms.get("frames") or []
    by_name = {f.get("file_path"): f.get("frame") for f in frames}
    render = scene.get("render") if isinstance(scene.get("render"), dict) else {}
    return {
        "seed": seed,
        "biome": scene_biome(scene),
        "path": rel,
        "transforms": f"{rel}/transforms.json",
        "scene_json": f"{rel}/scene.json",
        "frames": len(frames),
        "resolution": [transforms.get("w"), transforms.get("h")],
        "passes": render.get("passes", []),  # the optional ground truth it holds (docs/dataset-format.md)
        **({"tracks": f"{rel}/{transforms['tracks_file_path']}", "track_points": render.get("track_points")}
           if transforms.get("tracks_file_path") else {}),
        "splits": {k: _frame_of(by_name, transforms.get(f"{k}_filenames") or [])
                   for k in ("train", "val", "test")},
    }


def write_index(root: str, entries: Iterable[dict]) -> int:
    """Write ``root/index.json`` atomically from ``entries`` (sorted by seed); returns their number."""
    count = [0]

    def chunks() -> Iterator[bytes]:
        yield b'{"format": "gs-batch-index/1", "scenes": [\n'
        for i, entry in enumerate(entries):
            count[0] += 1
            yield ((",\n" if i else "") + json.dumps(entry, separators=(", ", ": "))).encode()
        yield b"\n]}\n"

    atomic.write_bytes(os.path.join(root, INDEX), chunks())
    return count[0]


def read_index(root: str) -> list[dict]:
    data = _read_json(os.path.join(root, INDEX))
    if data is None or not isinstance(data.get("scenes"), list):
        raise ValueError(f"{os.path.join(root, INDEX)}: missing or not a batch index")
    return data["scenes"]
