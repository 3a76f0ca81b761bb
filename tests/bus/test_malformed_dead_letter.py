"""Bus messages the shared listener cannot use are dead-lettered with their reason, on the
in-process bus and on RabbitMQ (``webhooksd.dead_letter``): wrongly-typed inner fields (an
``Account-ID`` that is a number, ``Custom-Channel-Vars`` that is a list, an ``Event-Name`` that
is an object, ...) and a gzip bomb. Messages the modules ignore legitimately (no hook, no
account) are acked, not dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import orjson
import pytest

from tests.waiting import eventually
from webhooksd.bus import DEAD_LETTER, REASON_HEADER, Bus, Message, QueueSpec
from webhooksd.hooks import HookModule
from webhooksd.hooks.contract import validate
from webhooksd.listeners.shared import SharedListener
from webhooksd.records import Account
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import Store, open_store
from webhooksd_hooks import channel_create, notifications, parking, sms
from webhooksd_hooks import object as object_hook

from .conftest import AMQP_URL
from .support import Collector, Scratch

ACCOUNT = "a" * 32
UNKNOWN = "f" * 32
#: a field value meaning "leave the envelope key out"
DROP = "<dropped>"

#: (exchange, routing-key word, body, a part of the reason)
MALFORMED: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "callevt",
        "call.CHANNEL_CREATE",
        {"Custom-Channel-Vars": {"Account-ID": 12345}},
        "Custom-Channel-Vars.Account-ID is a number, not a string",
    ),
    (
        "callevt",
        "call.CHANNEL_CREATE",
        {"Custom-Channel-Vars": ["Account-ID", ACCOUNT]},
        "Custom-Channel-Vars is a list, not an object",
    ),
    (
        "callevt",
        "call.CHANNEL_CREATE",
        {"Event-Name": {"name": "CHANNEL_CREATE"}},
        "missing or non-string 'Event-Name'",
    ),
    ("callevt", "call.PARK_PARKED", {"Event-Name": "PARK_PARKED", "Call-ID": 7}, "Call-ID is"),
    (
        "im",
        "sms.inbound.offnet",
        {"Event-Category": "sms", "Event-Name": "inbound", "Account-ID": 5},
        "Account-ID is a number, not a string",
    ),
    (
        "im",
        "sms.inbound.offnet",
        {
            "Event-Category": "sms",
            "Event-Name": "inbound",
            "Account-ID": ACCOUNT,
            "Message-ID": "m",
            "Body": ["hi"],
            "From": "+1",
            "To": "+2",
        },
        "Body not a string",
    ),
    (
        "configuration",
        "doc_edited.accounts.user",
        {"Event-Category": "configuration", "Event-Name": "doc_edited", "ID": "x", "Database": 5},
        "Database is a number, not a string",
    ),
    (
        "notifications",
        "notifications.account.low_balance",
        {
            "Event-Category": "notification",
            "Event-Name": "low_balance",
            "account_id": 5,
            "Account-ID": ACCOUNT,
            "Current-Balance": 1,
        },
        "account id is not a string",
    ),
    # kz_api:validate/4 refuses these for lack of the envelope (?DEFAULT_HEADERS)
    (
        "callevt",
        "call.PARK_PARKED",
        {"App-Name": DROP, "Custom-Channel-Vars": {"Account-ID": ACCOUNT}},
        "missing envelope header(s) App-Name",
    ),
    (
        "im",
        "sms.inbound.offnet",
        {"Event-Category": "sms", "Event-Name": "inbound", "Msg-ID": DROP, "App-Version": DROP},
        "missing envelope header(s) App-Version, Msg-ID",
    ),
    (
        "configuration",
        "doc_edited.accounts.user",
        {"Event-Category": "configuration", "Event-Name": "doc_edited", "App-Version": DROP},
        "missing envelope header(s) App-Version",
    ),
    (
        "notifications",
        "notifications.account.low_balance",
        {"Event-Category": "notification", "Event-Name": "low_balance", "Msg-ID": DROP},
        "missing envelope header(s) Msg-ID",
    ),
]

#: ignored on purpose: an account without hooks, no account at all
IGNORED: list[tuple[str, str, dict[str, Any]]] = [
    ("callevt", "call.CHANNEL_CREATE", {"Custom-Channel-Vars": {"Account-ID": UNKNOWN}}),
    ("callevt", "call.CHANNEL_CREATE", {"Custom-Channel-Vars": {"Account-ID": ACCOUNT}}),
    ("callevt", "call.CHANNEL_CREATE", {}),
    ("im", "sms.inbound.offnet", {"Event-Category": "sms", "Event-Name": "inbound"}),
]


def _body(routing: str, fields: dict[str, Any], call_id: str) -> bytes:
    base: dict[str, Any] = {
        "Event-Category": "call_event",
        "Event-Name": routing.split(".")[1],
        "App-Name": "tests",
        "App-Version": "4.3.0",
        "Msg-ID": call_id,
        "Call-ID": call_id,
    }
    return orjson.dumps({k: v for k, v in {**base, **fields}.items() if v != DROP})


def _gzip_bomb(inflated: int = 64 << 20) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(compressor.compress(block) for _ in range(inflated >> 20)) + compressor.flush()


@pytest.fixture(name="store")
async def _store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/s.sqlite3") as store:
        await store.create_account(Account(id=ACCOUNT, name="acct"))
        yield store


class NoHooks:
    """A hook context without hooks: every event is one the modules ignore or refuse."""

    settings: Any = None

    def account(self, account_id: str) -> None:
        return None

    def find_hooks(self, hook_event: str, account_id: str | None) -> list[Any]:
        return []

    async def fire(self, *_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("nothing may fire")

    async def init_metadata(self, *_args: Any) -> None:
        return None


def _modules() -> dict[str, HookModule]:
    loaded = {
        "channel_create": channel_create,
        "parking": parking,
        "sms": sms,
        "object": object_hook,
        "notifications": notifications,
    }
    return {name: validate(name, module) for name, module in loaded.items()}


@contextlib.asynccontextmanager
async def _running(listener: SharedListener) -> AsyncIterator[None]:
    handle = ChildHandle("test")
    task = asyncio.create_task(listener(handle))
    await asyncio.wait_for(handle.wait_ready(), 10)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _key(routing: str, msg_id: str) -> str:
    """The routing key: a word of ours at the end, except for notifications (bound exactly)."""
    return routing if routing.startswith("notifications.") else f"{routing}.{msg_id}"


async def _publish_gzip(exchange: str, routing_key: str, msg_id: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(
            aio_pika.Message(
                _gzip_bomb(),
                content_encoding="gzip",
                content_type="application/json",
                message_id=msg_id,
            ),
            routing_key,
        )


async def test_malformed_messages_are_dead_lettered_with_their_reason(
    bus: Bus, scratch: Scratch, store: Store
) -> None:
    """Each malformed shape reaches DEAD_LETTER with its reason in REASON_HEADER and is
    counted as malformed; ignored messages are acked. On RabbitMQ a gzip bomb too."""
    metrics = Metrics()
    queue = scratch.queue("shared")
    listener = SharedListener(
        bus=bus,
        metrics=metrics,
        store=store,
        modules=_modules(),
        ctx=NoHooks(),
        queue_name=queue,
        prefetch=1,  # in order: the ignored ones are settled before the malformed arrive
        node="n",
        drain_timeout_s=1,
    )
    watcher = scratch.queue("watch")
    await bus.declare_queue(QueueSpec(name=watcher))
    await bus.bind(watcher, DEAD_LETTER, "")
    dead = Collector()
    await bus.consume(watcher, dead, prefetch=50)
    tag = scratch.prefix.rsplit(".", 1)[1]

    def mine() -> dict[str | None, Message]:
        # DEAD_LETTER is a fanout shared with other runs: keep what our queue rejected
        return {
            m.message_id: m
            for m in dead.received
            if m.headers.get("x-first-death-queue") == queue
            and (m.message_id or "").startswith(tag)
        }

    expected: dict[str, str] = {}
    async with _running(listener):
        for n, (exchange, routing, fields) in enumerate(IGNORED):
            msg_id = f"{tag}-ok-{n}"
            body = _body(routing, fields, msg_id)
            await bus.publish(exchange, _key(routing, msg_id), body, message_id=msg_id)
        for n, (exchange, routing, fields, reason) in enumerate(MALFORMED):
            msg_id = f"{tag}-bad-{n}"
            expected[msg_id] = reason
            body = _body(routing, fields, msg_id)
            await bus.publish(exchange, _key(routing, msg_id), body, message_id=msg_id)
        if scratch.kind == "amqp":  # the memory bus publishes no content encoding
            msg_id = f"{tag}-bomb"
            expected[msg_id] = "inflates to more than"
            await _publish_gzip("callevt", _key("call.CHANNEL_CREATE", msg_id), msg_id)
        await eventually(lambda: len(mine()) >= len(expected), timeout=20, what="dead letters")
    got = mine()
    assert set(got) == set(expected), "an ignored message was dead-lettered, or one is missing"
    for key, reason in expected.items():
        header = str(got[key].headers.get(REASON_HEADER))
        assert header.startswith("malformed: ") and reason in header, (key, header)
    counted = {
        s.labels["reason"]: s.value
        for s in next(iter(metrics.events_dead_lettered.collect())).samples
        if s.name.endswith("_total")
    }
    # on RabbitMQ other runs' messages on these exchanges reach this queue too
    assert counted.get("malformed", 0) >= len(expected)
    assert "handler_error" not in counted
    if scratch.kind == "memory":
        assert counted == {"malformed": len(expected)}
