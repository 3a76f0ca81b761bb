"""One-off measurement (not a test): publish+consume throughput of both buses.

Run: ``python -m tests.bus.throughput [N]`` from the repository root (RabbitMQ from
``WEBHOOKSD_TEST_AMQP_URL``, default ``amqp://guest:guest@127.0.0.1:5672/``). For each bus it
publishes N 256-byte messages to a fresh queue consumed with prefetch 100 and manual acks, once
awaiting each confirm in turn and once with 200 publishes in flight, and prints messages/s
from the first publish to the last ack; then it times draining a backlog of N messages.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from webhooksd.bus import Bus, Delivery, QueueSpec
from webhooksd.bus.amqp import AmqpBus
from webhooksd.bus.memory import MemoryBus

AMQP_URL = os.environ.get("WEBHOOKSD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
BODY = b"x" * 256
WINDOW = 200


async def run_once(bus: Bus, count: int, window: int) -> tuple[float, float]:
    """Publish ``count`` messages (``window`` in flight) and wait for all acks; return
    (publish seconds, total seconds)."""
    queue = await bus.declare_queue(QueueSpec(name=f"bench.{uuid.uuid4().hex}", auto_delete=True))
    done = asyncio.Event()
    seen = 0

    async def handler(delivery: Delivery) -> None:
        nonlocal seen
        await delivery.ack()
        seen += 1
        if seen == count:
            done.set()

    consumer = await bus.consume(queue, handler, prefetch=100)
    start = time.perf_counter()
    for first in range(0, count, window):
        batch = range(first, min(first + window, count))
        await asyncio.gather(*(bus.publish("", queue, BODY) for _ in batch))
    published = time.perf_counter() - start
    await asyncio.wait_for(done.wait(), 300)
    total = time.perf_counter() - start
    await consumer.cancel()
    return published, total


async def drain_backlog(bus: Bus, count: int) -> float:
    """Publish ``count`` messages with nobody consuming, then time draining them."""
    queue = await bus.declare_queue(QueueSpec(name=f"bench.{uuid.uuid4().hex}", auto_delete=True))
    for first in range(0, count, WINDOW):
        batch = range(first, min(first + WINDOW, count))
        await asyncio.gather(*(bus.publish("", queue, BODY) for _ in batch))
    done = asyncio.Event()
    seen = 0

    async def handler(delivery: Delivery) -> None:
        nonlocal seen
        await delivery.ack()
        seen += 1
        if seen == count:
            done.set()

    start = time.perf_counter()
    consumer = await bus.consume(queue, handler, prefetch=100)
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - start
    await consumer.cancel()
    return elapsed


async def measure(
    name: str, opener: Callable[[], AbstractAsyncContextManager[Bus]], n: int
) -> None:
    async with opener() as bus:
        for window in (1, WINDOW):
            published, total = await run_once(bus, n, window)
            print(
                f"{name:7} window={window:<4} publish {n / published:9.0f} msg/s   "
                f"publish+consume {n / total:9.0f} msg/s   ({total:.2f} s for {n})"
            )
        elapsed = await drain_backlog(bus, n)
        print(f"{name:7} consume a backlog of {n}: {n / elapsed:9.0f} msg/s")


def _amqp() -> AbstractAsyncContextManager[Bus]:
    return AmqpBus.open(AMQP_URL, connection_name="webhooksd-bench")


def _memory() -> AbstractAsyncContextManager[Bus]:
    return MemoryBus.open()


async def main(n: int) -> None:
    await measure("memory", _memory, n)
    await measure("amqp", _amqp, n)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
