"""``GET /accounts/{A}/webhooks/health``: how each of an account's hooks is doing (ours,
additive; Crossbar's listing keeps its shape).

One item per hook: its newest attempt of the last day (when, result, HTTP status, the cause
in plain words), attempts and successes over the last hour and day, failures among its
newest ``RECENT`` attempts, why the server disabled it, and when its next retry is due.
Read with one query of the store (``Store.hook_activity``) plus the account's hooks.

``state``: ``disabled_by_server``, ``disabled`` (switched off by hand), ``failing`` (enabled,
its newest attempt failed), ``healthy`` (enabled, its newest attempt succeeded) or ``idle``
(enabled, no attempt in the last day).
"""

from __future__ import annotations

from typing import Any

from webhooksd.delivery.cause import cause
from webhooksd.kazoo.timeutil import now_gregorian, now_ms, unix_to_gregorian
from webhooksd.records import HookActivity, HookDoc

from .envelope import Reply
from .request import Call

#: how many of a hook's newest attempts "failing: N of the last M" looks at
RECENT = 10
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def _last_attempt(activity: HookActivity) -> dict[str, Any]:
    last = activity.last
    item: dict[str, Any] = {
        "id": last.id,
        "timestamp": unix_to_gregorian(last.created_ms / 1000),
        "result": last.result,
    }
    status = last.doc.get("resp_status_code")
    if status is not None:
        item["status_code"] = status
    said = cause(last.doc)
    if said is not None:
        item["cause"] = said
    return item


def _next_retry(activity: HookActivity | None, now: int) -> int | None:
    """When the newest attempt queued a retry that is still ahead (earlier attempts' retries
    are not looked at: one row per hook is read)."""
    if activity is None or activity.last.result == "success":
        return None
    due = activity.last.doc.get("retry_due")
    return due if isinstance(due, int) and due >= now else None


def _state(hook: HookDoc, activity: HookActivity | None) -> str:
    if hook.is_auto_disabled:
        return "disabled_by_server"
    if hook.doc.get("enabled", True) is False:
        return "disabled"
    if activity is None:
        return "idle"
    return "healthy" if activity.last.result == "success" else "failing"


def health_item(hook: HookDoc, activity: HookActivity | None, now: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": hook.id,
        "name": hook.doc.get("name"),
        "enabled": hook.doc.get("enabled", True) is not False,
        "state": _state(hook, activity),
        "last_attempt": None if activity is None else _last_attempt(activity),
        "last_hour": {
            "attempts": activity.hour_attempts if activity else 0,
            "successes": activity.hour_successes if activity else 0,
        },
        "last_day": {
            "attempts": activity.day_attempts if activity else 0,
            "successes": activity.day_successes if activity else 0,
        },
        "recent": {
            "attempts": activity.recent_attempts if activity else 0,
            "failures": activity.recent_failures if activity else 0,
        },
    }
    if hook.is_auto_disabled and hook.disabled_reason:
        item["disable_reason"] = hook.disabled_reason
    due = _next_retry(activity, now)
    if due is not None:
        item["next_retry"] = due
    return item


async def list_health(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks/health``: every hook of the account, by id."""
    store = call.deps.store
    now = now_ms()
    activity = {
        a.hook_id: a
        for a in await store.hook_activity(
            call.account_id, since_ms=now - DAY_MS, hour_from_ms=now - HOUR_MS, recent=RECENT
        )
    }
    hooks = await store.list_hooks(call.account_id)
    gregorian_now = now_gregorian()
    return Reply(data=[health_item(h, activity.get(h.id), gregorian_now) for h in hooks])
