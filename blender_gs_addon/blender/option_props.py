"""Blender properties made from the command-line options (`command_options`), one PropertyGroup per
panel command (`generate`, `render`, `train`), so the panels hold every option of the command.

Each option becomes one property named after its argparse dest, with the option's help as its
description: a flag a BoolProperty, a number an Int/FloatProperty (a vector for nargs=2) within the
option's bounds, choices an EnumProperty, `--passes` an enum set. An option the command leaves unset
by default gets a `use_<dest>` toggle (an enum a "Default" item) and is passed only when set.
"""
from __future__ import annotations

import math

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    IntVectorProperty,
    StringProperty,
)

from ..command_options import PANEL_COMMANDS, Option, argv_of, options_of

INT_LIMIT = 2**31 - 1  # Blender's int properties are 32-bit
DEFAULT_ITEM = "__DEFAULT__"  # the item of an optional enum that leaves the option out


def _enum_items(option: Option) -> list[tuple[str, str, str]]:
    items = [(c, c.replace("_", " ").title(), f"{option.flag} {c}") for c in option.choices]
    if option.optional:
        items.insert(0, (DEFAULT_ITEM, "Default", f"{option.flag} not given: the command's own choice"))
    return items


def _number_property(option: Option):
    is_int = option.kind == "int"
    lo = option.minimum if option.minimum is not None else (-INT_LIMIT if is_int else -1e30)
    hi = option.maximum if option.maximum is not None else (INT_LIMIT if is_int else 1e30)
    if is_int:
        lo, hi = max(int(lo), -INT_LIMIT), min(int(hi), INT_LIMIT)
    start = option.panel_default if option.panel_default is not None else max(lo, 0)
    kw = {"name": option.label, "description": option.help, "min": lo, "max": hi}
    if option.size > 1:
        start = tuple(start) if isinstance(start, (tuple, list)) else (start,) * option.size
        vector = IntVectorProperty if is_int else FloatVectorProperty
        return vector(size=option.size, default=start, **kw)
    if not is_int and 0 < abs(start) < 0.1:  # small defaults (2e-4) need more than Blender's 3 decimals
        kw["precision"] = min(6, math.ceil(-math.log10(abs(start))) + 1)
    return (IntProperty if is_int else FloatProperty)(default=start, **kw)


def property_of(option: Option):
    """The Blender property of one option."""
    kw = {"name": option.label, "description": option.help}
    if option.kind == "bool":
        return BoolProperty(default=bool(option.panel_default), **kw)
    if option.kind in ("int", "float"):
        return _number_property(option)
    if option.kind == "enum":
        return EnumProperty(items=_enum_items(option), default=option.panel_default or DEFAULT_ITEM, **kw)
    if option.kind == "flags":
        return EnumProperty(items=_enum_items(option), options={"ENUM_FLAG"},
                            default=set(option.panel_default or ()), **kw)
    return StringProperty(default=option.panel_default or "", **kw)


def has_toggle(option: Option) -> bool:
    """Whether the option's field comes with a `use_<dest>` toggle (unset by default, not an enum)."""
    return option.optional and option.kind != "enum"


def _group_class(command: str) -> type:
    options = options_of(command)
    annotations = {}
    for option in options:
        annotations[option.dest] = property_of(option)
        if has_toggle(option):
            annotations["use_" + option.dest] = BoolProperty(
                name=f"Set {option.label}", description=f"Pass {option.flag} (else the command's own default)")
    annotations["show_advanced"] = BoolProperty(name="Advanced", description="Show the other options",
                                                default=False)
    doc = f"Every option of the `{command}` command that a panel can set"
    return type(f"GS_PG_{command}_options", (bpy.types.PropertyGroup,),
                {"__annotations__": annotations, "__doc__": doc, "options": options})


GROUPS = {command: _group_class(command) for command in PANEL_COMMANDS}


def value_of(group, option: Option):
    """The option's value in the panel: None where it is left to the command."""
    value = getattr(group, option.dest)
    if option.kind == "enum" and value == DEFAULT_ITEM:
        return None
    if has_toggle(option) and not getattr(group, "use_" + option.dest):
        return None
    if option.kind == "flags":
        return set(value)
    if option.size > 1:
        return tuple(value)
    return value


def values_of(group) -> dict:
    """dest -> the panel's value of every option of the group's command."""
    return {o.dest: value_of(group, o) for o in group.options}


def argv_from(group) -> list[str]:
    """The command-line options that the panel's values set (only those differing from the defaults)."""
    return argv_of(group.options, values_of(group))


classes = tuple(GROUPS.values())
