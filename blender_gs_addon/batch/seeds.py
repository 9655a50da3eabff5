"""How many distinct seeds a list of ranges holds, without listing them."""
from __future__ import annotations


def count_seeds(ranges: list[range]) -> int:
    """Size of the union of step-1 ``ranges`` (overlaps counted once): O(ranges), not O(seeds)."""
    total, end = 0, None
    for r in sorted((r for r in ranges if len(r)), key=lambda r: r.start):
        start = r.start if end is None else max(r.start, end)
        if r.stop > start:
            total += r.stop - start
        end = r.stop if end is None else max(end, r.stop)
    return total
