"""The batch manifest: one record per seed, in an append-only JSON-lines journal.

Only the driver writes it (it holds the batch lock). Each change appends one whole line with
a single ``write`` call, so a process killed at any moment leaves at most one torn last line,
which loading drops (that record's previous line still holds). Loading with a torn tail, and
every so many appends, rewrites the journal compactly (one line per seed) to a temporary name
and renames it into place, so a kill during compaction leaves the old journal whole.

Seeds that were never started have no record: a range of a hundred million seeds costs
nothing until its seeds run. Memory and file size grow with the seeds recorded.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

from procgen.core import atomic

JOURNAL = "manifest.jsonl"
STATUSES = ("pending", "running", "done", "failed")


class ManifestError(ValueError):
    """The journal cannot be read; the message names the file and line."""


def _parse(path: str) -> tuple[dict[int, dict], bool]:
    """Records by seed (the last line of each seed wins) and whether the tail was torn."""
    records: dict[int, dict] = {}
    torn = False
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the file ends with a whole line
    if tail:
        torn = True
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            seed = int(rec["seed"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"{path}: line {number} is not a manifest record ({exc})") from None
        records[seed] = rec
    return records, torn


def read_records(folder: str) -> dict[int, dict]:
    """The records of ``folder``'s journal, read only (safe while a driver appends to it)."""
    path = os.path.join(folder, JOURNAL)
    return _parse(path)[0] if os.path.exists(path) else {}


class Manifest:
    """``Manifest(folder)`` loads ``folder/manifest.jsonl``; ``put`` records a change at once."""

    def __init__(self, folder: str, compact_every: int = 10_000):
        self.path = os.path.join(folder, JOURNAL)
        self.compact_every = compact_every
        self.records: dict[int, dict] = {}
        self._appends = 0
        self._fd: int | None = None
        if os.path.exists(self.path):
            self.records, torn = _parse(self.path)
            if torn:
                print(f"batch: {self.path}: dropped a cut-short last line (the run writing it was killed)",
                      file=sys.stderr)
                self.compact()
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def get(self, seed: int) -> dict | None:
        return self.records.get(seed)

    def put(self, record: dict) -> None:
        """Store ``record`` (it has ``seed`` and ``status``) as the seed's current state."""
        if record.get("status") not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {record.get('status')!r}")
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        os.write(self._fd, line)  # one call: a kill leaves this line whole or torn, never others
        self.records[int(record["seed"])] = record
        self._appends += 1
        if self._appends >= max(self.compact_every, len(self.records)):
            self.compact()

    def _lines(self) -> Iterator[bytes]:
        for seed in sorted(self.records):
            yield (json.dumps(self.records[seed], separators=(",", ":")) + "\n").encode()

    def compact(self) -> None:
        """Rewrite the journal with one line per seed (atomically)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        atomic.write_bytes(self.path, self._lines())
        self._appends = 0
        self._open()

    def close(self) -> None:
        if self._fd is not None:
            self.compact()
            os.close(self._fd)
            self._fd = None

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for rec in self.records.values():
            out[rec["status"]] += 1
        return out
