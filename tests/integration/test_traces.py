"""Traces end to end: a real daemon, a real loopback receiver and a real OTLP/HTTP collector.

One event matching two hooks is one trace, as the collector got it: ``consume`` (the root) with
the children ``match``, an ``attempt`` per hook, ``record`` and ``ack``, each carrying the ids;
the receiver gets the attempt span's ``traceparent`` when the setting asks and none when not;
a retry is a trace of its own linked to the attempt that queued it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator

import orjson
import pytest
from opentelemetry import trace

from tests.conftest import Receiver
from tests.integration.conftest import DaemonFactory, RunningDaemon
from tests.integration.kazoo_events import channel_create
from tests.otlp import Collector, GotSpan, collector
from tests.waiting import eventually

pytestmark = pytest.mark.integration

CHILDREN = ["ack", "attempt", "attempt", "match", "record"]
SPAN_KIND_CLIENT, SPAN_KIND_CONSUMER = 3, 5
STATUS_ERROR = 2


@pytest.fixture(name="otlp")
async def _otlp() -> AsyncIterator[Collector]:
    async with collector() as got:
        yield got


async def _two_hooks(d: RunningDaemon, receiver: Receiver) -> dict[str, str]:
    """Two channel_create hooks of the master account; path → hook id."""
    ids: dict[str, str] = {}
    for path in ("/first", "/second"):
        reply = await d.api(
            "PUT",
            f"/v2/accounts/{d.master_id}/webhooks",
            {"name": path, "hook": "channel_create", "uri": receiver.url + path, "format": "json"},
        )
        ids[path] = reply["data"]["id"]
    await eventually(
        lambda: all(d.daemon.table.get(i) is not None for i in ids.values()), what="hooks loaded"
    )
    return ids


async def _publish(d: RunningDaemon, call_id: str) -> None:
    routing_key, body = channel_create(d.master_id, call_id)
    await d.daemon.bus.publish("callevt", routing_key, orjson.dumps(body))


async def _trace(otlp: Collector, hook_ids: dict[str, str]) -> list[GotSpan]:
    """The trace of the event, once all six of its spans arrived."""

    def complete() -> list[GotSpan] | None:
        spans = otlp.trace_of(**{"webhooksd.hook_id": hook_ids["/first"]})
        return spans if len(spans) >= len(CHILDREN) + 1 else None

    return await eventually(complete, timeout=15, what="the event's trace exported")


def _check_tree(spans: list[GotSpan], d: RunningDaemon, hook_ids: dict[str, str]) -> None:
    assert len({s.trace_id for s in spans}) == 1
    (root,) = [s for s in spans if s.parent_id == ""]
    assert root.name == "consume" and root.kind == SPAN_KIND_CONSUMER
    assert root.attributes["webhooksd.event_name"] == "CHANNEL_CREATE"
    assert root.attributes["webhooksd.event_category"] == "call_event"
    assert re.fullmatch("[0-9a-f]{10}", root.attributes["webhooksd.event_id"])
    assert root.attributes["messaging.rabbitmq.destination.routing_key"].startswith(
        "call.CHANNEL_CREATE."
    )
    assert root.resource["service.name"] == "webhooksd"
    assert root.resource["service.instance.id"] == d.daemon.settings.node
    children = [s for s in spans if s is not root]
    assert sorted(s.name for s in children) == CHILDREN
    assert all(s.parent_id == root.span_id for s in children)
    (match,) = [s for s in children if s.name == "match"]
    assert match.attributes["webhooksd.account_id"] == d.master_id
    assert match.attributes["webhooksd.hooks"] == 2 and match.attributes["webhooksd.matched"] == 2
    attempts = {s.attributes["webhooksd.hook_id"]: s for s in children if s.name == "attempt"}
    assert set(attempts) == set(hook_ids.values())
    for attempt in attempts.values():
        assert attempt.kind == SPAN_KIND_CLIENT
        assert attempt.attributes["webhooksd.account_id"] == d.master_id
        assert attempt.attributes["webhooksd.event_id"] == root.attributes["webhooksd.event_id"]
        assert attempt.attributes["webhooksd.hook_event"] == "channel_create"
        assert attempt.attributes["http.request.method"] == "POST"
        assert attempt.attributes["server.address"] == "127.0.0.1"
        assert attempt.attributes["http.response.status_code"] == 200
        assert attempt.attributes["webhooksd.result"] == "success"
        # the host and port only: never the URL (its path and query may hold credentials)
        assert not any(
            "/first" in str(v) or "/second" in str(v) for v in attempt.attributes.values()
        )


async def test_one_event_two_hooks_is_one_trace_and_receivers_get_traceparent(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, otlp: Collector
) -> None:
    d = await daemons(
        sqlite_store_url,
        amqp_url="memory://",
        otlp_endpoint=otlp.url,
        otlp_headers=("x-collector-key=s3cret",),
        traceparent=True,
    )
    hook_ids = await _two_hooks(d, receiver)
    await _publish(d, "traced-1")
    got = await receiver.wait_for(2)
    spans = await _trace(otlp, hook_ids)
    _check_tree(spans, d, hook_ids)
    # the attempt span's id, in W3C format, on each request: the receiver can join the trace
    attempts = {s.attributes["webhooksd.hook_id"]: s for s in spans if s.name == "attempt"}
    for request in got:
        attempt = attempts[request.headers["X-Hook-ID"]]
        assert request.headers.getall("traceparent") == [
            f"00-{attempt.trace_id}-{attempt.span_id}-01"
        ]
    assert all(h.get("x-collector-key") == "s3cret" for h in otlp.headers)
    # the daemon's provider is its own: nothing in the process was made to trace globally
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"


async def test_on_rabbitmq_without_traceparent(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, otlp: Collector
) -> None:
    """The same trace through the real broker; with ``traceparent`` off (the default) the
    receiver gets no such header."""
    d = await daemons(sqlite_store_url, otlp_endpoint=otlp.url)
    hook_ids = await _two_hooks(d, receiver)
    routing_key, body = channel_create(d.master_id, "traced-amqp")
    await d.daemon.bus.publish("callevt", routing_key, orjson.dumps(body))
    got = await receiver.wait_for(2)
    spans = await _trace(otlp, hook_ids)
    _check_tree(spans, d, hook_ids)
    (root,) = [s for s in spans if s.parent_id == ""]
    assert root.attributes["messaging.destination.name"] == d.daemon.settings.shared_queue
    assert all("traceparent" not in r.headers for r in got)


async def test_a_retry_is_its_own_trace_linked_to_the_failed_attempt(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, otlp: Collector
) -> None:
    d = await daemons(
        sqlite_store_url, amqp_url="memory://", otlp_endpoint=otlp.url, traceparent=True
    )
    receiver.decide = lambda r: 503 if len(receiver.requests) == 1 else 200
    reply = await d.api(
        "PUT",
        f"/v2/accounts/{d.master_id}/webhooks",
        {"name": "flaky", "hook": "channel_create", "uri": receiver.url + "/x", "retries": 2},
    )
    hook_id = reply["data"]["id"]
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="hook loaded")
    await _publish(d, "retried-1")
    first, second = await receiver.wait_for(2, timeout=15)

    def attempts() -> list[GotSpan] | None:
        found = [
            s
            for s in otlp.spans
            if s.name == "attempt" and s.attributes["webhooksd.hook_id"] == hook_id
        ]
        return found if len(found) == 2 else None

    failed, retried = sorted(
        await eventually(attempts, timeout=15, what="both attempts exported"),
        key=lambda s: s.attributes["webhooksd.attempt"],
    )
    assert failed.attributes["webhooksd.result"] == "failure"
    assert failed.attributes["webhooksd.cause"] == "HTTP 503"
    assert failed.status_code == STATUS_ERROR and failed.status_message == "HTTP 503"
    assert retried.attributes["webhooksd.result"] == "success"
    assert retried.trace_id != failed.trace_id
    assert retried.links == [
        (failed.trace_id, failed.span_id, {"webhooksd.link": "previous attempt"})
    ]
    retry_root = next(s for s in otlp.spans if s.span_id == retried.parent_id)
    assert retry_root.name == "consume"
    assert retry_root.attributes["messaging.destination.name"] == d.daemon.settings.retry_queue
    # each request names its own attempt; both carry the same webhook-id
    assert first.headers["traceparent"] == f"00-{failed.trace_id}-{failed.span_id}-01"
    assert second.headers["traceparent"] == f"00-{retried.trace_id}-{retried.span_id}-01"
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


async def test_sampled_out_events_are_delivered_and_not_exported(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, otlp: Collector
) -> None:
    d = await daemons(
        sqlite_store_url,
        amqp_url="memory://",
        otlp_endpoint=otlp.url,
        trace_sample_ratio=0.0,
        traceparent=True,
    )
    hook_ids = await _two_hooks(d, receiver)
    await _publish(d, "unsampled-1")
    got = await receiver.wait_for(2)
    # the receiver still gets a valid traceparent, flagged not sampled
    assert all(
        re.fullmatch("00-[0-9a-f]{32}-[0-9a-f]{16}-00", r.headers["traceparent"]) for r in got
    )
    await d.stop()  # flushes: whatever was to be exported has been
    assert not [s for s in otlp.spans if s.attributes.get("webhooksd.hook_id") in hook_ids.values()]


def test_off_by_default_imports_no_opentelemetry() -> None:
    """Tracing off costs nothing: the daemon's modules load without OpenTelemetry."""
    code = (
        "import sys, webhooksd.runtime.daemon, webhooksd.cli;"
        "from webhooksd.config import load;"
        "assert load(environ={}).otlp_endpoint == '';"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout


async def test_a_dead_lettered_message_and_an_api_test_send_have_their_traces(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, otlp: Collector
) -> None:
    d = await daemons(sqlite_store_url, amqp_url="memory://", otlp_endpoint=otlp.url)
    hook_ids = await _two_hooks(d, receiver)
    await d.daemon.bus.publish("callevt", "call.CHANNEL_CREATE.bad", b"not json")

    def dead_lettered() -> list[GotSpan] | None:
        spans = otlp.trace_of(
            **{"messaging.rabbitmq.destination.routing_key": "call.CHANNEL_CREATE.bad"}
        )
        return spans if len(spans) == 2 else None

    root, child = sorted(
        await eventually(dead_lettered, timeout=15, what="the trace"), key=lambda s: s.parent_id
    )
    assert (
        root.name == "consume" and child.name == "dead_letter" and child.parent_id == root.span_id
    )
    # the test event of the API: a trace rooted at "send", not an attempt without a parent
    await d.api("POST", f"/v2/accounts/{d.master_id}/webhooks/{hook_ids['/first']}/test")

    def sent() -> list[GotSpan] | None:
        spans = otlp.trace_of(**{"webhooksd.hook_id": hook_ids["/first"]})
        return spans if len(spans) == 3 else None

    spans = await eventually(sent, timeout=15, what="the test send's trace")
    (send,) = [s for s in spans if s.parent_id == ""]
    assert send.name == "send"
    assert sorted(s.name for s in spans if s.parent_id == send.span_id) == ["attempt", "record"]
