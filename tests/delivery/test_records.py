"""Attempt records with Kazoo's field names, and retry jobs that survive the queue."""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import orjson
import pytest

from webhooksd.delivery.attempts import (
    REDACTED,
    REPLAY_MSG_PREFIX,
    TEST_MSG_PREFIX,
    attempt_kind,
    attempt_record,
    redact_headers,
)
from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import build_request
from webhooksd.delivery.retryjob import (
    MAX_BUNDLE,
    MAX_BUNDLE_BYTES,
    RetryJob,
    decode_jobs,
    encode_jobs,
)
from webhooksd.errors import MalformedMessage
from webhooksd.records import Hook

ACCOUNT = "a" * 32


def _hook(**doc: Any) -> Hook:
    return Hook(
        id="h" * 32,
        account_id=ACCOUNT,
        name="n",
        uri=doc.pop("uri", "http://r.example/hook?q=1"),
        hook=doc.pop("hook", "channel_answer"),
        **doc,
    )


def _record(hook: Hook, outcome: Outcome, **kw: Any) -> dict[str, Any]:
    request = build_request(hook, {"k": "v"}, msg_id="msg_1", timestamp=1)
    record = attempt_record(
        hook=hook,
        request=request,
        outcome=outcome,
        event_id="e1",
        attempt=kw.pop("attempt", 2),
        retries_left=kw.pop("retries_left", 1),
        payload={"k": "v"},
        **kw,
    )
    assert record.counts_as_failure == (not outcome.ok)
    assert record.account_id == ACCOUNT and record.payload == {"k": "v"}
    return dict(record.doc)


def test_http_failure_fields() -> None:
    """A bad response code: Kazoo's names, the status as a string, lower-cased method."""
    outcome = Outcome(
        kind="retryable",
        status=503,
        headers={"retry-after": "3"},
        body="down",
        reason="bad response code",
        duration_ms=12.5,
    )
    doc = _record(_hook(http_verb="get"), outcome)
    assert doc["hook_event"] == "CHANNEL_ANSWER" and doc["event_id"] == "e1"
    assert doc["uri"] == "http://r.example/hook?q=1" and doc["method"] == "get"
    assert doc["req_body"] == "" and doc["result"] == "failure"
    assert doc["reason"] == "bad response code"
    assert doc["resp_status_code"] == "503" == doc["response_code"]
    assert doc["resp_headers"] == {"retry-after": "3"} and doc["resp_body"] == "down"
    assert doc["try"] == 2 and doc["retries_left"] == 1 and doc["duration_ms"] == 12.5
    assert "client_error" not in doc


def test_transport_failure_fields() -> None:
    """A transport error: client_error and Kazoo's reason, no response fields."""
    outcome = Outcome(
        kind="retryable",
        client_error="failed_connect: econnrefused",
        reason="kazoo http client error",
    )
    doc = _record(_hook(hook="object"), outcome, attempt=3, retries_left=0)
    assert doc["hook_event"] == "object" and doc["retries_left"] == 0
    assert doc["client_error"] == "failed_connect: econnrefused"
    assert "resp_status_code" not in doc and doc["req_body"] == "k=v"


def test_success_has_no_reason_and_hook_event_can_be_pinned() -> None:
    """A success has no reason; a retry records the event its delivery began with."""
    outcome = Outcome(kind="success", status=200, reason=None)
    doc = _record(_hook(hook="all"), outcome, hook_event="channel_create")
    assert doc["result"] == "success" and "reason" not in doc
    assert doc["hook_event"] == "CHANNEL_CREATE"


@pytest.mark.parametrize(
    ("name", "value", "hidden"),
    [
        ("Authorization", "Bearer abc", True),
        ("Proxy-Authorization", "Basic eDp5", True),
        ("X-Api-Key", "k", True),
        ("X-Auth-Token", "t", True),
        ("Cookie", "sid=1", True),
        ("X-Session", "s", True),
        ("webhook-signature", "v1,abc", True),
        ("X-Custom", "Bearer eyJhbGciOi", True),
        ("X-Tenant", "acme", False),
        ("X-Hook-ID", "h", False),
        ("webhook-id", "msg_1", False),
    ],
)
def test_redaction(name: str, value: str, hidden: bool) -> None:
    """Credential-looking names or values are redacted; names are lower-cased."""
    assert redact_headers({name: value}) == {name.lower(): REDACTED if hidden else value}


