"""What only the RabbitMQ bus has to show: sharing Kazoo's exchanges, surviving a drop."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed

from tests.waiting import eventually
from webhooksd.bus import DEAD_LETTER, KAZOO_EXCHANGES, QueueSpec
from webhooksd.bus._delay import PREFIX, bucket_ms, bucket_name
from webhooksd.bus.amqp import REDECLARE_S, AmqpBus
from webhooksd.errors import BusError

from .conftest import AMQP_URL
from .support import Collector, Scratch

pytestmark = pytest.mark.integration


def _fast_reconnect(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "reconnect_interval=0.5"


async def _rabbitmqctl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, _err = await process.communicate()
    return out.decode()


async def _drop_connection(bus: AmqpBus, connection_name: str) -> None:
    """Cut the bus's connection from the broker side if we can, else from ours."""
    if shutil.which("rabbitmqctl"):
        listing = await _rabbitmqctl(
            "list_connections", "-q", "--no-table-headers", "pid", "client_properties"
        )
        tag = f'{{"connection_name","{connection_name}"}}'
        pids = [line.split("\t")[0] for line in listing.splitlines() if tag in line]
        assert len(pids) == 1, listing
        await _rabbitmqctl("close_connection", pids[0], "webhooksd bus test")
        return
    transport = bus._connection.transport
    assert transport is not None
    await transport.connection.close(ConnectionResetError("test drop"))


async def test_kazoo_exchanges_can_be_declared_again(amqp_scratch: Scratch) -> None:
    """Kazoo's own exchange declarations (non-durable, not auto-delete, not internal) and a
    second bus both succeed, while a durable `callevt` would be refused."""
    async with (
        AmqpBus.open(AMQP_URL, connection_name=f"{amqp_scratch.prefix}.1"),
        AmqpBus.open(AMQP_URL, connection_name=f"{amqp_scratch.prefix}.2"),
    ):
        pass
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name, kind in KAZOO_EXCHANGES:
            await channel.declare_exchange(
                name, aio_pika.ExchangeType(kind), durable=False, auto_delete=False
            )
        with pytest.raises(ChannelPreconditionFailed):
            await channel.declare_exchange("callevt", aio_pika.ExchangeType.TOPIC, durable=True)


async def test_unreachable_broker_raises_bus_error() -> None:
    """Opening the bus against a port nobody listens on fails fast with BusError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BusError):
        async with AmqpBus.open(f"amqp://guest:guest@127.0.0.1:{port}/"):
            pass


async def test_connection_drop_is_survived(amqp_scratch: Scratch) -> None:
    """After the broker drops the connection, the unacked message is redelivered, its stale
    ack does not raise, and the binding and the consumer work again."""
    name = f"{amqp_scratch.prefix}.conn"
    exchange = amqp_scratch.exchange()
    async with AmqpBus.open(_fast_reconnect(AMQP_URL), connection_name=name) as bus:
        await bus.declare_exchange(exchange, "topic")
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        await bus.bind(queue, exchange, "drop.*")
        collector = Collector(decide=lambda d: "ack" if d.message.redelivered else "hold")
        await bus.consume(queue, collector, prefetch=5)
        await bus.publish(exchange, "drop.1", b"held", persistent=True)
        await collector.wait_for(1)
        await _drop_connection(bus, name)
        received = await collector.wait_for(2, timeout=15)
        assert bus.connected
        assert (received[1].body, received[1].redelivered) == (b"held", True)
        await collector.deliveries[0].ack()  # its channel is gone: logged, not raised
        await bus.publish(exchange, "drop.2", b"after", mandatory=True)
        received = await collector.wait_for(3)
        assert received[2].body == b"after"
        assert await bus.queue_depth(queue) == 0


async def test_publish_without_connection_raises(amqp_scratch: Scratch) -> None:
    """Once the connection is gone, `connected` is False and publish raises BusError."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue()))
        states = [bus.connected]
        await bus._connection.close()
        states.append(bus.connected)
        assert states == [True, False]
        with pytest.raises(BusError):
            await bus.publish("", queue, b"x")
        assert await bus.queue_depth(queue) is None


