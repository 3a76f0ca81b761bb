"""The drain on stop, against the real RabbitMQ: deliveries held by the receiver until the
daemon starts stopping finish, their events are acked, and the bus closes cleanly after them.

The release lands in the same turn of the loop as the stop, so the last handler's ack and its
consumer channel's close race the bus's own shutdown, as a SIGTERM during a burst does. Before
the fix that close was a task of the bus that the bus's shutdown cancelled half-way: aiormq
then sent a second ``channel.close``, and the broker closed the whole connection with
``CHANNEL_ERROR - expected 'channel.open'`` (every run).

The queue is bound to the broker's shared ``callevt`` exchange, so other tests' events can be
left in it (never delivered: not ours to ack); only this test's own events count.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aio_pika
import orjson
import pytest
from aiohttp import web

from tests.conftest import AMQP_URL
from tests.integration.conftest import _delete_queues, running, settings_for
from tests.integration.kazoo_events import channel_create
from tests.loopback import serving
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: deliveries held in flight when the daemon stops
HELD = 4


@dataclass
class Held:
    """A loopback receiver that holds every request until ``release`` is set."""

    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        call = str(json.loads(await request.read()).get("call_id", ""))
        self.started.append(call)
        await self.release.wait()
        self.answered.append(call)
        return web.Response(text="ok")


@pytest.fixture(name="held")
async def _held() -> AsyncIterator[Held]:
    state = Held()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    async with serving(app, shutdown_timeout=0.5) as url:
        state.url = f"{url}/hook"
        try:
            yield state
        finally:
            state.release.set()


async def _left_in(queue: str) -> tuple[list[str], int]:
    """The call ids of the messages left in ``queue`` (taken off it) and its consumer count.

    The queue is bound to the broker's shared ``callevt`` exchange, so other tests' events
    may land in it too: only this test's call ids count."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        consumers = declared.declaration_result.consumer_count or 0
        left = []
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            left.append((message.routing_key or "").rsplit(".", 1)[-1])
        return left, consumers


async def _publish(account: str, calls: list[str]) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("callevt", ensure=False)
        for call in calls:
            key, body = channel_create(account, call)
            await exchange.publish(aio_pika.Message(orjson.dumps(body)), routing_key=key)


async def test_acks_of_deliveries_drained_on_stop_reach_the_broker(
    held: Held, sqlite_store_url: str, tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiormq")
    settings = settings_for(sqlite_store_url, AMQP_URL, tag, drain_timeout_s=30)
    calls = [f"drained-{n}" for n in range(HELD)]
    try:
        async with running(settings) as d:
            doc = {"name": "h", "hook": "channel_create", "uri": held.url, "format": "json"}
            reply = await d.api("PUT", f"/v2/accounts/{d.master_id}/webhooks", doc)
            hook_id = str(reply["data"]["id"])
            await eventually(lambda: d.daemon.table.get(hook_id), what="hook loaded")
            await _publish(d.master_id, calls)
            await eventually(lambda: len(held.started) >= HELD, timeout=30, what="all held")
            assert d.task is not None
            # the stop and the release in one turn of the loop: the handlers finish, ack and
            # the consumer channel closes while the bus is shutting down
            d.task.cancel()
            held.release.set()
        assert sorted(held.answered) == calls
        # the consumer channel closed cleanly: no second channel.close, no broker's
        # CHANNEL_ERROR closing the connection with every channel on it
        broken = [
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("aiormq") and r.levelno >= logging.WARNING
        ]
        assert not broken, broken
        left, consumers = await _left_in(settings.shared_queue)
        assert consumers == 0
        assert not set(left) & set(calls), f"drained events left in the queue: {left}"

        # a restarted daemon sends none of them again: a marker published after them is the
        # first and only request the receiver gets
        held.started.clear()
        held.answered.clear()
        async with running(settings) as d:
            await eventually(lambda: d.daemon.table.get(hook_id), what="hook reloaded")
            await _publish(d.master_id, ["marker"])
            await eventually(lambda: "marker" in held.answered, timeout=30, what="marker sent")
            assert held.started == ["marker"]
    finally:
        await _delete_queues(tag)