JOB = RetryJob(
    hook_id="h",
    account_id="a",
    payload={"k": [1, {"x": None}]},
    event_id="e",
    msg_id="msg_1",
    attempt=2,
    event_key="call.CHANNEL_CREATE.x",
    hook_event="channel_create",
)


def test_retry_job_round_trip() -> None:
    """Everything a retry needs comes back out of the bytes."""
    assert RetryJob.decode(JOB.encode()) == JOB


def test_retry_job_without_the_newer_fields_decodes() -> None:
    """A job queued by an older version (no event_key/hook_event) still decodes."""
    raw = orjson.loads(JOB.encode())
    del raw["event_key"], raw["hook_event"], raw["deferred"]
    job = RetryJob.decode(orjson.dumps(raw))
    assert job.event_key == "" and job.hook_event == "" and job.attempt == 2
    assert job.deferred == 0


def test_a_bundle_of_jobs_round_trips() -> None:
    """Several jobs travel as one message; a single job is encoded as itself, so a message
    from an older version decodes as a bundle of one."""
    jobs = [JOB, replace(JOB, hook_id="i", deferred=3)]
    assert decode_jobs(encode_jobs(jobs)) == jobs
    assert encode_jobs([JOB]) == JOB.encode()
    assert decode_jobs(JOB.encode()) == [JOB]
    with pytest.raises(MalformedMessage):
        RetryJob.decode(encode_jobs(jobs))  # a bundle is not one job
    with pytest.raises(ValueError):
        encode_jobs([JOB] * (MAX_BUNDLE + 1))


def test_a_bundle_travels_compressed_and_an_older_plain_one_still_decodes() -> None:
    """A slow tenant's bundle (100 jobs, one event's payload) is a fraction of its JSON on
    the wire: before, 100 KB a message, thousands of jobs a second, loaded the broker and the
    connection every other tenant's events come through (issue 13). A plain bundle queued by
    an older version decodes as before."""
    jobs = [replace(JOB, hook_id=f"{n:032x}") for n in range(MAX_BUNDLE)]
    plain = orjson.dumps({"v": 1, "jobs": [orjson.loads(job.encode()) for job in jobs]})
    wire = encode_jobs(jobs)
    assert len(wire) < len(plain) / 10
    assert decode_jobs(wire) == jobs
    assert decode_jobs(plain) == jobs


def test_a_bundle_that_inflates_past_its_bound_or_is_cut_is_malformed() -> None:
    """A compressed bundle is inflated only up to its bound; a cut or corrupt one is
    MalformedMessage (dead-lettered), never an unbounded allocation."""
    bomb = zlib.compress(b"{" + b" " * (MAX_BUNDLE_BYTES + 1) + b"}", 9)
    wire = encode_jobs([JOB, replace(JOB, hook_id="i")])
    for raw in (bomb, wire[: len(wire) // 2], b"\x78garbage"):
        with pytest.raises(MalformedMessage):
            decode_jobs(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v": 1, "jobs": []}',
        b'{"v": 1, "jobs": {}}',
        b'{"v": 2, "jobs": [{}]}',
        orjson.dumps({"v": 1, "jobs": [orjson.loads(JOB.encode()), {"v": 1}]}),
        orjson.dumps({"v": 1, "jobs": [orjson.loads(JOB.encode())] * (MAX_BUNDLE + 1)}),
        orjson.dumps({**orjson.loads(JOB.encode()), "deferred": -1}),
    ],
)
def test_malformed_bundles_raise(raw: bytes) -> None:
    """A bundle with no jobs, too many, or one bad job is MalformedMessage as a whole."""
    with pytest.raises(MalformedMessage):
        decode_jobs(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"v": 99}',
        orjson.dumps({**orjson.loads(JOB.encode()), "attempt": 0}),
        orjson.dumps({**orjson.loads(JOB.encode()), "payload": [["a", 1]]}),
        orjson.dumps({k: v for k, v in orjson.loads(JOB.encode()).items() if k != "msg_id"}),
    ],
)
def test_malformed_retry_jobs_raise(raw: bytes) -> None:
    """Anything that is not a whole job is MalformedMessage."""
    with pytest.raises(MalformedMessage):
        RetryJob.decode(raw)


