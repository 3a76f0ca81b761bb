"""The consumer registered on aiormq's channel: what aio-pika's robust queue did for it, and
the message exactly as aio-pika's ``IncomingMessage`` gave it (headers included)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import aio_pika
import pytest
from pamqp import commands as spec

from tests.waiting import eventually
from webhooksd.bus import Message, QueueSpec
from webhooksd.bus._amqp_consumer import AmqpConsumer
from webhooksd.bus.amqp import AmqpBus

from .conftest import AMQP_URL
from .support import Collector, Scratch, depth_becomes, messages_in
from .test_amqp import _drop_connection, _fast_reconnect

pytestmark = pytest.mark.integration

#: every kind of AMQP table value a header can carry, nested ones too (x-death is a list of
#: tables; the retry bookkeeping is integers and strings)
HEADERS: dict[str, Any] = {
    "x-webhooksd-reason": "malformed: no Account-ID",
    "x-webhooksd-attempt": 3,
    "big": 2**40,
    "negative": -7,
    "ratio": 0.25,
    "money": Decimal("12.34"),
    "flag": True,
    "nothing": None,
    "raw": bytearray(b"\x00\xffbytes"),
    "when": datetime.datetime(2026, 12, 1, 19, 43, 19, tzinfo=datetime.UTC),
    "x-death": [
        {"count": 2, "queue": "q", "reason": "expired", "routing-keys": ["a", "b"]},
        {"count": 1, "exchange": "", "time": datetime.datetime(2026, 1, 2, 3, 4, 5)},
    ],
    "table": {"inner": {"deeper": [1, "two", bytearray(b"three")]}},
}


async def test_the_message_is_what_aio_pikas_incoming_message_gave(amqp_scratch: Scratch) -> None:
    """Two identical messages through the real broker: one read by aio-pika as it read every
    delivery before, one delivered to our consumer; every field of our Message is the same."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            underlay = await channel.get_underlay_channel()
            for _copy in range(2):
                await underlay.basic_publish(
                    b'{"Event-Name":"CHANNEL_CREATE"}',
                    routing_key=queue,
                    properties=spec.Basic.Properties(
                        headers=HEADERS,
                        message_id="3f1c2a",
                        content_type="application/json",
                        content_encoding="identity",
                    ),
                )
            incoming = await (await channel.get_queue(queue)).get(no_ack=False)
            assert incoming is not None
            await incoming.ack()
        expected = Message(
            exchange=incoming.exchange or "",
            routing_key=incoming.routing_key or "",
            body=incoming.body,
            headers=incoming.headers,
            message_id=incoming.message_id,
            content_type=incoming.content_type,
            content_encoding=incoming.content_encoding,
            redelivered=bool(incoming.redelivered),
        )
        collector = Collector()
        await bus.consume(queue, collector, prefetch=1)
        [received] = await collector.wait_for(1)
    assert received == expected
    # a byte array comes back as bytes, a naive time as a naive time: as aio-pika gave them
    assert received.headers["raw"] == b"\x00\xffbytes"
    assert received.headers["money"] == Decimal("12.34")
    assert received.headers["x-death"][0]["routing-keys"] == ["a", "b"]


async def test_a_channel_error_reopens_the_channel_and_the_consumer_consumes_again(
    amqp_scratch: Scratch,
) -> None:
    """The broker closing the consumer's channel on an error (an ack of an unknown delivery
    tag: PRECONDITION_FAILED) makes aio-pika reopen it; the consumer is registered on the new
    channel and gets the messages published after."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        collector = Collector()
        consumer = await bus.consume(queue, collector, prefetch=5)
        assert isinstance(consumer, AmqpConsumer)
        await bus.publish("", queue, b"before", persistent=True)
        await collector.wait_for(1)
        first = await consumer._channel.get_underlay_channel()
        await first.basic_ack(999, wait=False)  # never delivered: the broker closes the channel
        await eventually(lambda: first.is_closed, what="the channel closed by the broker")
        await eventually(
            lambda: consumer._consuming_on not in (None, first), what="consuming again"
        )
        await bus.publish("", queue, b"after", persistent=True)
        received = await collector.wait_for(2)
        assert [m.body for m in received] == [b"before", b"after"]
        await consumer.cancel()
    assert await messages_in(AMQP_URL, queue) == 0


async def test_after_a_connection_drop_the_consumer_consumes_again_with_its_tag(
    amqp_scratch: Scratch,
) -> None:
    """A reconnect reopens the channel; the consumer registers again, with the same tag, and
    a cancel afterwards cancels it (nothing more is delivered)."""
    name = f"{amqp_scratch.prefix}.conn"
    async with AmqpBus.open(_fast_reconnect(AMQP_URL), connection_name=name) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        collector = Collector()
        consumer = await bus.consume(queue, collector, prefetch=5)
        assert isinstance(consumer, AmqpConsumer)
        tag, first = consumer.tag, consumer._consuming_on
        await _drop_connection(bus, name)
        await eventually(
            lambda: consumer._consuming_on not in (None, first), timeout=15, what="consuming"
        )
        assert consumer.tag == tag
        await bus.publish("", queue, b"after", persistent=True)
        await collector.wait_for(1)
        await consumer.cancel()
        await bus.publish("", queue, b"not consumed", persistent=True)
        await depth_becomes(bus, queue, 1)
        assert len(collector.received) == 1


async def test_a_consumer_the_broker_cancelled_consumes_again(amqp_scratch: Scratch) -> None:
    """Deleting the queue under the consumer makes the broker cancel it (basic.cancel); as
    aio-pika's robust queue did, the queue is declared again and consumed again, at once."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        collector = Collector()
        consumer = await bus.consume(queue, collector, prefetch=5)
        assert isinstance(consumer, AmqpConsumer)
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue, if_unused=False, if_empty=False)
        await eventually(lambda: _consumers_of(queue), what="the queue consumed again")
        await bus.publish("", queue, b"after", persistent=True)
        [received] = await collector.wait_for(1)
        assert received.body == b"after"
        await consumer.cancel()


async def _consumers_of(queue: str) -> int:
    """Consumers of ``queue`` the broker counts now (0 while the queue does not exist)."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return 0
        return declared.declaration_result.consumer_count or 0
