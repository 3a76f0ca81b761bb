"""Attempt records with Kazoo's live field names (``webhooks_util:debug_req/5``,
``debug_resp/3``), plus the attempt number and duration Kazoo lacks.

``retries_left`` is always an integer (Kazoo writes the string ``"retries exceeded"`` on the
last try); secrets never reach a record. ``call_id`` (ours) is the call whose event was
delivered, so that the request log can be searched by call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.kazoo.ids import new_time_ordered_id
from webhooksd.kazoo.timeutil import now_ms, unix_to_gregorian
from webhooksd.records import AttemptRecord, AttemptResult, Hook
from webhooksd.redaction import REDACTED, redact_headers, redact_url

__all__ = [
    "REDACTED",
    "REPLAY_MSG_PREFIX",
    "TEST_MSG_PREFIX",
    "AttemptKind",
    "attempt_kind",
    "attempt_record",
    "body_is_payload",
    "payload_call_id",
    "redact_headers",
    "stored_hook_event",
]

#: channel hooks are stored upper-case in Kazoo's record (``webhooks_util:hook_event/1``)
_CHANNEL_HOOKS = frozenset(
    {"channel_create", "channel_answer", "channel_bridge", "channel_destroy"}
)


def stored_hook_event(hook: str) -> str:
    return hook.upper() if hook in _CHANNEL_HOOKS else hook


#: how the ``webhook-id`` of a test event and of a replay begins (an event's is its own)
TEST_MSG_PREFIX: Final = "msg_test_"
REPLAY_MSG_PREFIX: Final = "msg_replay_"

#: what an attempt was: an event's first attempt, one of its retries, a replay of it, or the
#: API's test event
AttemptKind = Literal["first", "retry", "replay", "test"]


def attempt_kind(doc: Mapping[str, Any]) -> AttemptKind:
    """An attempt record's kind, from what every record holds: the ``webhook-id`` it was sent
    with (a replay's and a test's have their own prefixes) and its attempt number (``try``).
    An attempt that failed unsent (an open breaker) has no headers; only events' do that."""
    headers = doc.get("req_headers")
    msg_id = headers.get("webhook-id") if isinstance(headers, Mapping) else None
    if isinstance(msg_id, str) and msg_id.startswith(TEST_MSG_PREFIX):
        return "test"
    if isinstance(msg_id, str) and msg_id.startswith(REPLAY_MSG_PREFIX):
        return "replay"
    number = doc.get("try")
    return "retry" if isinstance(number, int) and number > 1 else "first"


#: longer call ids are not recorded (Kazoo's are a few dozen characters; a SIP Call-ID has
#: no limit, but a search box needs one)
MAX_CALL_ID = 256


def payload_call_id(payload: Mapping[str, Any] | None) -> str | None:
    """The call an event payload is about: ``call_id`` as webhooks send it, ``Call-ID`` as
    Kazoo publishes it (a hook's renames may have kept it), or either inside ``data`` (Kazoo
    5's ``v2`` envelope), if it is a bounded string."""
    if payload is None:
        return None
    inner = payload.get("data")
    for doc in (payload, inner if isinstance(inner, Mapping) else {}):
        for key in ("call_id", "Call-ID"):
            value = doc.get(key)
            if isinstance(value, str) and 0 < len(value) <= MAX_CALL_ID:
                return value
    return None


#: hook document keys whose transforms make the body something other than the payload's JSON
#: (``fields``/``map`` shape it first, ``body_template`` replaces it)
_BODY_TRANSFORMS = ("fields", "map", "body_template")


def body_is_payload(hook: Hook, body: str) -> bool:
    """Whether ``body`` (a request's body as recorded) is exactly
    :func:`~webhooksd.delivery.encoding.json_body` of the payload it was built from, and reads
    back as that payload: a ``v1`` JSON hook's body, with no transform that reshapes or
    replaces it. Such a record keeps one copy (the body); the store reads the payload back
    from it (:mod:`webhooksd.store._codec`). Form bodies, Kazoo 5's canonical ``v2`` bodies
    (sorted keys: the payload's order is lost) and transformed ones keep both; so do the two
    bodies that do not read back exactly: one with a lone surrogate (not UTF-8, recorded with
    a replacement character) and one with a zero float (jiffy prints ``-0.0`` as ``0.0``)."""
    if hook.format != "json" or hook.version != "v1" or not body.startswith("{"):
        return False
    # a zero float is a value of its own (pretty printing puts it after a space, and a comma
    # or the line's end after it), not the start of 0.05
    if "\ufffd" in body or " 0.0," in body or " 0.0\n" in body:
        return False
    doc = hook.doc
    return not doc or not any(key in doc for key in _BODY_TRANSFORMS)


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
    body = request.body.decode("utf-8", "replace")
    ok = outcome.ok
    result: AttemptResult = "success" if ok else "failure"
    doc: dict[str, Any] = {
        "hook_id": hook.id,
        "hook_event": stored_hook_event(hook_event or hook.hook),
        "event_id": event_id,
        "uri": redact_url(request.uri),
        "method": request.method.lower(),
        "req_headers": redact_headers(request.headers),
    }
    # ``req_url`` (ours, additive): the URL as requested when it is not ``uri`` (a GET
    # hook's query string), redacted as ``uri`` is, so the attempt can be reproduced. The
    # keys are set one by one in the order records have always had: no mapping made per
    # attempt to be unpacked into the document (nearly always an empty one)
    url = request.url
    if url and url != request.uri:
        doc["req_url"] = redact_url(url)
    doc["req_body"] = body
    doc["result"] = result
    doc["try"] = attempt
    doc["retries_left"] = retries_left
    doc["duration_ms"] = outcome.duration_ms
    call_id = payload_call_id(payload)
    if call_id is not None:
        doc["call_id"] = call_id
    if outcome.reason and not ok:
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
        result=result,
        counts_as_failure=not ok,
        doc=doc,
        payload=dict(payload) if payload is not None else None,
        payload_in_body=payload is not None and body_is_payload(hook, body),
    )
