"""Transforms end to end: the dispatcher with the real SQLite store, the in-process bus and a
real loopback receiver (and token endpoint)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.conftest import Receiver
from webhooksd.bus import Bus, Delivery, QueueSpec, open_bus
from webhooksd.config import load
from webhooksd.delivery.dispatcher import Dispatcher
from webhooksd.delivery.sender import Sender
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.events import Event
from webhooksd.records import Account, AttemptRecord, Hook, HookDoc
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store, open_store

from .conftest import TokenServer

ACCOUNT = "a" * 32
CLUSTER = "c" * 32
EVENT = Event.from_body(
    "callevt", "call.CHANNEL_CREATE.x", {"Event-Category": "call_event", "Event-Name": "X"}
)
PAYLOAD: dict[str, Any] = {
    "account_id": ACCOUNT,
    "call_id": "call-1",
    "call_direction": "inbound",
    "caller_id_name": 'Ann "Quote" \\ Smith',
    "caller_id_number": "+15551234",
    "hook_event": "channel_create",
    "custom_channel_vars": {"owner_id": "user-9", "account_id": ACCOUNT},
}


@dataclass
class Rig:
    dispatcher: Dispatcher
    store: Store
    bus: Bus
    table: HookTable

    async def attempts(self) -> list[AttemptRecord]:
        return await self.store.list_attempts(
            ACCOUNT, created_from_ms=0, created_to_ms=2**62, descending=False
        )


@pytest.fixture(name="rig")
async def fixture_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A dispatcher on SQLite and the memory bus whose retry queue feeds back into it."""
    settings = load(environ={}).replace(allow_private_targets=True, retry_base_delay_ms=20)
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(f"sqlite:///{tmp_path}/t.sqlite3"))
        sender = await stack.enter_async_context(Sender.open(settings))
        bus = await stack.enter_async_context(open_bus("memory://"))
        table = HookTable()
        table.put_account(Account(id=ACCOUNT, name="a"))

        async def on_gone(hook: Hook, reason: str) -> None:
            raise AssertionError("no hook should be gone")

        dispatcher = Dispatcher(
            settings=settings,
            store=store,
            bus=bus,
            sender=sender,
            table=table,
            metrics=Metrics(),
            cluster_id=CLUSTER,
            on_gone=on_gone,
        )
        await bus.declare_queue(QueueSpec(name=settings.retry_queue, durable=True))

        async def retry(delivery: Delivery) -> None:
            await dispatcher.retry(delivery.message.body)
            await delivery.ack()

        await bus.consume(settings.retry_queue, retry, prefetch=10)
        yield Rig(dispatcher, store, bus, table)


async def _hook(rig: Rig, receiver: Receiver, hook_id: str, **doc: Any) -> Hook:
    """Store the hook document and put its compiled form in the table, as the daemon does."""
    full = {"name": hook_id, "uri": f"{receiver.url}/{hook_id}", "hook": "channel_create", **doc}
    stored = await rig.store.create_hook(HookDoc(id=hook_id, account_id=ACCOUNT, doc=full))
    hook = Hook.from_doc(stored)
    rig.table.put(hook)
    return hook