def test_record_uri_follows_the_redaction_rule() -> None:
    """The attempt record's ``uri`` hides a userinfo password and secret-looking query values,
    as the hook document and the logs do; the request sent keeps them."""
    uri = "http://bob:hunter2@r.example/hook?token=abc&q=1&API_KEY=zz&sig=s#frag"
    hook = _hook(uri=uri)
    outcome = Outcome(kind="success", status=200, headers={}, body="", duration_ms=1.0)
    doc = _record(hook, outcome)
    assert doc["uri"] == (
        f"http://bob:{REDACTED}@r.example/hook?token={REDACTED}&q=1&API_KEY={REDACTED}"
        f"&sig={REDACTED}#frag"
    )
    assert build_request(hook, {}, msg_id="m", timestamp=1).uri == uri


def test_get_record_has_the_url_requested() -> None:
    """A GET hook's record carries ``req_url``: the URI with the query string built from the
    payload, as requested (redacted as ``uri`` is); a POST's needs none."""
    outcome = Outcome(kind="success", status=200, headers={}, body="", duration_ms=1.0)
    got = _record(_hook(uri="http://bob:pw@r.example/hook?q=1", http_verb="get"), outcome)
    assert got["req_url"] == f"http://bob:{REDACTED}@r.example/hook?q=1&k=v"
    assert got["req_body"] == ""
    assert "req_url" not in _record(_hook(http_verb="post"), outcome)


@pytest.mark.parametrize(
    ("payload", "call_id"),
    [
        ({"call_id": "abc@host"}, "abc@host"),
        ({"Call-ID": "raw-1"}, "raw-1"),
        ({"action": "event", "name": "CHANNEL_CREATE", "data": {"call_id": "v2-1"}}, "v2-1"),
        ({"data": "not an object"}, None),
        ({"call_id": ""}, None),
        ({"call_id": 12}, None),
        ({"call_id": "c" * 257}, None),
        ({"account_id": "x"}, None),
        (None, None),
    ],
)
def test_record_keeps_the_events_call_id(payload: dict[str, Any] | None, call_id: str) -> None:
    """The call an event is about is recorded (bounded) so that the log can be searched by
    it; events of no call, and over-long ids, record none."""
    outcome = Outcome(kind="success", status=200)
    record = attempt_record(
        hook=_hook(),
        request=build_request(_hook(), {}, msg_id="msg_1", timestamp=1),
        outcome=outcome,
        event_id="e1",
        attempt=1,
        retries_left=0,
        payload=payload,
    )
    assert record.call_id == call_id
    assert ("call_id" in record.doc) == (call_id is not None)


@pytest.mark.parametrize(
    ("msg_id", "attempt", "kind"),
    [
        ("msg_abc", 1, "first"),
        ("msg_abc", 3, "retry"),
        (f"{REPLAY_MSG_PREFIX}x", 1, "replay"),
        (f"{TEST_MSG_PREFIX}x", 1, "test"),
    ],
)
def test_attempt_kind(msg_id: str, attempt: int, kind: str) -> None:
    """A record says what it was from its webhook-id and its attempt number."""
    request = build_request(_hook(), {}, msg_id=msg_id, timestamp=1)
    record = attempt_record(
        hook=_hook(),
        request=request,
        outcome=Outcome(kind="success", status=200),
        event_id="e1",
        attempt=attempt,
        retries_left=0,
        payload={},
    )
    assert attempt_kind(record.doc) == kind
    # an attempt that failed unsent (an open breaker) has no headers: its number says
    assert attempt_kind({"try": attempt}) == ("retry" if attempt > 1 else "first")
