"""argparse value types that refuse bad numbers at parse time, with the option's own words.

``type=count(1)`` accepts whole numbers >= 1; ``type=number(0)`` finite floats >= 0. argparse
turns the ValueError into ``error: argument --frames: must be a whole number >= 1, got '0'``.
Each parser carries ``kind`` (int or float), ``minimum`` and ``maximum``, from which the add-on
builds its panel fields (``blender_gs_addon.command_options``).
"""
from __future__ import annotations

import argparse
import math


def count(minimum: int, maximum: int | None = None):
    """A whole number in [minimum, maximum]."""
    upper = f" and <= {maximum}" if maximum is not None else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}{upper}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}{upper}, got {text!r}")
        return value

    parse.__name__ = "whole number"
    parse.kind, parse.minimum, parse.maximum = int, minimum, maximum  # read by the add-on's panels
    return parse


def number(minimum: float | None = None, maximum: float | None = None):
    """A finite float in [minimum, maximum] (either bound may be None)."""
    bounds = " and ".join(s for s in (f">= {minimum}" if minimum is not None else "",
                                     f"<= {maximum}" if maximum is not None else "") if s)
    want = f"a finite number {bounds}".rstrip()

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum) or \
                (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
        return value

    parse.__name__ = "number"
    parse.kind, parse.minimum, parse.maximum = float, minimum, maximum  # read by the add-on's panels
    return parse