async def test_templated_body_and_headers_arrive_exactly(rig: Rig, receiver: Receiver) -> None:
    """The body is the template filled and JSON-escaped; templated headers are filled."""
    hook = await _hook(
        rig,
        receiver,
        "t" * 32,
        body_template=(
            '{"id": "${call_id}", "who": "${caller_id_name}", '
            '"owner": ${custom_channel_vars.owner_id}, "missing": "${nope|n/a}", "cost": "$$1"}'
        ),
        custom_request_headers={"Content-Type": "application/json", "X-Call": "call=${call_id}"},
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    (got,) = await receiver.wait_for(1)
    assert got.body == (
        b'{"id": "call-1", "who": "Ann \\"Quote\\" \\\\ Smith", '
        b'"owner": "user-9", "missing": "n/a", "cost": "$1"}'
    )
    assert json.loads(got.body)["who"] == PAYLOAD["caller_id_name"]
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Call"] == "call=call-1"
    assert got.headers["X-Hook-ID"] == hook.id
    (attempt,) = await rig.attempts()
    assert attempt.result == "success"
    assert attempt.doc["req_body"] == got.body.decode()
    assert attempt.payload is not None and attempt.payload["call_id"] == "call-1"


async def test_form_template_is_percent_encoded(rig: Rig, receiver: Receiver) -> None:
    """With form-data (no Content-Type header) placeholders are percent-encoded."""
    hook = await _hook(
        rig, receiver, "f" * 32, body_template="name=${caller_id_name}&n=${caller_id_number}"
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    (got,) = await receiver.wait_for(1)
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(got.body.decode()) == {
        "name": [PAYLOAD["caller_id_name"]],
        "n": [PAYLOAD["caller_id_number"]],
    }


async def test_filtered_hook_fires_only_for_matching_events(rig: Rig, receiver: Receiver) -> None:
    """An inbound call passes the filter and arrives; an outbound one is skipped without an
    attempt."""
    hook = await _hook(
        rig,
        receiver,
        "g" * 32,
        format="json",
        filter=[
            {"field": "call_direction", "eq": "inbound"},
            {"field": "caller_id_number", "regex": "^\\+1555"},
        ],
    )
    outbound = {**PAYLOAD, "call_id": "call-out", "call_direction": "outbound"}
    other = Event.from_body("callevt", "call.CHANNEL_CREATE.y", {"Event-Name": "Y"})
    await rig.dispatcher.fire(other, outbound, [hook])
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    (got,) = await receiver.wait_for(1)
    await asyncio.sleep(0.1)  # a window for the filtered-out request, which must not come
    assert len(receiver.requests) == 1
    assert json.loads(got.body)["call_id"] == "call-1"
    attempts = await rig.attempts()
    assert [a.payload["call_id"] for a in attempts if a.payload] == ["call-1"]


async def test_webitel_filter_shape(rig: Rig, receiver: Receiver) -> None:
    """Webitel's filter object decides the same way."""
    hook = await _hook(
        rig,
        receiver,
        "w" * 32,
        filter={"call_direction": {"operation": "!=", "value": "inbound"}},
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    await asyncio.sleep(0.1)  # a window for a request, which must not come: nothing to wait on
    assert receiver.requests == []
    assert await rig.attempts() == []


async def test_mapped_payload_arrives(rig: Rig, receiver: Receiver) -> None:
    """fields keeps call_id and the owner, map renames them; nothing else is sent."""
    hook = await _hook(
        rig,
        receiver,
        "m" * 32,
        format="json",
        fields=["call_id", "custom_channel_vars.owner_id"],
        map={"call_id": "id", "custom_channel_vars.owner_id": "owner"},
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    (got,) = await receiver.wait_for(1)
    assert json.loads(got.body) == {"id": "call-1", "custom_channel_vars": {}, "owner": "user-9"}


async def test_mapped_payload_in_a_get_query(rig: Rig, receiver: Receiver) -> None:
    """A GET hook sends the shaped payload (with cluster_id when listed) as its query."""
    hook = await _hook(
        rig,
        receiver,
        "q" * 32,
        http_verb="get",
        fields=["call_id", "cluster_id"],
        map={"call_id": "call"},
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    (got,) = await receiver.wait_for(1)
    assert (got.method, got.body) == ("GET", b"")
    assert parse_qs(got.query) == {"call": ["call-1"], "cluster_id": [CLUSTER]}


async def test_retry_reshapes_the_original_payload(rig: Rig, receiver: Receiver) -> None:
    """A retried attempt is shaped again from the stored payload: identical bodies."""
    answers = iter([500, 200])
    receiver.decide = lambda _: next(answers)
    hook = await _hook(
        rig, receiver, "r" * 32, format="json", retries=1, fields=["call_id"], map={"call_id": "x"}
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    first, second = await receiver.wait_for(2)
    assert json.loads(first.body) == json.loads(second.body) == {"x": "call-1"}


async def test_basic_and_bearer_auth(rig: Rig, receiver: Receiver) -> None:
    """basic and bearer credentials arrive; attempts never record them."""
    basic = await _hook(
        rig, receiver, "b" * 32, auth={"type": "basic", "username": "u", "password": "p@ss"}
    )
    bearer = await _hook(rig, receiver, "e" * 32, auth={"type": "bearer", "token": "tk-123"})
    await rig.dispatcher.fire(EVENT, PAYLOAD, [basic, bearer])
    got = {r.path: r.headers["Authorization"] for r in await receiver.wait_for(2)}
    assert got == {
        f"/{basic.id}": "Basic " + base64.b64encode(b"u:p@ss").decode(),
        f"/{bearer.id}": "Bearer tk-123",
    }
    for attempt in await rig.attempts():
        assert attempt.doc["req_headers"]["authorization"] == "<redacted>"
        assert "p@ss" not in json.dumps(attempt.doc) and "tk-123" not in json.dumps(attempt.doc)


async def test_token_pre_request_cached_then_refreshed(
    rig: Rig, receiver: Receiver, token_server: TokenServer
) -> None:
    """Three deliveries share one token; after it expires the next delivery gets a new one."""
    token_server.expires_in = 1
    hook = await _hook(
        rig,
        receiver,
        "k" * 32,
        auth={"type": "token", "url": token_server.url, "params": {"client_secret": "cs"}},
        custom_request_headers={"X-Session": "${auth:header:x-session}"},
    )
    for n in range(3):
        event = Event.from_body("callevt", f"call.CHANNEL_CREATE.{n}", {"n": n})
        await rig.dispatcher.fire(event, PAYLOAD, [hook])
    got = await receiver.wait_for(3)
    assert token_server.hits == 1
    assert {r.headers["Authorization"] for r in got} == {"Bearer tok-1"}
    assert {r.headers["X-Session"] for r in got} == {"hdr-1"}
    # expires_in 1 s, refreshed 0.1 s early: the token's age is the condition, and only time
    # passing changes it
    await asyncio.sleep(1.0)
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    got = await receiver.wait_for(4)
    assert token_server.hits == 2
    assert got[3].headers["Authorization"] == "Bearer tok-2"
    for attempt in await rig.attempts():
        headers = attempt.doc["req_headers"]
        assert headers["authorization"] == headers["x-session"] == "<redacted>"


async def test_failed_pre_request_is_a_recorded_failure(
    rig: Rig, receiver: Receiver, token_server: TokenServer
) -> None:
    """A refused token request sends nothing to the hook and records why."""
    token_server.status = 401
    hook = await _hook(
        rig, receiver, "z" * 32, retries=0, auth={"type": "token", "url": token_server.url}
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    await asyncio.sleep(0.1)  # a window for a request, which must not come: nothing to wait on
    assert receiver.requests == []
    (attempt,) = await rig.attempts()
    assert attempt.result == "failure"
    assert attempt.doc["reason"] == "auth pre-request failed"
    assert attempt.doc["client_error"] == "auth_failed: status 401"


async def test_invalid_stored_transforms_fail_visibly(rig: Rig, receiver: Receiver) -> None:
    """A stored hook whose filter no longer compiles records a final failure per event."""
    hook = await _hook(rig, receiver, "i" * 32, retries=0, filter=[{"field": "a", "regex": "("}])
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    (attempt,) = await rig.attempts()
    assert receiver.requests == []
    assert attempt.doc["reason"] == "hook transforms invalid"
    assert "filter.0.regex" in attempt.doc["client_error"]


async def test_compiled_once_per_document(rig: Rig, receiver: Receiver) -> None:
    """The same hook document is compiled once; an edited document is compiled again."""
    hook = await _hook(rig, receiver, "o" * 32, filter=[{"field": "call_id", "exists": True}])
    preparer = rig.dispatcher._prepare
    first = preparer.transforms(hook)
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    assert preparer.transforms(hook) is first
    edited = Hook.from_doc(HookDoc(id=hook.id, account_id=ACCOUNT, doc={**hook.doc, "filter": []}))
    assert preparer.transforms(edited) is not first


async def test_401_from_the_hook_refreshes_the_token(
    rig: Rig, receiver: Receiver, token_server: TokenServer
) -> None:
    """A receiver that rejects the cached token makes the next delivery fetch a new one."""
    receiver.decide = lambda got: 200 if got.headers["Authorization"] == "Bearer tok-2" else 401
    hook = await _hook(
        rig, receiver, "v" * 32, retries=0, auth={"type": "token", "url": token_server.url}
    )
    await rig.dispatcher.fire(EVENT, PAYLOAD, [hook])
    other = Event.from_body("callevt", "call.CHANNEL_CREATE.z", {"n": "z"})
    await rig.dispatcher.fire(other, PAYLOAD, [hook])
    first, second = await receiver.wait_for(2)
    assert first.headers["Authorization"] == "Bearer tok-1"
    assert second.headers["Authorization"] == "Bearer tok-2"
    assert [a.result for a in await rig.attempts()] == ["failure", "success"]
