"""Conditions on payload fields that must all hold for a hook to fire (Webitel's hook
``filter``, ``hookClass.js`` ``Hook.check`` and ``Operations``): the last step of hook
matching, on the payload with the hook's ``custom_data`` merged (:mod:`webhooksd.hooks.matching`).

Two shapes are accepted. Ours, a list of conditions, each naming a ``field`` (a dotted path)
and one or more operators that must all hold::

    [{"field": "call_direction", "eq": "inbound"},
     {"field": "duration_seconds", "gte": 10, "lt": 60},
     {"field": "caller_id_number", "regex": "^\\+44"},
     {"field": "hangup_cause", "in": ["NORMAL_CLEARING", "ORIGINATOR_CANCEL"]},
     {"field": "custom_channel_vars.owner_id", "exists": true}]

Operators: ``eq``, ``ne``, ``in``, ``not_in``, ``gt``, ``gte``, ``lt``, ``lte``, ``regex``
(RE2 syntax, searched anywhere in the value; ``(?i)`` for flags; see :mod:`.regex`),
``exists`` (present and not null). Numbers and numeric strings compare as numbers (Kazoo
sends some numbers as strings); two strings compare as strings; anything else does not match.
A missing field matches only ``ne``, ``not_in`` and ``exists: false``.

Webitel's shape, an object ``{"<field>": {"operation": "==", "value": …}}`` with the
operations ``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=`` and ``reg`` (``/pattern/flags``
allowed), is translated to the same conditions; ``"null"`` with ``==``/``!=`` means absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .paths import Path, lookup, parse_path
from .problems import Problems
from .regex import MAX_MATCH_CHARS, MAX_PROGRAM_SIZE, LinearPattern, compile_linear

__all__ = ["MAX_MATCH_CHARS", "MAX_PROGRAM_SIZE", "Condition", "compile_filter"]

MAX_CONDITIONS = 50
MAX_IN_ITEMS = 100
MAX_REGEX_CHARS = 1000
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "regex", "exists")
WEBITEL_OPERATIONS = {
    "==": "eq",
    "!=": "ne",
    "<": "lt",
    ">": "gt",
    "<=": "lte",
    ">=": "gte",
    "reg": "regex",
}
#: JavaScript's flags that mean something to RE2 (``g`` and ``y`` mean nothing here)
_REGEX_FLAGS = frozenset("ims")
_SLASHED = re.compile(r"^/(.*)/([a-z]*)$", re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """One operator on one field; ``operand`` is compiled (a pattern for ``regex``)."""

    path: Path
    op: str
    operand: Any

    def holds(self, payload: Mapping[str, Any]) -> bool:
        found, actual = lookup(payload, self.path)
        present = found and actual is not None
        if self.op == "exists":
            return bool(present == self.operand)
        if not present:
            return self.op in ("ne", "not_in")
        return _TESTS[self.op](actual, self.operand)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) and isinstance(actual, str):
        return actual.lower() == ("true" if wanted else "false")
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        number = _number(actual)
        return number is not None and number == float(wanted)
    return bool(actual == wanted)


def _order(actual: Any, wanted: Any, test: Callable[[Any, Any], bool]) -> bool:
    a, w = _number(actual), _number(wanted)
    if a is not None and w is not None:
        return test(a, w)
    if isinstance(actual, str) and isinstance(wanted, str):
        return test(actual, wanted)
    return False


def _search(actual: Any, pattern: LinearPattern) -> bool:
    if isinstance(actual, bool):
        text = "true" if actual else "false"
    elif isinstance(actual, str | int | float):
        text = str(actual)
    else:
        return False
    return pattern.search(text)


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _equal,
    "ne": lambda a, w: not _equal(a, w),
    "in": lambda a, w: any(_equal(a, item) for item in w),
    "not_in": lambda a, w: not any(_equal(a, item) for item in w),
    "gt": lambda a, w: _order(a, w, lambda x, y: x > y),
    "gte": lambda a, w: _order(a, w, lambda x, y: x >= y),
    "lt": lambda a, w: _order(a, w, lambda x, y: x < y),
    "lte": lambda a, w: _order(a, w, lambda x, y: x <= y),
    "regex": _search,
}


def _regex(value: Any, *, slashed: bool) -> LinearPattern:
    if not isinstance(value, str):
        raise ValueError("a regular expression must be a string")
    if len(value) > MAX_REGEX_CHARS:
        raise ValueError(f"a regular expression must not be longer than {MAX_REGEX_CHARS}")
    flags = ""
    match = _SLASHED.match(value) if slashed else None
    if match is not None:
        value = match.group(1)
        flags = "".join(sorted(set(match.group(2)) & _REGEX_FLAGS))
    return compile_linear(value, flags)


def _operand(op: str, value: Any, *, slashed: bool = False) -> Any:
    """The compiled operand of ``op``; ValueError when it does not suit the operator."""
    if op == "regex":
        return _regex(value, slashed=slashed)
    if op == "exists":
        if not isinstance(value, bool):
            raise ValueError("exists takes true or false")
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or len(value) > MAX_IN_ITEMS:
            raise ValueError(f"{op} takes a list of 1 to {MAX_IN_ITEMS} values")
        if any(isinstance(item, dict | list) for item in value):
            raise ValueError(f"{op} takes a list of strings, numbers, booleans or null")
        return tuple(value)
    if op in ("gt", "gte", "lt", "lte"):
        if _number(value) is None and not isinstance(value, str):
            raise ValueError(f"{op} takes a number or a string")
        return value
    return value


def _native(index: int, raw: Any, problems: Problems) -> list[Condition]:
    where = f"filter.{index}"
    if not isinstance(raw, Mapping):
        problems.add(where, "a condition must be an object with a field and an operator")
        return []
    try:
        path = parse_path(raw.get("field"))
    except ValueError as exc:
        problems.add(f"{where}.field", str(exc))
        path = ()
    conditions: list[Condition] = []
    ops = [k for k in raw if k != "field"]
    if not ops:
        problems.add(where, f"a condition needs an operator: one of {', '.join(OPERATORS)}")
    for op in ops:
        if op not in OPERATORS:
            problems.add(f"{where}.{op}", f"unknown operator; use one of {', '.join(OPERATORS)}")
            continue
        try:
            conditions.append(Condition(path=path, op=op, operand=_operand(op, raw[op])))
        except ValueError as exc:
            problems.add(f"{where}.{op}", str(exc))
    return conditions


def _webitel(key: str, raw: Any, problems: Problems) -> list[Condition]:
    where = f"filter.{key}"
    try:
        path = parse_path(key)
    except ValueError as exc:
        problems.add(where, str(exc))
        return []
    if not isinstance(raw, Mapping):
        problems.add(where, 'a Webitel filter entry must be {"operation": …, "value": …}')
        return []
    op = WEBITEL_OPERATIONS.get(str(raw.get("operation")))
    if op is None:
        known = ", ".join(WEBITEL_OPERATIONS)
        problems.add(f"{where}.operation", f"unknown operation; use one of {known}")
        return []
    value = raw.get("value")
    if op in ("eq", "ne") and value == "null":  # Webitel: 'null' stands for undefined
        return [Condition(path=path, op="exists", operand=op == "ne")]
    try:
        return [Condition(path=path, op=op, operand=_operand(op, value, slashed=True))]
    except ValueError as exc:
        problems.add(f"{where}.value", str(exc))
        return []


def compile_filter(raw: Any, problems: Problems) -> tuple[Condition, ...]:
    """Every condition of a ``filter`` value (None or empty: no conditions)."""
    if raw is None:
        return ()
    if isinstance(raw, list):
        if len(raw) > MAX_CONDITIONS:
            problems.add("filter", f"a filter may have at most {MAX_CONDITIONS} conditions")
            return ()
        conditions = tuple(c for i, item in enumerate(raw) for c in _native(i, item, problems))
        return _within_budget(conditions, problems)
    if isinstance(raw, Mapping):
        if len(raw) > MAX_CONDITIONS:
            problems.add("filter", f"a filter may have at most {MAX_CONDITIONS} conditions")
            return ()
        conditions = tuple(c for k, v in raw.items() for c in _webitel(str(k), v, problems))
        return _within_budget(conditions, problems)
    problems.add("filter", "a filter must be a list of conditions (or Webitel's object)")
    return ()


def _within_budget(conditions: tuple[Condition, ...], problems: Problems) -> tuple[Condition, ...]:
    """The conditions, if their regexes together fit the program-size budget: matching time
    is linear in program size times value length, so this bounds the time one hook's filter
    can hold the event loop (both factors are bounded)."""
    total = sum(c.operand.program_size for c in conditions if c.op == "regex")
    if total > MAX_PROGRAM_SIZE:
        problems.add(
            "filter",
            f"the filter's regular expressions are too complex (RE2 program size {total}, "
            f"at most {MAX_PROGRAM_SIZE} in all): simplify them or use fewer",
        )
        return ()
    return conditions