async def test_a_cancelled_queue_depth_probe_never_hangs_the_caller(amqp_scratch: Scratch) -> None:
    """The daemon stopping while ``gauges`` samples cancels a probe mid-RPC: the caller's
    cancellation must finish at once (it hung for good: shutdown never ended), and the
    connection must stay usable."""
    async with AmqpBus.open(AMQP_URL) as bus:
        # what gauges does: sample queues, missing ones too (a passive declare of a missing
        # queue closes its channel), in a loop, until cancelled at some moment
        queues = (amqp_scratch.queue("missing.1"), amqp_scratch.queue("missing.2"), DEAD_LETTER)

        async def sample() -> None:
            while True:
                for queue in queues:
                    await bus.queue_depth(queue)

        moments = random.Random(7)
        for _ in range(30):
            sampler = asyncio.create_task(sample())
            await asyncio.sleep(moments.uniform(0, 0.05))
            sampler.cancel()
            done, _ = await asyncio.wait([sampler], timeout=1.0)
            assert done, "a cancelled queue-depth probe did not let its caller finish"
        queue = amqp_scratch.queue("alive")
        await bus.declare_queue(QueueSpec(name=queue, auto_delete=True))
        await bus.publish("", queue, b"still works")
        assert await eventually(lambda: bus.queue_depth(queue)) == 1


class _DeclareCount:
    """Counts the delay-bucket declares on the bus's publishing channel (and makes them)."""

    def __init__(self, bus: AmqpBus) -> None:
        self.names: list[str] = []
        channel = bus._publisher
        declare = channel.declare_queue

        async def counting(name: str, *args: Any, **kwargs: Any) -> Any:
            if name.startswith(PREFIX):
                self.names.append(name)
            return await declare(name, *args, **kwargs)

        channel.declare_queue = counting  # type: ignore[method-assign,assignment]


async def test_a_delay_bucket_is_declared_once_not_per_publish(amqp_scratch: Scratch) -> None:
    """Fifty delayed publishes to one bucket declare it once, and all of them arrive. Before:
    a declare (an RPC the publishing channel serializes) per publish, which under a slow
    tenant's deferrals held every other event's retries back (issue 13)."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = amqp_scratch.queue("target")
        await bus.declare_queue(QueueSpec(name=queue, durable=True))
        amqp_scratch.queues.append(bucket_name(queue, bucket_ms(50)))
        declares = _DeclareCount(bus)
        for n in range(50):
            await bus.publish_delayed(queue, str(n).encode(), 50, message_id=f"m{n}")
        collector = Collector()
        await bus.consume(queue, collector, prefetch=100)
        await collector.wait_for(50)
        assert sorted(collector.bodies(), key=int) == [str(n).encode() for n in range(50)]
        assert declares.names == [bucket_name(queue, bucket_ms(50))]


async def test_a_delay_bucket_is_declared_again_in_time_and_when_gone(
    amqp_scratch: Scratch,
) -> None:
    """A bucket is declared again once its last declare is old (which restarts its idle
    expiry before it can delete the bucket), and when it was deleted behind the bus's back
    (the publish is then unroutable): the message still arrives, once."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = amqp_scratch.queue("target")
        await bus.declare_queue(QueueSpec(name=queue, durable=True))
        bucket = bucket_name(queue, bucket_ms(50))
        amqp_scratch.queues.append(bucket)
        declares = _DeclareCount(bus)
        await bus.publish_delayed(queue, b"first", 50)
        bus._buckets[bucket] -= REDECLARE_S  # as if declared that long ago
        await bus.publish_delayed(queue, b"aged", 50)
        assert declares.names == [bucket, bucket]
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            collector = Collector()
            await bus.consume(queue, collector, prefetch=10)
            await collector.wait_for(2)
            await channel.queue_delete(bucket, if_unused=False, if_empty=False)
        await bus.publish_delayed(queue, b"after delete", 50)
        assert declares.names == [bucket, bucket, bucket]
        await collector.wait_for(3)
        assert collector.bodies() == [b"first", b"aged", b"after delete"]
