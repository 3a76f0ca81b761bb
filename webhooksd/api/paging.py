"""Listings: page size, order, opaque start keys and query-string filters (Kazoo
``crossbar_view``, ``crossbar_filter``).

Start keys are ``base64url(json(key))``; like Kazoo, a start key that does not decode is used
as the raw string. The default order is descending; only ``ascending=true`` flips it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from .envelope import Paging, Refusal, validation_error
from .request import Call

#: Crossbar's ``pagination_page_size``
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


def encode_key(key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).rstrip(b"=").decode()


def decode_key(raw: str) -> Any:
    try:
        return orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return raw


def is_true(value: Any) -> bool:
    """Kazoo's ``kz_term:is_true/1``."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    """How the caller wants a listing: ``page_size`` None means ``paginate=false``."""

    page_size: int | None
    descending: bool
    start_key: Any = None


def _page_size(value: Any) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        raise Refusal(404, "faulty_request", {"message": "invalid page size"}) from None
    if size < 1:
        raise Refusal(404, "faulty_request", {"message": "page size must be at least 1"})
    return size


def page_request(call: Call) -> PageRequest:
    """Read ``paginate``, ``page_size``, ``ascending``/``descending`` and ``start_key``."""
    size = None if is_false(call.param("paginate")) else _page_size(call.param("page_size"))
    descending = is_true(call.param("descending")) or not is_true(call.param("ascending"))
    raw_start = call.param("start_key")
    start = decode_key(raw_start) if isinstance(raw_start, str) and raw_start else None
    return PageRequest(page_size=size, descending=descending, start_key=start)


def page_sorted(
    items: Sequence[T], key: Callable[[T], str], request: PageRequest
) -> tuple[list[T], Paging | None]:
    """Page a list in memory, ordered by a string key (doc ids, names)."""
    ordered = sorted(items, key=key, reverse=request.descending)
    if request.start_key is not None:
        start = str(request.start_key)
        if request.descending:
            ordered = [item for item in ordered if key(item) <= start]
        else:
            ordered = [item for item in ordered if key(item) >= start]
    if request.page_size is None:
        return ordered, None
    page, rest = ordered[: request.page_size], ordered[request.page_size :]
    first = request.start_key if request.start_key is not None else (key(page[0]) if page else None)
    return page, Paging(
        start_key=encode_key(first) if first is not None else None,
        next_start_key=encode_key(key(rest[0])) if rest else None,
    )


# -- filters -----------------------------------------------------------------------------

_RANGE_FILTERS = {
    "created_from": ("pvt_created", True),
    "created_to": ("pvt_created", False),
    "modified_from": ("pvt_modified", True),
    "modified_to": ("pvt_modified", False),
}
_PRESENCE_FILTERS = ("has_key", "key_missing", "has_value", "value_missing")


def _lookup(doc: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _wanted(raw: str) -> list[str]:
    """A filter value may be a JSON array, meaning "any of"."""
    if raw.startswith("["):
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return [raw]
        if isinstance(decoded, list):
            return [_as_text(item) for item in decoded]
    return [raw]


def _match_one(name: str, raw: str, doc: Mapping[str, Any], ranges: bool) -> bool:
    if name.startswith("filter_not_"):
        found, value = _lookup(doc, name.removeprefix("filter_not_"))
        return not found or _as_text(value) not in _wanted(raw)
    if name.startswith("filter_"):
        found, value = _lookup(doc, name.removeprefix("filter_"))
        return found and _as_text(value) in _wanted(raw)
    if name in _PRESENCE_FILTERS:
        found, value = _lookup(doc, raw)
        has_value = found and value not in (None, "", [], {})
        return {
            "has_key": found,
            "key_missing": not found,
            "has_value": has_value,
            "value_missing": not has_value,
        }[name]
    if ranges and name in _RANGE_FILTERS:
        field_name, lower = _RANGE_FILTERS[name]
        value = doc.get(field_name)
        if not raw.isdigit() or not isinstance(value, int):
            return True
        return value >= int(raw) if lower else value <= int(raw)
    return True


def _value_filter_path(name: str) -> str | None:
    """The field ``filter_<path>`` or ``filter_not_<path>`` compares (else None)."""
    for prefix in ("filter_not_", "filter_"):
        if name.startswith(prefix):
            return name.removeprefix(prefix)
    return None


def _reaches(path: str, secret: str) -> bool:
    """Whether comparing ``path``'s value compares ``secret``: the field itself, one inside
    it, or an object that holds it."""
    return path == secret or path.startswith(secret + ".") or secret.startswith(path + ".")


def _refuse_secret_filters(names: Sequence[str], secret_paths: Collection[str]) -> None:
    """Crossbar filters on any field; a value filter on a secret would let a caller guess it
    one query at a time, so it is refused by name (presence filters show no more than GET)."""
    refused = {
        name: {"forbidden": {"message": "secret fields cannot be filtered on"}}
        for name in names
        if (path := _value_filter_path(name)) is not None
        and any(_reaches(path, secret) for secret in secret_paths)
    }
    if refused:
        raise validation_error(refused)


def doc_filter(
    call: Call, *, ranges: bool = True, secret_paths: Collection[str] = ()
) -> Callable[[Mapping[str, Any]], bool]:
    """The query-string filters as a predicate over the full stored doc (private fields
    included). ``ranges`` applies ``created_from``… as filters (not on attempts, where
    they are the queried window). A value filter on one of ``secret_paths`` (dotted) is a
    400 ``validation error`` naming the parameter."""
    filters = [(name, raw) for name, raw in call.query.items()]
    _refuse_secret_filters([name for name, _ in filters], secret_paths)

    def matches(doc: Mapping[str, Any]) -> bool:
        return all(_match_one(name, raw, doc, ranges) for name, raw in filters)

    return matches
