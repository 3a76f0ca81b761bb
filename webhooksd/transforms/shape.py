"""``fields`` (keep only these) and ``map`` (rename) applied to a payload before the body is
built (Webitel's ``_.pick(message, fields)`` and its ``map`` loop in ``hookClass.js``).

Order: ``fields`` first, then ``map``. ``fields`` lists dotted paths; the result keeps each
one that exists, nested as in the payload (``["call_id", "custom_channel_vars.owner_id"]``
gives ``{"call_id": …, "custom_channel_vars": {"owner_id": …}}``); an empty or absent list
keeps everything. ``map`` is ``{"<source path>": "<target path>"}``: every source is read
first, then every source is removed, then every value is written at its target, so a swap
works; a missing source writes nothing. Both walk objects only (a list is kept or dropped
whole). The input payload is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .paths import Path, lookup, parse_path, with_value, without
from .problems import Problems

MAX_FIELDS = 100
MAX_RENAMES = 50


def compile_fields(raw: Any, problems: Problems) -> tuple[Path, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        problems.add("fields", f"fields must be a list of at most {MAX_FIELDS} field paths")
        return ()
    paths: list[Path] = []
    for index, item in enumerate(raw):
        try:
            paths.append(parse_path(item))
        except ValueError as exc:
            problems.add(f"fields.{index}", str(exc))
    return tuple(paths)


def compile_map(raw: Any, problems: Problems) -> tuple[tuple[Path, Path], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or len(raw) > MAX_RENAMES:
        problems.add("map", f"map must be an object of at most {MAX_RENAMES} renames")
        return ()
    renames: list[tuple[Path, Path]] = []
    targets: dict[Path, str] = {}
    for source, target in raw.items():
        where = f"map.{source}"
        try:
            pair = (parse_path(source), parse_path(target))
        except ValueError as exc:
            problems.add(where, str(exc))
            continue
        if pair[1] in targets:
            problems.add(where, f"{targets[pair[1]]!r} is renamed to {target!r} as well")
            continue
        targets[pair[1]] = str(source)
        renames.append(pair)
    return tuple(renames)


def pick(payload: Mapping[str, Any], fields: tuple[Path, ...]) -> dict[str, Any]:
    if not fields:
        return dict(payload)
    result: dict[str, Any] = {}
    for path in fields:
        found, value = lookup(payload, path, lists=False)
        if found:
            result = with_value(result, path, value)
    return result


def rename(payload: Mapping[str, Any], renames: tuple[tuple[Path, Path], ...]) -> dict[str, Any]:
    moved = [(target, lookup(payload, source, lists=False)) for source, target in renames]
    result = dict(payload)
    for (source, _), (_, (found, _)) in zip(renames, moved, strict=True):
        if found:
            result = without(result, source)
    for target, (found, value) in moved:
        if found:
            result = with_value(result, target, value)
    return result
