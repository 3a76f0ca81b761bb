"""Attempt records with Kazoo's live field names (``webhooks_util:debug_req/5``,
``debug_resp/3``), plus the attempt number and duration Kazoo lacks.

``retries_left`` is always an integer (Kazoo writes the string ``"retries exceeded"`` on the
last try); secrets never reach a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.kazoo.ids import new_time_ordered_id
from webhooksd.kazoo.timeutil import now_ms, unix_to_gregorian
from webhooksd.records import AttemptRecord, Hook
from webhooksd.redaction import REDACTED, redact_headers, redact_url

__all__ = ["REDACTED", "attempt_record", "redact_headers", "stored_hook_event"]

#: channel hooks are stored upper-case in Kazoo's record (``webhooks_util:hook_event/1``)
_CHANNEL_HOOKS = frozenset(
    {"channel_create", "channel_answer", "channel_bridge", "channel_destroy"}
)


def stored_hook_event(hook: str) -> str:
    return hook.upper() if hook in _CHANNEL_HOOKS else hook


def _wire_url(request: OutboundRequest) -> dict[str, str]:
    """``req_url`` (ours, additive): the URL as requested when it is not ``uri`` (a GET
    hook's query string), redacted as ``uri`` is, so the attempt can be reproduced."""
    if not request.url or request.url == request.uri:
        return {}
    return {"req_url": redact_url(request.url)}


def attempt_record(
    *,
    hook: Hook,
    request: OutboundRequest,
    outcome: Outcome,
    event_id: str,
    attempt: int,
    retries_left: int,
    payload: Mapping[str, Any] | None,
    hook_event: str | None = None,
    retry_in_ms: int | None = None,
) -> AttemptRecord:
    """``hook_event``: the hook's event when the delivery began (a retry keeps it even if the
    hook was edited since); the hook's current one when not given. ``retry_in_ms``: when a
    retry was queued, its delay, recorded as ``retry_due`` (Gregorian seconds, ours: Kazoo
    has no such field) so that the health listing can say when the next try is due."""
    doc: dict[str, Any] = {
        "hook_id": hook.id,
        "hook_event": stored_hook_event(hook_event or hook.hook),
        "event_id": event_id,
        "uri": redact_url(request.uri),
        "method": request.method.lower(),
        "req_headers": redact_headers(request.headers),
        **_wire_url(request),
        "req_body": request.body.decode("utf-8", "replace"),
        "result": "success" if outcome.ok else "failure",
        "try": attempt,
        "retries_left": retries_left,
        "duration_ms": outcome.duration_ms,
    }
    if outcome.reason and not outcome.ok:
        doc["reason"] = outcome.reason
    if outcome.status is not None:
        doc["resp_status_code"] = str(outcome.status)
        # the name Kazoo's attempt schema documents (its code writes resp_status_code); the
        # schema's response_body is not duplicated: it would double every record's size
        doc["response_code"] = doc["resp_status_code"]
        doc["resp_headers"] = dict(outcome.headers)
        doc["resp_body"] = outcome.body
    if outcome.client_error:
        doc["client_error"] = outcome.client_error
    created = now_ms()
    if retry_in_ms is not None:
        doc["retry_due"] = unix_to_gregorian((created + retry_in_ms) // 1000)
    return AttemptRecord(
        id=new_time_ordered_id(created),
        account_id=hook.account_id,
        hook_id=hook.id,
        event_id=event_id,
        created_ms=created,
        result=doc["result"],
        counts_as_failure=not outcome.ok,
        doc=doc,
        payload=dict(payload) if payload is not None else None,
    )
