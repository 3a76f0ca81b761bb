"""The dispatcher with the real SQLite store, the in-process bus and a loopback receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import structlog
import structlog.testing
from aiohttp import web

from tests.conftest import Received, Receiver
from tests.loopback import serving
from tests.waiting import eventually
from webhooksd.bus import Bus, Delivery, QueueSpec, open_bus
from webhooksd.config import load
from webhooksd.delivery.attempts import attempt_kind
from webhooksd.delivery.dispatcher import Dispatcher
from webhooksd.delivery.encoding import canonical_json
from webhooksd.delivery.request import OutboundRequest
from webhooksd.delivery.retryjob import RetryJob, decode_jobs
from webhooksd.delivery.sender import Sender
from webhooksd.delivery.v2 import signature, stamped
from webhooksd.errors import MalformedMessage
from webhooksd.hooks.matching import merge_payload, modifiers_pass, select
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.events import Event
from webhooksd.records import Account, AttemptRecord, AttemptSearch, Hook, HookDoc
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store, open_store

ACCOUNT = "a" * 32
CLUSTER = "c" * 32


@dataclass
class Rig:
    dispatcher: Dispatcher
    store: Store
    bus: Bus
    table: HookTable
    gone: list[str] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    sender: Sender | None = None


@pytest.fixture(name="rig_factory")
async def _rig_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """Builds a dispatcher whose retry queue is consumed straight back into it (unless
    ``consume=False``: the test reads the queue itself)."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(f"sqlite:///{tmp_path}/s.sqlite3"))

        async def make(*, consume: bool = True, fail_on_gone: bool = False, **changes: Any) -> Rig:
            settings = load(environ={}).replace(
                **{"allow_private_targets": True, "retry_base_delay_ms": 20, **changes}
            )
            # entered after the store: closed before it, the bus (and its consumers) first
            sender = await stack.enter_async_context(Sender.open(settings))
            bus = await stack.enter_async_context(open_bus("memory://"))
            table = HookTable()
            table.put_account(Account(id=ACCOUNT, name="a"))
            gone: list[str] = []
            metrics = Metrics()

            async def on_gone(hook: Hook, reason: str) -> None:
                gone.append(hook.id)
                if fail_on_gone:
                    raise RuntimeError("the store is down")

            dispatcher = Dispatcher(
                settings=settings,
                store=store,
                bus=bus,
                sender=sender,
                table=table,
                metrics=metrics,
                cluster_id=CLUSTER,
                on_gone=on_gone,
            )
            await bus.declare_queue(QueueSpec(name=settings.retry_queue, durable=True))

            async def retry(delivery: Delivery) -> None:
                await dispatcher.retry(delivery.message.body)
                await delivery.ack()

            if consume:
                await bus.consume(settings.retry_queue, retry, prefetch=10)
            return Rig(dispatcher, store, bus, table, gone, metrics, sender)

        yield make


def _hook(receiver: Receiver, **doc: Any) -> Hook:
    return Hook(
        id=doc.pop("id", "h" * 32),
        account_id=ACCOUNT,
        name="h",
        uri=receiver.url + doc.pop("path", "/hook"),
        hook="channel_create",
        **doc,
    )


EVENT = Event.from_body(
    "callevt",
    "call.CHANNEL_CREATE.x",
    {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE"},
)
PAYLOAD = {"account_id": ACCOUNT, "call_id": "x", "hook_event": "channel_create"}


async def test_fails_twice_then_succeeds_with_one_webhook_id(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """A 500, a 503, then 200: three attempts, the same webhook-id, retries_left 2, 1, 0."""
    rig = await rig_factory()
    hook = _hook(receiver, retries=2, format="json")
    rig.table.put(hook)
    answers = iter([500, 503, 200])
    original = receiver.status

    async def fire() -> None:
        await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])

    receiver.status = next(answers)
    await fire()
    for status in answers:
        await receiver.wait_for(len(receiver.requests))
        receiver.status = status
        await receiver.wait_for(len(receiver.requests) + 1)
    got = await receiver.wait_for(3)
    receiver.status = original
    ids = {r.headers["webhook-id"] for r in got}
    assert len(got) == 3 and len(ids) == 1
    assert [json.loads(r.body)["call_id"] for r in got] == ["x", "x", "x"]

    async def three_recorded() -> list[AttemptRecord]:
        attempts = await rig.store.list_attempts(
            ACCOUNT, created_from_ms=0, created_to_ms=2**62, descending=False
        )
        return attempts if len(attempts) >= 3 else []

    attempts = await eventually(three_recorded, what="three attempts recorded")
    assert [a.doc["retries_left"] for a in attempts] == [2, 1, 0]
    assert [a.doc["try"] for a in attempts] == [1, 2, 3]
    assert [a.result for a in attempts] == ["failure", "failure", "success"]
    assert [a.doc.get("resp_status_code") for a in attempts] == ["500", "503", "200"]
    assert all(isinstance(a.doc["retries_left"], int) for a in attempts)
    # the request log's search: each attempt knows its call and what kind of attempt it was
    assert [a.call_id for a in attempts] == ["x", "x", "x"]
    assert [attempt_kind(a.doc) for a in attempts] == ["first", "retry", "retry"]
    found = await rig.store.list_attempts(
        ACCOUNT, created_from_ms=0, created_to_ms=2**62, search=AttemptSearch(call_id="x")
    )
    assert len(found) == 3


async def test_no_retries_left_means_one_attempt(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """retries=0 sends once; a final 4xx is never retried."""
    rig = await rig_factory()
    receiver.status = 500
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, retries=0)])
    receiver.status = 404
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, id="i" * 32, retries=3)])
    # a window for a wrong retry to arrive (retries are 20 ms apart): nothing to wait on
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 2


async def test_successes_recorded_only_when_asked(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """With log_successful_attempts off only failures are recorded."""
    rig = await rig_factory(log_successful_attempts=False)
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver)])
    assert await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62) == []


