"""Attempt records with Kazoo's live field names (``webhooks_util:debug_req/5``,
``debug_resp/3``), plus the attempt number and duration Kazoo lacks.

``retries_left`` is always an integer (Kazoo writes the string ``"retries exceeded"`` on the
last try); secrets never reach a record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.kazoo.ids import new_time_ordered_id
from webhooksd.kazoo.timeutil import now_ms, unix_to_gregorian
from webhooksd.records import AttemptRecord, Hook

#: channel hooks are stored upper-case in Kazoo's record (``webhooks_util:hook_event/1``)
_CHANNEL_HOOKS = frozenset(
    {"channel_create", "channel_answer", "channel_bridge", "channel_destroy"}
)
#: searched in the lower-cased name: a case-sensitive search is five times faster than ``re.I``,
#: cheap enough that header names need no cache
_SECRET_HEADER = re.compile(r"auth|token|secret|key|passw|signature|cookie|credential|session|jwt")
#: values that are credentials whatever the header is called (``X-Custom: Bearer …``)
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic|digest|token|negotiate|hmac|aws4-)\b", re.I)
REDACTED = "<redacted>"


def stored_hook_event(hook: str) -> str:
    return hook.upper() if hook in _CHANNEL_HOOKS else hook


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names (as Kazoo records them); credential-looking values redacted."""
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        secret = _SECRET_HEADER.search(lowered) or _SECRET_VALUE.match(value)
        redacted[lowered] = value if secret is None else REDACTED
    return redacted


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
        "uri": request.uri,
        "method": request.method.lower(),
        "req_headers": redact_headers(request.headers),
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
