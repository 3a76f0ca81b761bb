"""Dotted paths into an event payload (Webitel's ``${a.b.c}`` walk in ``hookClass.js``).

A path is one or more segments joined by ``.``: ``custom_channel_vars.owner_id``. Reading,
a segment of digits indexes a list (``${legs.0.call_id}``); ``fields`` and ``map`` walk
objects only, so there a list is kept or dropped whole. Keys that contain a ``.`` cannot be
named. Writing never changes the payload it was given: containers on the path are copied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Path = tuple[str, ...]

#: characters a segment may not contain (they delimit placeholders and defaults)
_FORBIDDEN = re.compile(r"[{}$|\s]")
MAX_SEGMENTS = 32
MAX_PATH_CHARS = 256
_MISSING = object()


def parse_path(text: object) -> Path:
    """Split and check a dotted path; ValueError says what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise ValueError("a field path must be a non-empty string")
    if len(text) > MAX_PATH_CHARS:
        raise ValueError(f"a field path must not be longer than {MAX_PATH_CHARS} characters")
    segments = tuple(text.split("."))
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"a field path must not have more than {MAX_SEGMENTS} segments")
    for segment in segments:
        if not segment:
            raise ValueError(f"{text!r} has an empty segment")
        if _FORBIDDEN.search(segment):
            raise ValueError(f"{text!r} may not contain spaces or any of {{ }} $ |")
    return segments


def lookup(payload: Any, path: Path, *, lists: bool = True) -> tuple[bool, Any]:
    """``(found, value)`` at ``path``; with ``lists`` a digit segment indexes a list."""
    current = payload
    for segment in path:
        if isinstance(current, Mapping):
            current = current.get(segment, _MISSING)
        elif lists and isinstance(current, list) and segment.isdigit():
            index = int(segment)
            current = current[index] if index < len(current) else _MISSING
        else:
            return False, None
        if current is _MISSING:
            return False, None
    return True, current


def with_value(target: Mapping[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of ``target`` with ``value`` at ``path`` (objects created or replaced on the
    way: a non-object in the way is replaced by an object)."""
    result = dict(target)
    head, rest = path[0], path[1:]
    if not rest:
        result[head] = value
        return result
    inner = result.get(head)
    result[head] = with_value(inner if isinstance(inner, Mapping) else {}, rest, value)
    return result


def without(target: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A copy of ``target`` without the value at ``path`` (unchanged if there is none)."""
    result = dict(target)
    head, rest = path[0], path[1:]
    if not rest:
        result.pop(head, None)
        return result
    inner = result.get(head)
    if isinstance(inner, Mapping):
        result[head] = without(inner, rest)
    return result
