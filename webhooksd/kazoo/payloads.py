"""JSON value helpers hook modules share (Kazoo ``kz_json`` / ``kz_term`` accessors).

Kazoo reads AMQP bodies through typed accessors that cast or drop values rather than crash:
``get_ne_binary_value`` (a non-empty string, numbers and booleans cast), ``get_integer_value``,
``get_number_value``, ``is_true`` and ``normalize``. Payloads are built with ``from_list``,
which drops undefined values, so a missing source field is an absent key, never ``null``.

Kazoo's accessors also turn a field of the wrong type into "absent", so a message whose
``Account-ID`` is a number or whose ``Custom-Channel-Vars`` is a list is dropped without a
trace. :func:`str_field` and :func:`object_field` read the fields an event is routed by
instead: absent is absent, but a wrong type raises :class:`MalformedMessage` naming the field,
and the message is dead-lettered with that reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from webhooksd.errors import MalformedMessage
from webhooksd.kazoo.term import to_integer
from webhooksd.records import Hook

#: Latin-1 capitals ``kz_json:normalize_key`` lower-cases besides A-Z (U+00C0-U+00D6, U+00D8-U+00DE)
_LATIN1_UPPER = {chr(c) for c in (*range(0xC0, 0xD7), *range(0xD8, 0xDF))}
#: ``normalize_key`` as one table for keys that are not ASCII: only ``-``, A-Z and those
#: capitals change (``str.lower`` would lower-case every other script's capitals too)
_NORMALIZED = str.maketrans(
    {"-": "_", **{c: c.lower() for c in map(chr, range(ord("A"), ord("Z") + 1))}}
    | {c: c.lower() for c in _LATIN1_UPPER}
)


def ne_str(value: Any) -> str | None:
    """``kz_json:get_ne_binary_value``: a non-empty string; numbers and booleans are cast.

    Strings and absent values (most of what it is asked, 18 times an event for a channel
    payload) are answered first; the types are disjoint, so the order changes nothing."""
    if isinstance(value, str):
        return value or None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def to_int(value: Any) -> int | None:
    """``kz_json:get_integer_value``: integers, floats rounded half away from zero, Erlang
    integer or float literals in strings (``"10.5"`` → 11); else None."""
    return to_integer(value)


def to_number(value: Any) -> int | float | None:
    """``kz_json:get_number_value``: a number, or a string holding one; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        for cast in (int, float):
            try:
                return cast(value.strip())
            except ValueError:
                continue
    return None


def is_true(value: Any) -> bool:
    """``kz_term:is_true``: only ``true`` and ``"true"`` are true."""
    return value is True or value == "true"


def json_object(value: Any) -> Mapping[str, Any] | None:
    """``kz_json:get_json_value``: the value when it is a JSON object, else None. A dict (what
    a decoded body holds) is told without ``Mapping``'s ABC check, several times slower."""
    return value if type(value) is dict or isinstance(value, Mapping) else None


def get_path(body: Mapping[str, Any], path: str | Sequence[str]) -> Any:
    """The value at ``path`` (a key, or keys into nested objects), or None."""
    keys = (path,) if isinstance(path, str) else path
    value: Any = body
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _typed(body: Mapping[str, Any], path: str | Sequence[str], kind: type, what: str) -> Any:
    keys = (path,) if isinstance(path, str) else tuple(path)
    value: Any = body
    for depth, key in enumerate(keys):
        value = value.get(key)
        if value is None:
            return None
        wanted, name = (kind, what) if depth == len(keys) - 1 else (Mapping, "an object")
        if not isinstance(value, wanted):
            field = ".".join(keys[: depth + 1])
            raise MalformedMessage(f"{field} is {_json_type(value)}, not {name}")
    return value


def str_field(body: Mapping[str, Any], path: str | Sequence[str]) -> str | None:
    """The string at ``path``: None when absent, ``null`` or empty; :class:`MalformedMessage`
    when it (or an object on the way) has another type."""
    value: str | None = _typed(body, path, str, "a string")
    return value or None


def object_field(body: Mapping[str, Any], path: str | Sequence[str]) -> Mapping[str, Any] | None:
    """The object at ``path``: None when absent or ``null``; :class:`MalformedMessage` when
    it (or an object on the way) has another type."""
    value: Mapping[str, Any] | None = _typed(body, path, Mapping, "an object")
    return value


#: ``kz_api``'s ``?DEFAULT_HEADERS``: ``kz_api:validate/4`` (every ``kapi_*:*_v`` validator)
#: refuses a message that lacks one of them
ENVELOPE_KEYS: tuple[str, ...] = (
    "App-Name",
    "App-Version",
    "Event-Category",
    "Event-Name",
    "Msg-ID",
)


def require_envelope(body: Mapping[str, Any]) -> None:
    """``kz_api:validate/4``'s first check: raise :class:`MalformedMessage` naming the envelope
    keys the message lacks. As ``props:is_defined``, a key is there with any value, even
    ``null`` or ``""``."""
    missing = [key for key in ENVELOPE_KEYS if key not in body]
    if missing:
        raise MalformedMessage(f"missing envelope header(s) {', '.join(missing)}")


def first_defined(body: Mapping[str, Any], paths: Iterable[str | Sequence[str]]) -> Any:
    """``kz_json:get_first_defined``: the first value that is not absent or ``null``."""
    for path in paths:
        value = get_path(body, path)
        if value is not None:
            return value
    return None


def from_pairs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``kz_json:from_list``: an object in pair order, pairs whose value is None dropped."""
    return {key: value for key, value in pairs if value is not None}


def normalize_key(key: str) -> str:
    """``kz_json:normalize_key``: ``-`` becomes ``_``; A-Z and Latin-1 capitals lower-cased.

    An ASCII key (every key Kazoo sends) is ``lower`` and ``replace``, which change exactly
    those there; a character at a time was 4 µs a key, and every event's keys are normalised
    for the ``v2`` envelope (0.4 µs now)."""
    if key.isascii():
        return key.lower().replace("-", "_")
    return key.translate(_NORMALIZED)


def normalize(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``kz_json:normalize``: keys normalised recursively (objects inside lists too), ``null``
    members of objects dropped. A later key that normalises to an earlier one wins."""
    return {normalize_key(str(k)): _normalize_value(v) for k, v in obj.items() if v is not None}


def _normalize_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return normalize(value)
    if isinstance(value, list):
        return [_normalize_value(item) for item in value]
    return value


def normalize_name(name: str) -> str:
    """An event name as hooks' ``custom_data.type`` names it (lower-case, ``-`` → ``_``)."""
    return name.lower().replace("-", "_")


def hook_custom_data(hook: Hook) -> Mapping[str, Any] | None:
    """The hook's ``custom_data`` object, or None when the hook has none.

    Kazoo tells an absent ``custom_data`` (match everything) from ``{}`` (an object with no
    ``type``/``action``, which never matches); ``Hook.custom_data`` defaults to ``{}``, so the
    stored document decides when it has the key.
    """
    if "custom_data" in hook.doc:
        return json_object(hook.doc["custom_data"])
    return hook.custom_data or None
