"""One event's deliveries as a timeline (ours): every attempt of the event across the
account's hooks, grouped per hook and oldest first, each marked first attempt, retry (its
attempt number, ``try``), replay or test.

The attempts come from the store's index on (account, event): any age the store still
keeps, not only the listing's 31-day window. An event reaches a hook at most
``1 + retries`` times plus its replays, so :data:`MAX_ATTEMPTS` is a bound against a tenant
replaying one event without end, not a page: past it the answer says ``truncated``.
"""

from __future__ import annotations

from typing import Any, Final

from webhooksd.records import AttemptRecord, AttemptSearch, HookDoc

from .attempts import attempt_item
from .envelope import Reply
from .request import Call
from .search import checked_id

#: attempts of one event the timeline shows at most
MAX_ATTEMPTS: Final = 500
#: every time the store can hold (Unix milliseconds)
_ALL_TIME: Final = (0, 2**62)


async def _attempts(call: Call, event_id: str) -> list[AttemptRecord]:
    return await call.deps.store.list_attempts(
        call.account_id,
        created_from_ms=_ALL_TIME[0],
        created_to_ms=_ALL_TIME[1],
        descending=False,
        limit=MAX_ATTEMPTS + 1,
        search=AttemptSearch(event_id=event_id),
    )


def _hook_summary(hook_id: str, hook: HookDoc | None) -> dict[str, Any]:
    """The hook's name and URL as configured now (None for a hook deleted since)."""
    if hook is None:
        return {"hook_id": hook_id, "name": None, "deleted": True}
    return {"hook_id": hook_id, "name": hook.doc.get("name"), "deleted": False}


async def _group(call: Call, attempts: list[AttemptRecord]) -> list[dict[str, Any]]:
    """Per hook, in the order of each hook's first attempt: its attempts, oldest first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        groups.setdefault(attempt.hook_id, []).append(attempt_item(attempt))
    out = []
    for hook_id, items in groups.items():
        hook = await call.deps.store.get_hook(hook_id)
        if hook is not None and hook.account_id != call.account_id:
            hook = None  # attempts are the owner's; a hook id reused elsewhere shows nothing
        summary = _hook_summary(hook_id, hook)
        summary["hook_event"] = items[0].get("hook_event")
        summary["attempts"] = items
        out.append(summary)
    return out


async def event_timeline(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks/events/{EVENT_ID}/timeline``."""
    # the path's id is checked as the listing's event_id is (aiohttp never routes an empty one)
    event_id = checked_id("event_id", call.path["event_id"]) or ""
    attempts = await _attempts(call, event_id)
    truncated = len(attempts) > MAX_ATTEMPTS
    attempts = attempts[:MAX_ATTEMPTS]
    call_ids = sorted({a.call_id for a in attempts if a.call_id is not None})
    data = {
        "event_id": event_id,
        "call_id": call_ids[0] if call_ids else None,
        "attempts": len(attempts),
        "truncated": truncated,
        "hooks": await _group(call, attempts),
    }
    return Reply(data=data)