async def test_gone_disables_and_is_not_retried(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """410 calls on_gone at once and is final."""
    rig = await rig_factory()
    receiver.status = 410
    hook = _hook(receiver, retries=4)
    rig.table.put(hook)
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    # a window for a wrong retry to arrive (retries are 20 ms apart): nothing to wait on
    await asyncio.sleep(0.2)
    assert rig.gone == [hook.id] and len(receiver.requests) == 1


async def test_retry_of_a_deleted_hook_is_dropped(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """When the hook is gone from the table before its retry, the retry sends nothing."""
    rig = await rig_factory(retry_base_delay_ms=200)
    receiver.status = 500
    hook = _hook(receiver, retries=2)
    rig.table.put(hook)
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    rig.table.remove(hook.id)
    # past the 200 ms retry, which must send nothing: there is no condition to wait on
    await asyncio.sleep(0.5)
    assert len(receiver.requests) == 1


async def test_request_shapes_per_verb_and_format(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """GET puts the payload in the query, POST form-data and PUT JSON in the body; custom
    data is merged (type/action left out) and cluster_id wins; headers as Kazoo's plus
    Standard Webhooks'."""
    rig = await rig_factory()
    custom = {"tenant": "acme", "type": "user", "cluster_id": "mine", "call_id": "over"}
    hooks = [
        _hook(receiver, id="1" * 32, path="/get?x=1", http_verb="get", custom_data=custom),
        _hook(receiver, id="2" * 32, path="/form", http_verb="post"),
        _hook(
            receiver,
            id="3" * 32,
            path="/json",
            http_verb="put",
            format="json",
            secret="whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            custom_request_headers={"X-Custom": "yes", "X-Hook-ID": "spoof"},
        ),
    ]
    await rig.dispatcher.fire(EVENT, PAYLOAD, hooks)
    got = {r.path: r for r in await receiver.wait_for(3)}
    query = dict(parse_qsl(got["/get"].query))
    assert got["/get"].method == "GET" and got["/get"].body == b""
    assert query["x"] == "1" and query["tenant"] == "acme" and query["call_id"] == "over"
    assert query["cluster_id"] == CLUSTER and "type" not in query
    form = dict(parse_qsl(got["/form"].body.decode()))
    assert got["/form"].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {**PAYLOAD, "cluster_id": CLUSTER}
    put = got["/json"]
    assert put.method == "PUT" and put.headers["Content-Type"] == "application/json"
    assert put.headers["X-Hook-ID"] == "3" * 32 and put.headers["X-Custom"] == "yes"
    assert put.headers["X-Account-ID"] == ACCOUNT
    assert put.headers["webhook-signature"].startswith("v1,")
    assert "webhook-signature" not in got["/form"].headers
    attempts = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    recorded = {a.hook_id: a.doc for a in attempts}
    assert recorded["3" * 32]["req_headers"]["webhook-signature"] == "<redacted>"
    assert recorded["1" * 32]["uri"] == hooks[0].uri and recorded["1" * 32]["method"] == "get"
    assert urlsplit(recorded["1" * 32]["uri"]).query == "x=1"
    assert recorded["2" * 32]["hook_event"] == "CHANNEL_CREATE"


def test_modifiers_rules() -> None:
    """Kazoo's hook-document modifiers: absent keys pass, [] passes, lists are membership."""
    payload = {"a": "x", "b": 2}
    assert modifiers_pass(None, payload)
    assert modifiers_pass({"a": "x", "zzz": "absent"}, payload)
    assert modifiers_pass({"a": [], "b": [1, 2]}, payload)
    assert not modifiers_pass({"a": "y"}, payload)
    assert not modifiers_pass({"b": [3]}, payload)


def test_merge_payload_excludes_type_and_action() -> None:
    """custom_data overwrites payload keys but never type, action or cluster_id."""
    hook = Hook(
        id="h",
        account_id=ACCOUNT,
        name="n",
        uri="http://h/",
        hook="object",
        custom_data={"type": "user", "action": "all", "account_id": "x", "k": "v"},
    )
    merged = merge_payload(
        hook, {"type": "device", "action": "doc_created", "account_id": "a"}, CLUSTER
    )
    assert merged == {
        "type": "device",
        "action": "doc_created",
        "account_id": "x",
        "k": "v",
        "cluster_id": CLUSTER,
    }


class _NoHookWithFoo:
    """A filter that drops the hooks whose id starts with ``foo``, noting what it was shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def passes(self, hook: Hook, payload: Mapping[str, Any]) -> bool:
        self.seen.append((hook.id, dict(payload)))
        return not hook.id.startswith("foo")


def test_select_is_the_steps_in_order_for_plain_and_other_hooks() -> None:
    """select gives each hook, plain (no modifiers, no custom_data: the short way) or not, the
    payload steps 3 to 5 give it, in the key order merge_payload makes (``cluster_id`` last,
    or where the payload had it), and shows the filter that merged payload."""

    def hook(hook_id: str, **doc: Any) -> Hook:
        return Hook(id=hook_id, account_id=ACCOUNT, name="n", uri="http://h/", hook="x", **doc)

    hooks = [
        hook("plain"),
        hook("foo-plain"),
        hook("empty", modifiers={}, custom_data={}),
        hook("custom", custom_data={"k": "v", "type": "t", "cluster_id": "mine"}),
        hook("modified", modifiers={"b": 3}),
        hook("modified-pass", modifiers={"b": 2}),
        hook("v2", version="v2"),
    ]
    payloads = [{"a": "x", "b": 2}, {"cluster_id": "old", "a": "x", "b": 2}]
    v2 = {"action": "a", "name": "n", "data": {}}
    for payload in payloads:
        shown = _NoHookWithFoo()
        matches = select(
            hooks, payload, cluster_id=CLUSTER, hook_filter=shown, v2=v2, timestamp=63_000
        )
        expected = []
        for h in hooks:
            body = stamped(h, v2, 63_000) if h.version == "v2" else payload
            if modifiers_pass(h.modifiers, body):
                merged = merge_payload(h, body, None if h.version == "v2" else CLUSTER)
                expected.append((h.id, merged))
        assert shown.seen == expected
        assert [list(m.payload.items()) for m in matches] == [
            list(merged.items()) for hook_id, merged in expected if not hook_id.startswith("foo")
        ]
        assert [m.hook.id for m in matches] == ["plain", "empty", "custom", "modified-pass", "v2"]
        # cluster_id last, or where the payload had it
        assert list(matches[0].payload) == list(dict.fromkeys([*payload, "cluster_id"]))
        assert matches[0].payload["cluster_id"] == CLUSTER


def _verifies(secret: str, got: Received) -> bool:
    """An independent Standard Webhooks check of one received request (stdlib only)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode()
    mac = base64.b64encode(hmac.new(key, signed + got.body, hashlib.sha256).digest()).decode()
    return f"v1,{mac}" in got.headers["webhook-signature"].split(" ")


async def test_retry_uses_the_current_hook_and_the_same_webhook_id(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """A retry goes to the hook as configured now, with the stored payload, the same
    webhook-id (also the queued job's message id) and a signature that verifies."""
    rig = await rig_factory(consume=False)
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    hook = _hook(receiver, path="/v1", retries=1, secret=secret)
    rig.table.put(hook)
    jobs: asyncio.Queue[Delivery] = asyncio.Queue()

    async def take(delivery: Delivery) -> None:
        await jobs.put(delivery)

    await rig.bus.consume(load(environ={}).retry_queue, take, prefetch=10)
    receiver.status = 500
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    job = await asyncio.wait_for(jobs.get(), 5)
    first = receiver.requests[0]
    assert job.message.message_id == first.headers["webhook-id"]
    rig.table.put(replace(hook, uri=receiver.url + "/v2", format="json"))
    receiver.status = 200
    await rig.dispatcher.retry(job.message.body)
    await job.ack()
    first, second = await receiver.wait_for(2)
    assert (first.path, second.path) == ("/v1", "/v2")
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert json.loads(second.body) == dict(parse_qsl(first.body.decode()))
    assert json.loads(second.body) == {**PAYLOAD, "cluster_id": CLUSTER}
    assert _verifies(secret, first) and _verifies(secret, second)
    attempts = await rig.store.list_attempts(
        ACCOUNT, created_from_ms=0, created_to_ms=2**62, descending=False
    )
    assert [(a.doc["try"], a.doc["retries_left"]) for a in attempts] == [(1, 1), (2, 0)]
    assert {a.doc["hook_event"] for a in attempts} == {"CHANNEL_CREATE"}
    assert jobs.empty()


async def test_modifiers_are_checked_before_custom_data(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """Modifiers read the formatted payload: custom_data neither adds nor changes what they
    see; a list modifier is a membership test."""
    rig = await rig_factory()
    custom = {"call_id": "changed", "extra": "e"}
    passes = _hook(
        receiver,
        id="1" * 32,
        path="/pass",
        custom_data=custom,
        modifiers={"call_id": "x", "extra": "other", "hook_event": []},
    )
    blocked = _hook(receiver, id="2" * 32, path="/blocked", modifiers={"call_id": ["y", "z"]})
    listed = _hook(receiver, id="3" * 32, path="/listed", modifiers={"call_id": ["x", "y"]})
    await rig.dispatcher.fire(EVENT, PAYLOAD, [passes, blocked, listed])
    await receiver.wait_for(2)
    await asyncio.sleep(0.05)  # a window for the blocked hook's request, which must not come
    assert sorted(r.path for r in receiver.requests) == ["/listed", "/pass"]
    sent = dict(parse_qsl(next(r for r in receiver.requests if r.path == "/pass").body.decode()))
    assert sent["call_id"] == "changed" and sent["extra"] == "e"


async def test_send_test_is_one_recorded_attempt_even_for_a_disabled_hook(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """The API's test event: one attempt, recorded even when successes are not, never
    retried, sent to a disabled hook too."""
    rig = await rig_factory(log_successful_attempts=False)
    hook = _hook(receiver, retries=4, enabled=False)
    receiver.status = 500
    failed = await rig.dispatcher.send_test(hook, PAYLOAD)
    receiver.status = 200
    passed = await rig.dispatcher.send_test(hook, PAYLOAD)
    # a window for a retry of the failed test event, which must not come
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 2
    assert (failed.result, failed.doc["resp_status_code"], failed.doc["retries_left"]) == (
        "failure",
        "500",
        0,
    )
    assert passed.result == "success" and passed.payload == {**PAYLOAD, "cluster_id": CLUSTER}
    assert attempt_kind(passed.doc) == attempt_kind(failed.doc) == "test"
    stored = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    assert {a.id for a in stored} == {failed.id, passed.id}


async def test_replay_resends_the_stored_payload_to_the_current_hook(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """A replay sends the attempt's payload to the hook as stored now, as a new attempt."""
    rig = await rig_factory()
    await rig.store.create_account(Account(id=ACCOUNT, name="a"))
    current = {"name": "h", "uri": receiver.url + "/now", "hook": "channel_create"}
    stored = await rig.store.create_hook(
        HookDoc(id="h" * 32, account_id=ACCOUNT, doc={**current, "http_verb": "put"})
    )
    receiver.status = 404
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, path="/then", retries=0)])
    [original] = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    receiver.status = 200
    fresh = await rig.dispatcher.replay(original)
    then, now = await receiver.wait_for(2)
    assert (then.path, then.method, now.path, now.method) == ("/then", "POST", "/now", "PUT")
    assert now.body == then.body and fresh.id != original.id and fresh.result == "success"
    assert fresh.payload == original.payload and fresh.event_id == original.event_id
    assert now.headers["webhook-id"] != then.headers["webhook-id"]
    assert (attempt_kind(original.doc), attempt_kind(fresh.doc)) == ("first", "replay")
    await rig.store.delete_hook(stored.id)
    with pytest.raises(LookupError):
        await rig.dispatcher.replay(original)


async def test_a_malformed_retry_job_raises(rig_factory: Callable[..., Awaitable[Rig]]) -> None:
    """A retry job that cannot be decoded is MalformedMessage (the worker dead-letters it)."""
    rig = await rig_factory()
    with pytest.raises(MalformedMessage):
        await rig.dispatcher.retry(b'{"v": 1, "hook_id": "h"}')


async def test_a_failing_on_gone_does_not_fail_the_event(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """When disabling a gone hook fails, the other hooks' attempts are still recorded and
    the event still completes (the 410 counts as a failure for the disabler)."""
    rig = await rig_factory(fail_on_gone=True)
    receiver.decide = lambda got: 410 if got.path == "/gone" else 200
    hooks = [_hook(receiver, id="1" * 32, path="/gone"), _hook(receiver, id="2" * 32)]
    await rig.dispatcher.fire(EVENT, PAYLOAD, hooks)
    attempts = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    assert rig.gone == ["1" * 32]
    assert {(a.hook_id, a.result, a.counts_as_failure) for a in attempts} == {
        ("1" * 32, "failure", True),
        ("2" * 32, "success", False),
    }


@dataclass
class Hanging:
    """A receiver that reads each request's head and answers nothing until ``release``."""

    port: int = 0
    held: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.held.append(await reader.readuntil(b"\r\n\r\n"))
        await self.release.wait()
        writer.close()


@pytest.fixture(name="hanging")
async def _hanging() -> AsyncIterator[Hanging]:
    hanging = Hanging()
    server = await asyncio.start_server(hanging.hang, "127.0.0.1", 0)
    hanging.port = server.sockets[0].getsockname()[1]
    try:
        yield hanging
    finally:
        hanging.release.set()
        server.close()
        await server.wait_closed()


def _answering_slowly(header: str) -> tuple[web.Application, list[str]]:
    """A receiver that answers every request on /hook after 0.1 s (its own service time),
    and the ``header`` of each request, as they arrive."""
    arrived: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        arrived.append(request.headers[header])
        await asyncio.sleep(0.1)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/hook", answer)
    return app, arrived


async def _queued_jobs(rig: Rig) -> asyncio.Queue[RetryJob]:
    """What the dispatcher puts on the retry queue, decoded (nothing is sent back)."""
    jobs: asyncio.Queue[RetryJob] = asyncio.Queue()

    async def take(delivery: Delivery) -> None:
        for job in decode_jobs(delivery.message.body):
            await jobs.put(job)
        await delivery.ack()

    await rig.bus.consume(load(environ={}).retry_queue, take, prefetch=100)
    return jobs


async def _attempts(rig: Rig) -> list[AttemptRecord]:
    return await rig.store.list_attempts(
        ACCOUNT, created_from_ms=0, created_to_ms=2**62, descending=False
    )


async def test_an_open_breaker_fails_the_attempt_and_it_counts(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """Once the endpoint's breaker is open an attempt is not sent but recorded as a failure
    naming the last error, counting toward auto-disable and using a retry (as the failure
    Kazoo would have had); before, it was deferred unrecorded and no hook was ever disabled."""
    rig = await rig_factory(consume=False, breaker_failures=2, breaker_cooldown_ms=300)
    jobs = await _queued_jobs(rig)
    receiver.status = 503
    hook = _hook(receiver, retries=3)
    rig.table.put(hook)
    for _ in range(3):
        await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    assert len(receiver.requests) == 2  # the third found the breaker open
    attempts = await _attempts(rig)
    assert len(attempts) == 3 and all(a.counts_as_failure for a in attempts)
    assert attempts[2].doc["client_error"] == "circuit open: http 503"
    assert attempts[2].doc["retries_left"] == 3
    queued = [await asyncio.wait_for(jobs.get(), 5) for _ in range(3)]
    assert sorted(j.attempt for j in queued) == [2, 2, 2]
    failures = await rig.store.count_failures(0)
    assert [(f.hook_id, f.count) for f in failures] == [(hook.id, 3)]


async def test_a_hooks_retry_backlog_is_bounded(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """At max_pending_retries queued jobs a hook's next failure is final (retries_left 0,
    nothing queued); a job coming back makes room again."""
    rig = await rig_factory(consume=False, max_pending_retries=2, breaker_failures=0)
    jobs = await _queued_jobs(rig)
    receiver.status = 500
    hook = _hook(receiver, retries=2)
    rig.table.put(hook)
    for _ in range(3):
        await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    assert [a.doc["retries_left"] for a in await _attempts(rig)] == [2, 2, 0]
    first = await asyncio.wait_for(jobs.get(), 5)
    await asyncio.wait_for(jobs.get(), 5)
    assert jobs.empty()
    await rig.dispatcher.retry(first.encode())  # back from the queue, failed and queued again
    assert (await asyncio.wait_for(jobs.get(), 5)).attempt == 3


async def test_an_attempt_that_finds_its_endpoint_busy_goes_to_the_retry_queue(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """No slot free at once (endpoint_wait_ms 0, one slot, two hooks on one endpoint): the
    second attempt is queued unsent as the same attempt (try 1, the same webhook-id, one more
    deferral), nothing recorded for it, and the event is done; sent later it is attempt 1."""
    rig = await rig_factory(consume=False, endpoint_concurrency=1, endpoint_wait_ms=0)
    jobs = await _queued_jobs(rig)
    hooks = [_hook(receiver, id="1" * 32), _hook(receiver, id="2" * 32)]
    for hook in hooks:
        rig.table.put(hook)
    await rig.dispatcher.fire(EVENT, PAYLOAD, hooks)
    assert len(receiver.requests) == 1
    assert len(await _attempts(rig)) == 1
    job = await asyncio.wait_for(jobs.get(), 5)
    sent_to = receiver.requests[0].headers["X-Hook-ID"]
    assert job.hook_id != sent_to and (job.attempt, job.deferred) == (1, 1)
    await rig.dispatcher.retry(job.encode())
    second = (await receiver.wait_for(2))[1]
    assert second.headers["webhook-id"] == job.msg_id
    attempts = await _attempts(rig)
    assert [(a.hook_id, a.doc["try"], a.result) for a in attempts][1] == (
        job.hook_id,
        1,
        "success",
    )


async def test_an_open_breakers_failures_of_one_event_are_one_message(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """The failures an open breaker gives one event's hooks are queued as one message (one
    publish, not one per hook); the bundle comes back as each hook's next attempt."""
    # the attempts a probe holds back wait for it to have answered: a short timeout keeps
    # that short here
    rig = await rig_factory(
        consume=False, breaker_failures=1, breaker_cooldown_ms=200, request_timeout_ms=500
    )
    messages: asyncio.Queue[bytes] = asyncio.Queue()

    async def take(delivery: Delivery) -> None:
        await messages.put(delivery.message.body)
        await delivery.ack()

    await rig.bus.consume(load(environ={}).retry_queue, take, prefetch=10)
    receiver.status = 503
    opener = _hook(receiver, id="0" * 32, retries=0)
    await rig.dispatcher.fire(EVENT, PAYLOAD, [opener])  # one failure opens the breaker
    hooks = [_hook(receiver, id=str(n) * 32, retries=2) for n in range(1, 6)]
    for hook in hooks:
        rig.table.put(hook)
    await rig.dispatcher.fire(EVENT, PAYLOAD, hooks)
    assert len(receiver.requests) == 1
    bundle = await asyncio.wait_for(messages.get(), 5)
    jobs = decode_jobs(bundle)
    assert sorted(j.hook_id for j in jobs) == sorted(h.id for h in hooks)
    assert {j.attempt for j in jobs} == {2}
    assert messages.empty()
    receiver.status = 200
    # the breaker's cool-down is over: one attempt is its probe (and closes it); the others,
    # failed unsent while the probe was in flight (half-open), come back as one message
    await rig.dispatcher.retry(bundle)
    assert len(await receiver.wait_for(2)) == 2
    again = await asyncio.wait_for(messages.get(), 5)
    assert len(decode_jobs(again)) == 4 and {j.attempt for j in decode_jobs(again)} == {3}
    await rig.dispatcher.retry(again)  # closed: each is sent
    got = await receiver.wait_for(6)
    assert {r.headers["X-Hook-ID"] for r in got[1:]} == {h.id for h in hooks}


async def test_a_uri_too_broken_to_name_an_endpoint_is_a_final_failure(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """The breaker and busy checks run on the hook's URI before the request is built: a URI
    that names no endpoint (an unclosed IPv6 bracket) must come to a recorded final failure,
    not an exception failing the whole event for every other hook."""
    rig = await rig_factory()
    broken = replace(_hook(receiver, id="1" * 32), uri="http://[::1/hook")
    await rig.dispatcher.fire(EVENT, PAYLOAD, [broken, _hook(receiver, id="2" * 32)])
    attempts = {a.hook_id: a for a in await _attempts(rig)}
    assert attempts["1" * 32].result == "failure"
    assert attempts["1" * 32].doc["client_error"].startswith("malformed_url")
    assert attempts["2" * 32].result == "success"


async def test_an_open_breakers_failures_are_recorded_at_most_once_a_second(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """Each failure an open breaker gives is retried and counted in the metrics, but a hook
    gets at most one such row a second (4,000 rows a second for a dead endpoint's 200 hooks
    were more than the store could write beside everyone else's)."""
    # the first attempt's 503 is retried after retry_base_delay_ms, not the cool-down: a
    # minute, so that no job comes back while the 20 events go (at load 13 they took over the
    # default 2 s, and the first retry was already back in `jobs`)
    rig = await rig_factory(
        consume=False, breaker_failures=1, breaker_cooldown_ms=5000, retry_base_delay_ms=60_000
    )
    jobs = await _queued_jobs(rig)
    receiver.status = 503
    hook = _hook(receiver, retries=3)
    rig.table.put(hook)
    started = time.monotonic()
    for _ in range(20):
        await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    elapsed_s = time.monotonic() - started
    assert len(receiver.requests) == 1  # the first opened the breaker
    unsent = [a for a in await _attempts(rig) if "circuit" in a.doc.get("client_error", "")]
    assert 1 <= len(unsent) <= 1 + elapsed_s
    # every one is retried, after the cool-down: counted as queued (the queue delays them)
    queued = rig.metrics.registry.get_sample_value("webhooksd_retries_queued_total")
    assert queued == 20
    assert jobs.empty()


V2_KEY = "v2-key-not-for-any-record"
V2_EVENT = Event.from_body(
    "callevt",
    "call.CHANNEL_CREATE.y",
    {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_CREATE",
        "App-Name": "freeswitch",
        "Msg-ID": "m1",
        "Call-ID": "y",
        "Password": "never-sent",
        "Custom-Channel-Vars": {"Account-ID": ACCOUNT},
    },
)
V2_DATA = {"call_id": "y", "custom_channel_vars": {"account_id": ACCOUNT}}


def _v2_mac(timestamp: int, data: Any) -> str:
    """The documented rule, with the standard library."""
    signed = (
        str(timestamp).encode() + json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    )
    return base64.b64encode(hmac.new(V2_KEY.encode(), signed, hashlib.sha256).digest()).decode()


async def test_v2_hooks_get_kazoo5s_envelope_and_v1_hooks_their_payload(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """One event, a v1 and a v2 hook: the v1 hook gets the module's payload with
    ``cluster_id``, the v2 hook the sanitized event in the envelope, signed; no attempt record,
    log line or repr holds the key."""
    rig = await rig_factory(log_successful_attempts=True)
    v1 = _hook(receiver, id="1" * 32, path="/v1", format="json")
    v2 = _hook(receiver, id="2" * 32, path="/v2", format="json", version="v2", sha256_key=V2_KEY)
    rig.table.put(v1)
    rig.table.put(v2)
    with structlog.testing.capture_logs() as logs:
        await rig.dispatcher.fire(V2_EVENT, PAYLOAD, [v1, v2])
    got = {r.path: r for r in receiver.requests}
    assert json.loads(got["/v1"].body) == {**PAYLOAD, "cluster_id": CLUSTER}
    body = json.loads(got["/v2"].body)
    stamp = body["timestamp"]
    assert abs(stamp - (int(time.time()) + 62_167_219_200)) < 60
    assert body == {
        "action": "event",
        "name": "CHANNEL_CREATE",
        "data": V2_DATA,
        "timestamp": stamp,
        "hmac": _v2_mac(stamp, V2_DATA),
    }
    attempts = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    assert len(attempts) == 2
    assert V2_KEY not in str([(a.doc, a.payload) for a in attempts])
    assert V2_KEY not in str(logs) and V2_KEY not in repr(v2)


async def test_v2_modifiers_and_custom_data_work_on_the_envelope(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """As in Kazoo 5, a v2 hook's modifiers are checked against the envelope and its
    ``custom_data`` merged beside ``data``, outside what the HMAC covers."""
    rig = await rig_factory()
    wrong = _hook(receiver, id="3" * 32, path="/wrong", version="v2", modifiers={"name": "X"})
    right = _hook(
        receiver,
        id="4" * 32,
        path="/right",
        format="json",
        version="v2",
        sha256_key=V2_KEY,
        modifiers={"name": ["CHANNEL_CREATE"]},
        custom_data={"tenant": "acme"},
    )
    await rig.dispatcher.fire(V2_EVENT, PAYLOAD, [wrong, right])
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert request.path == "/right" and body["tenant"] == "acme"
    assert body["hmac"] == _v2_mac(body["timestamp"], V2_DATA)


async def test_send_test_of_a_v2_hook_wraps_the_sample(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """The API's test event of a v2 hook is the sample in the envelope, named by the hook
    type; a hook whose key is empty sends no ``hmac`` (Kazoo reads a non-empty key only)."""
    rig = await rig_factory()
    stored = HookDoc(
        id="5" * 32,
        account_id=ACCOUNT,
        doc={
            "name": "t",
            "uri": receiver.url + "/t",
            "hook": "channel_create",
            "format": "json",
            "version": "v2",
            "security_settings": {"sha256_key": ""},
        },
    )
    unsigned = Hook.from_doc(stored)
    assert unsigned.sha256_key is None
    await rig.dispatcher.send_test(unsigned, PAYLOAD)
    signed = replace(unsigned, sha256_key=V2_KEY)
    await rig.dispatcher.send_test(signed, PAYLOAD)
    first, second = (json.loads(r.body) for r in receiver.requests)
    assert set(first) == {"action", "name", "data", "timestamp"}
    assert (first["name"], first["data"]) == ("channel_create", PAYLOAD)
    assert second["hmac"] == _v2_mac(second["timestamp"], PAYLOAD)


def test_v2_signature_matches_kazoos_documented_example() -> None:
    """``kazoo-crossbar/doc/webhooks.md``: key 123, timestamp 63834206532, ``{"foo":"bar"}``."""
    assert signature("123", 63834206532, {"foo": "bar"}) == (
        "z481V/jZHAnFEjNCMORc2FgX03CyzxV+fLV6BWhnY6U="
    )
    assert canonical_json({"b": {"d": 1, "c": [True, None]}, "a": "é/"}) == (
        '{"a":"é/","b":{"c":[true,null],"d":1}}'.encode()
    )


async def test_an_open_breakers_many_failures_leave_the_loop_free_between_chunks(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """An event whose 200 hooks share an endpoint with an open breaker settles their failures
    a chunk at a time, letting the event loop run other work (another tenant's event)
    between: a task watching the failure count sees it part-way. Before: all 200 in one
    synchronous stretch, the count jumping from 0 to 200 (issue 13)."""
    rig = await rig_factory(consume=False, breaker_failures=1)
    receiver.status = 503
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, id="0" * 32, retries=0)])
    hooks = [_hook(receiver, id=f"{n:032d}", retries=1) for n in range(1, 201)]
    for hook in hooks:
        rig.table.put(hook)

    def failed() -> float:
        value = rig.metrics.registry.get_sample_value(
            "webhooksd_deliveries_total", {"result": "failure", "status_class": "none"}
        )
        return value or 0.0

    before = failed()
    seen: list[float] = []
    firing = asyncio.create_task(rig.dispatcher.fire(EVENT, PAYLOAD, hooks))
    while not firing.done():
        seen.append(failed() - before)
        await asyncio.sleep(0)
    await firing
    assert failed() - before == 200
    assert any(0 < count < 200 for count in seen), seen


async def test_an_account_at_its_in_flight_limit_has_its_events_deferred_untried(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver, hanging: Hanging
) -> None:
    """With account_inflight=2 and two of account A's events held by a receiver that does
    not answer for the stall bound (half the request timeout), A's next event is handed to
    the retry queue untried (the same attempt, no retry used) and returns at once, while
    account B's event is delivered meanwhile. Before: A's third event took another of the
    endpoint's slots and held its prefetch slot too, so a tenant with slow endpoints could
    fill the prefetch every tenant shares (issue 13). (The test deferred the third event as
    soon as two were in flight, however young: that was the defect that deferred a fast
    tenant's events on a busy daemon; it now waits until A is holding.)"""
    rig = await rig_factory(consume=False, account_inflight=2, request_timeout_ms=4000)
    other = "b" * 32
    rig.table.put_account(Account(id=other, name="b"))
    messages: asyncio.Queue[bytes] = asyncio.Queue()

    async def take(delivery: Delivery) -> None:
        await messages.put(delivery.message.body)
        await delivery.ack()

    await rig.bus.consume(load(environ={}).retry_queue, take, prefetch=10)
    held, port = hanging.held, hanging.port
    slow = Hook(
        id="1" * 32, account_id=ACCOUNT, name="s", uri=f"http://127.0.0.1:{port}/slow",
        hook="channel_create", retries=1,
    )  # fmt: skip
    fast = Hook(
        id="2" * 32, account_id=other, name="f", uri=receiver.url + "/fast", hook="channel_create"
    )
    rig.table.put(slow)
    try:
        first = [asyncio.create_task(rig.dispatcher.fire(EVENT, PAYLOAD, [slow])) for _ in "ab"]
        await eventually(lambda: len(held) == 2, what="two of A's requests held")
        assert not rig.dispatcher.holding(ACCOUNT)  # young: a busy daemon's look as well
        await eventually(lambda: rig.dispatcher.holding(ACCOUNT), what="A holding")
        await asyncio.wait_for(rig.dispatcher.fire(EVENT, PAYLOAD, [slow]), 5)
        (job,) = decode_jobs(await asyncio.wait_for(messages.get(), 5))
        assert (job.hook_id, job.attempt, job.deferred) == (slow.id, 1, 1)
        await asyncio.wait_for(rig.dispatcher.fire(EVENT, PAYLOAD, [fast]), 5)
        assert [r.path for r in receiver.requests] == ["/fast"]
        assert len(held) == 2  # A's third event sent nothing
        assert _deferred(rig) == {"account": 1, "endpoint": 0}
    finally:
        hanging.release.set()
        await asyncio.gather(*first, return_exceptions=True)


async def test_an_out_of_reach_failure_count_still_samples_an_open_breakers_records(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """With attempt_failure_count set out of reach (how an operator keeps failing hooks on),
    ten events in a row to a hook whose breaker is open record one failure, not ten: the
    sampling interval has a floor. Before: it shrank to microseconds, a row per failure
    (4,000 a second for the issue's slow tenant, more than the store could write)."""
    rig = await rig_factory(
        consume=False, breaker_failures=1, attempt_failure_count=1_000_000, retry_base_delay_ms=10
    )
    receiver.status = 503
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, id="0" * 32, retries=0)])
    hook = _hook(receiver, id="1" * 32, retries=3)
    rig.table.put(hook)
    for _ in range(10):
        await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    attempts = await rig.store.list_attempts(ACCOUNT, created_from_ms=0, created_to_ms=2**62)
    opened = [a for a in attempts if a.hook_id == hook.id]
    assert len(receiver.requests) == 1
    assert len(opened) == 1, len(opened)


def _event(n: int) -> Event:
    return Event.from_body(
        "callevt",
        f"call.CHANNEL_CREATE.{n}",
        {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE", "Call-ID": str(n)},
    )


async def _open_breaker_delays(rig: Rig, receiver: Receiver, events: int, hooks: int) -> list[int]:
    """The delays of the retry messages that ``events`` events to ``hooks`` hooks give once
    one failure has opened the endpoint's breaker."""
    delays: list[int] = []
    publish_delayed = rig.bus.publish_delayed

    async def noting(queue: str, body: bytes, delay_ms: int, **kw: Any) -> None:
        delays.append(delay_ms)
        await publish_delayed(queue, body, delay_ms, **kw)

    rig.bus.publish_delayed = noting  # type: ignore[method-assign]
    receiver.status = 503
    await rig.dispatcher.fire(EVENT, PAYLOAD, [_hook(receiver, id="0" * 32, retries=0)])
    assert delays == [] and len(receiver.requests) == 1  # the breaker is open
    many = [_hook(receiver, id=f"{n:032d}", retries=3) for n in range(1, hooks + 1)]
    for hook in many:
        rig.table.put(hook)
    for n in range(events):
        await rig.dispatcher.fire(_event(n), PAYLOAD, many)
    assert len(receiver.requests) == 1
    return delays


async def test_an_open_breakers_failures_fall_due_over_a_whole_cool_down(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """200 events' failures of one hook whose breaker is open fall due no sooner than its
    probe and spread over the whole cool-down after it, each at its own time. Before: spread
    over half of it, so the retries of a cool-down's events came back twice as densely."""
    cooldown_ms = 30_000
    rig = await rig_factory(consume=False, breaker_failures=1, breaker_cooldown_ms=cooldown_ms)
    started = time.monotonic()
    delays = await _open_breaker_delays(rig, receiver, events=200, hooks=1)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert len(delays) == 200
    assert min(delays) >= cooldown_ms - elapsed_ms - 1  # not before the probe may go
    assert max(delays) <= 2 * cooldown_ms
    assert max(delays) - min(delays) >= 0.8 * cooldown_ms, (min(delays), max(delays))
    seconds = {d // 1000 for d in delays}
    assert len(seconds) >= 25, sorted(seconds)  # no second of the 30 holds many of them


async def test_an_open_breakers_bundles_do_not_all_fall_due_together(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """An event whose 200 hooks fail on an open breaker gives two bundles; 40 such events'
    bundles fall due spread over the cool-down. Before: each bundle went at the longest
    delay of its 100 jobs, the very end of the spread, so every bundle of a cool-down came
    back within the same second (issue 13's last 5-second window)."""
    cooldown_ms = 30_000
    rig = await rig_factory(consume=False, breaker_failures=1, breaker_cooldown_ms=cooldown_ms)
    delays = await _open_breaker_delays(rig, receiver, events=40, hooks=200)
    assert len(delays) == 80
    assert max(delays) - min(delays) >= 0.5 * cooldown_ms, (min(delays), max(delays))
    seconds = {d // 1000 for d in delays}
    assert len(seconds) >= 15, sorted(seconds)


async def test_auth_pre_requests_to_a_slow_token_endpoint_are_bounded_like_deliveries(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """Ten hooks whose token endpoint holds every request: it never has more than
    endpoint_concurrency (2) of them at once, and while it holds two, a second event to the
    ten hooks is done at once, each delivery handed to the retry queue untried (attempt 1,
    one deferral): its pre-request could not start within endpoint_wait_ms, or another
    delivery's refresh of the hook's token did not end within it. Before: each waited for a
    slot on the token endpoint as long as it took, holding its event (issue 13)."""
    rig = await rig_factory(
        consume=False, endpoint_concurrency=2, endpoint_queue=3, endpoint_wait_ms=50
    )
    jobs = await _queued_jobs(rig)
    release = asyncio.Event()
    held = 0
    peak = 0

    async def slow_token(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal held, peak
        try:
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        held += 1
        peak = max(peak, held)
        await release.wait()
        body = b'{"access_token": "t", "expires_in": 3600}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        held -= 1
        writer.close()

    server = await asyncio.start_server(slow_token, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    auth = {"type": "token", "url": f"http://127.0.0.1:{port}/token", "params": {"a": "b"}}
    hooks = [
        replace(_hook(receiver, id=f"{n:032d}", retries=1), doc={"auth": auth})
        for n in range(1, 11)
    ]
    for hook in hooks:
        rig.table.put(hook)
    firing = asyncio.create_task(rig.dispatcher.fire(EVENT, PAYLOAD, hooks))
    try:
        await eventually(lambda: held == 2, what="two pre-requests held")
        await asyncio.wait_for(rig.dispatcher.fire(_event(1), PAYLOAD, hooks), 5)
        deferred = [await asyncio.wait_for(jobs.get(), 5) for _ in range(10)]
        assert sorted(j.hook_id for j in deferred) == sorted(h.id for h in hooks)
        assert {(j.attempt, j.deferred) for j in deferred} == {(1, 1)}
        assert held == 2 and peak == 2 and not firing.done()
        assert receiver.requests == []
    finally:
        release.set()
        await asyncio.wait_for(asyncio.gather(firing, return_exceptions=True), 10)
        server.close()
        await server.wait_closed()
    # the first event: the two with a token delivered, the other eight deferred
    assert len(await receiver.wait_for(2)) == 2
    later = [await asyncio.wait_for(jobs.get(), 5) for _ in range(8)]
    assert {(j.attempt, j.deferred) for j in later} == {(1, 1)}
    assert peak == 2


def _deferred(rig: Rig) -> dict[str, float]:
    """webhooksd_attempts_deferred_total by reason."""
    return {
        reason: rig.metrics.registry.get_sample_value(
            "webhooksd_attempts_deferred_total", {"reason": reason}
        )
        or 0.0
        for reason in ("account", "endpoint")
    }


async def test_an_accounts_burst_to_a_fast_endpoint_is_delivered_in_place(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver
) -> None:
    """Ten of one account's events at once (account_inflight 2, a backlog of 3) to a receiver
    that answers at once: all ten are sent, none deferred, no failure recorded. Before:
    eight were deferred only because ten were in flight (what a daemon saturated by its own
    work looks like to the count), the backlog took three and five became "retry backlog
    full: endpoint busy" failures, which auto-disabled the benchmark's hook."""
    rig = await rig_factory(consume=False, account_inflight=2, max_pending_retries=3)
    hook = _hook(receiver, retries=1)
    rig.table.put(hook)
    await asyncio.gather(*(rig.dispatcher.fire(_event(n), PAYLOAD, [hook]) for n in range(10)))
    assert len(receiver.requests) == 10
    attempts = await _attempts(rig)
    assert [a.result for a in attempts] == ["success"] * 10
    assert await rig.store.count_failures(0) == []
    assert _deferred(rig) == {"account": 0, "endpoint": 0}
    assert rig.metrics.registry.get_sample_value("webhooksd_retries_queued_total") == 0


async def test_attempts_wait_for_an_endpoint_that_keeps_freeing_slots(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    """One slot, ten hooks of one event on an endpoint answering after 0.1 s, waits of
    0.5 s: the tenth waits 0.9 s in all, but a slot is freed every 0.1 s, so all ten are
    sent in place. Before: the wait was a fixed 0.5 s, and the last five were deferred
    though the endpoint answered every request promptly (on a saturated event loop a healthy
    endpoint's slots turn over slower than the wait in just this way)."""
    rig = await rig_factory(
        consume=False, endpoint_concurrency=1, endpoint_wait_ms=500, max_pending_retries=2
    )
    app, arrived = _answering_slowly("X-Hook-ID")
    async with serving(app) as url:
        hooks = [
            Hook(
                id=f"{n:032d}",
                account_id=ACCOUNT,
                name="h",
                uri=url + "/hook",
                hook="channel_create",
            )
            for n in range(10)
        ]
        for hook in hooks:
            rig.table.put(hook)
        await rig.dispatcher.fire(EVENT, PAYLOAD, hooks)
    assert sorted(arrived) == sorted(h.id for h in hooks)
    assert [a.result for a in await _attempts(rig)] == ["success"] * 10
    assert _deferred(rig) == {"account": 0, "endpoint": 0}


async def test_a_busy_endpoint_deferral_without_room_is_attempted_in_place(
    rig_factory: Callable[..., Awaitable[Rig]],
) -> None:
    """One slot, one waiter, a backlog of 1: of five events at once to one hook on an
    endpoint answering after 0.1 s, the third finds the waiting room full and is deferred,
    the fourth and fifth find the backlog full too and wait in place: four sent, one queued,
    no failure. Before: the fourth and fifth were "retry backlog full: endpoint busy"
    failures, counted toward auto-disable of a hook whose endpoint answered every request."""
    rig = await rig_factory(
        consume=False, endpoint_concurrency=1, endpoint_queue=1, max_pending_retries=1
    )
    jobs = await _queued_jobs(rig)
    app, arrived = _answering_slowly("webhook-id")
    async with serving(app) as url:
        hook = Hook(
            id="1" * 32, account_id=ACCOUNT, name="h", uri=url + "/hook",
            hook="channel_create", retries=1,
        )  # fmt: skip
        rig.table.put(hook)
        await asyncio.gather(*(rig.dispatcher.fire(_event(n), PAYLOAD, [hook]) for n in range(5)))
    assert len(arrived) == 4
    job = await asyncio.wait_for(jobs.get(), 5)
    assert (job.attempt, job.deferred) == (1, 1) and job.msg_id not in arrived
    assert [a.result for a in await _attempts(rig)] == ["success"] * 4
    assert await rig.store.count_failures(0) == []
    assert _deferred(rig) == {"account": 0, "endpoint": 1}


async def test_a_stalled_endpoints_deferral_without_room_is_a_failure(
    rig_factory: Callable[..., Awaitable[Rig]], hanging: Hanging
) -> None:
    """One slot held by a receiver that does not answer, past the stall bound (half the
    request timeout), a backlog of 1: the next event's attempt is deferred, the one after
    finds the backlog full and, its endpoint stalled, is the failure "retry backlog full:
    endpoint busy", counted (issue 13 keeps a stalled endpoint's deferred work bounded)."""
    rig = await rig_factory(
        consume=False, endpoint_concurrency=1, max_pending_retries=1, request_timeout_ms=2000
    )
    jobs = await _queued_jobs(rig)
    held, port = hanging.held, hanging.port
    hook = Hook(
        id="1" * 32, account_id=ACCOUNT, name="s", uri=f"http://127.0.0.1:{port}/slow",
        hook="channel_create", retries=1,
    )  # fmt: skip
    rig.table.put(hook)
    sender = rig.sender
    assert sender is not None
    unsent = OutboundRequest(method="POST", uri=hook.uri, url=hook.uri)
    try:
        first = asyncio.create_task(rig.dispatcher.fire(_event(0), PAYLOAD, [hook]))
        await eventually(lambda: len(held) == 1, what="the slot held")
        await eventually(lambda: sender.stalled(unsent), what="the endpoint stalled")
        await asyncio.wait_for(rig.dispatcher.fire(_event(1), PAYLOAD, [hook]), 5)
        await asyncio.wait_for(rig.dispatcher.fire(_event(2), PAYLOAD, [hook]), 5)
        job = await asyncio.wait_for(jobs.get(), 5)
        assert (job.attempt, job.deferred) == (1, 1)
        (failed,) = await _attempts(rig)
        assert failed.doc["client_error"] == "retry backlog full: endpoint busy"
        assert failed.counts_as_failure
        assert _deferred(rig) == {"account": 0, "endpoint": 1}
    finally:
        hanging.release.set()
        await asyncio.gather(first, return_exceptions=True)


@pytest.mark.parametrize("hooks", [1, 2])
async def test_an_attempts_log_ids_stay_its_own(
    rig_factory: Callable[..., Awaitable[Rig]], receiver: Receiver, hooks: int
) -> None:
    """Each attempt's log lines carry its account, hook and event ids, and the caller's
    context is what it was once the event is delivered: one hook's attempt runs in the
    caller's task (two run as tasks of their own), and binds nothing there."""
    rig = await rig_factory(consume=False)
    mine = [_hook(receiver, id=f"{n}" * 32, path=f"/{n}", retries=0) for n in range(hooks)]
    for hook in mine:
        rig.table.put(hook)
    receiver.status = 500
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(hook_id="outer", routing_key="k")
    try:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            await rig.dispatcher.fire(EVENT, PAYLOAD, mine)
            structlog.get_logger().info("after")
        after = structlog.contextvars.get_contextvars()
    finally:
        structlog.contextvars.clear_contextvars()
    assert after == {"hook_id": "outer", "routing_key": "k"}
    failed = [e for e in logs if e["event"] == "delivery failed"]
    assert sorted(e["hook_id"] for e in failed) == sorted(hook.id for hook in mine)
    assert {(e["account_id"], e["event_id"], e["routing_key"]) for e in failed} == {
        (ACCOUNT, EVENT.event_id, "k")
    }
    (last,) = [e for e in logs if e["event"] == "after"]
    assert (last["hook_id"], "account_id" in last, "event_id" in last) == ("outer", False, False)
