"""Delivery attempts: the request log and replays (Kazoo ``cb_webhooks`` ``attempts``, read
from the ``attempts_by_time_listing``/``attempts_by_hook_listing`` views).

Times are Gregorian seconds; the window defaults to the last ``MAX_RANGE`` seconds and is
refused when reversed or wider. Items are newest first and carry an ``id`` so that one can be
replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from webhooksd.delivery.attempts import attempt_kind
from webhooksd.delivery.cause import cause
from webhooksd.kazoo.timeutil import GREGORIAN_OFFSET, now_gregorian, unix_to_gregorian
from webhooksd.records import AttemptRecord, AttemptSearch

from .envelope import Paging, Reply, bad_identifier, validation_error
from .paging import PageRequest, doc_filter, encode_key, page_request
from .request import Call, public_fields
from .search import hook_filter, search_of

log = structlog.get_logger(__name__)

#: Crossbar's ``maximum_range``: 31 days and one hour
MAX_RANGE = 2_682_000
#: attempts read from the store per round while filling a filtered page
_BATCH = 200


def attempt_item(attempt: AttemptRecord) -> dict[str, Any]:
    """The attempt doc's public fields, ``timestamp`` (Gregorian seconds) and ``id``, plus
    (ours, additive) ``kind`` (``first``, ``retry``, ``replay`` or ``test``) and ``cause``:
    why a failed attempt failed, in plain words."""
    item = public_fields(attempt.doc)
    item["timestamp"] = unix_to_gregorian(attempt.created_ms / 1000)
    item["id"] = attempt.id
    item["kind"] = attempt_kind(attempt.doc)
    said = cause(attempt.doc)
    if said is not None:
        item["cause"] = said
    return item


#: the last second of year 9999 in Gregorian seconds: later bounds (2^63 and up were a 500
#: once turned into milliseconds for the store) name no attempt
MAX_GREGORIAN = 315_569_519_999


def _bound(call: Call, name: str) -> int | None:
    """A Gregorian-seconds bound: absent (or empty) is None; anything but a whole number in
    1..:data:`MAX_GREGORIAN` is a 400 naming the parameter."""
    value = call.param(name)
    if value is None or value == "":
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip()) if len(value.strip()) <= 20 else MAX_GREGORIAN + 1
    if number is None:
        message = "must be a whole number of Gregorian seconds"
        raise validation_error({name: {"type": {"message": message, "cause": str(value)[:64]}}})
    if not 1 <= number <= MAX_GREGORIAN:
        message = f"must be between 1 and {MAX_GREGORIAN} (Gregorian seconds)"
        raise validation_error({name: {"range": {"message": message, "cause": str(value)[:64]}}})
    return number


def time_range(call: Call) -> tuple[int, int]:
    """``created_from``/``created_to`` with Crossbar's defaults and its two range errors."""
    created_to = _bound(call, "created_to") or now_gregorian()
    created_from = _bound(call, "created_from") or created_to - MAX_RANGE
    if created_to < created_from:
        message = f"created_to {created_to} is prior to created_from {created_from}"
        cause: int = created_from
    elif created_to - created_from > MAX_RANGE:
        message = (
            f"created_to {created_to} is more than {MAX_RANGE} seconds from "
            f"created_from {created_from}"
        )
        cause = created_to
    else:
        return created_from, created_to
    raise validation_error({"created_from": {"date_range": {"message": message, "cause": cause}}})


def _ms(gregorian: int, *, end: bool) -> int:
    """A whole Gregorian second as a millisecond bound (the end bound includes the second)."""
    return (gregorian - GREGORIAN_OFFSET) * 1000 + (999 if end else 0)


def _cursor(request: PageRequest) -> tuple[int, str] | None:
    key = request.start_key
    if isinstance(key, list) and len(key) == 2 and isinstance(key[0], int):
        return int(key[0]), str(key[1])
    return None


async def _collect(
    call: Call,
    hook_id: str | None,
    request: PageRequest,
    keep: Callable[[Mapping[str, Any]], bool],
    search: AttemptSearch | None = None,
) -> tuple[list[AttemptRecord], bool]:
    """Read pages from the store until the filtered page is full; True if more exist."""
    created_from, created_to = time_range(call)
    wanted = request.page_size
    after = _cursor(request)
    found: list[AttemptRecord] = []
    while True:
        batch = await call.deps.store.list_attempts(
            call.account_id,
            hook_id=hook_id,
            descending=request.descending,
            after=after,
            created_from_ms=_ms(created_from, end=False),
            created_to_ms=_ms(created_to, end=True),
            limit=_BATCH,
            search=search,
        )
        for attempt in batch:
            if keep(attempt_item(attempt)):
                if wanted is not None and len(found) == wanted:
                    return found, True
                found.append(attempt)
        if len(batch) < _BATCH:
            return found, False
        after = (batch[-1].created_ms, batch[-1].id)


async def _listing(call: Call, hook_id: str | None) -> Reply:
    request = page_request(call)
    search = search_of(call)
    found, more = await _collect(
        call, hook_id, request, doc_filter(call, ranges=False), search=search
    )
    paging = None
    if request.page_size is not None:
        # the next key is the last item returned: the store's cursor is exclusive
        paging = Paging(
            start_key=call.param("start_key") if request.start_key is not None else None,
            next_start_key=encode_key([found[-1].created_ms, found[-1].id]) if more else None,
        )
    return Reply(data=[attempt_item(a) for a in found], page_size=paging is not None, paging=paging)


async def list_account_attempts(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks/attempts`` (``hook_id`` narrows it to one hook)."""
    return await _listing(call, hook_filter(call))


async def list_hook_attempts(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks/{ID}/attempts`` (an unknown id lists nothing)."""
    return await _listing(call, call.path["hook_id"])


async def replay_attempt(call: Call) -> Reply:
    """``POST /accounts/{A}/webhooks/attempts/{ATTEMPT_ID}/replay``: send its payload again."""
    attempt_id = call.path["attempt_id"]
    attempt = await call.deps.store.get_attempt(attempt_id)
    if attempt is None or attempt.account_id != call.account_id:
        raise bad_identifier(attempt_id)
    if attempt.payload is None:
        message = "the attempt's payload was not recorded"
        raise validation_error({"attempt_id": {"replay": {"message": message}}})
    hook = await call.deps.store.get_hook(attempt.hook_id)
    if hook is None or hook.account_id != call.account_id:
        raise bad_identifier(attempt.hook_id)
    fresh = await call.deps.tester.replay(attempt)
    log.info(
        "attempt replayed",
        account_id=call.account_id,
        hook_id=attempt.hook_id,
        event_id=attempt.event_id,
        result=fresh.result,
    )
    return Reply(data=attempt_item(fresh))
