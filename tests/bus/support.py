"""Helpers of the bus suite: unique names, a recording handler, waiting on a queue's depth."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import aio_pika

from tests.waiting import eventually
from webhooksd.bus import Bus, Delivery, Message


@dataclass
class Scratch:
    """Unique names for one test, and what to delete from the broker afterwards."""

    kind: str
    prefix: str = field(default_factory=lambda: f"test.bus.{uuid.uuid4().hex[:12]}")
    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)

    def queue(self, label: str = "q") -> str:
        """A fresh queue name, deleted at teardown."""
        name = f"{self.prefix}.{label}"
        self.queues.append(name)
        return name

    def exchange(self, label: str = "x") -> str:
        """A fresh exchange name, deleted at teardown."""
        name = f"{self.prefix}.{label}"
        self.exchanges.append(name)
        return name


@dataclass
class Collector:
    """A handler that records and settles messages, and lets a test wait for them."""

    decide: Callable[[Delivery], str] = lambda _d: "ack"
    #: the reason given with "dead_letter"
    reason: str | None = None
    received: list[Message] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(self, delivery: Delivery) -> None:
        decision = self.decide(delivery)
        async with self.changed:
            self.received.append(delivery.message)
            self.deliveries.append(delivery)
            self.changed.notify_all()
        if decision == "ack":
            await delivery.ack()
        elif decision == "requeue":
            await delivery.requeue()
        elif decision == "dead_letter":
            await delivery.dead_letter(self.reason)
        elif decision == "raise":
            raise RuntimeError("handler bug (on purpose)")
        # "hold": leave it unsettled

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        """Wait until at least ``count`` messages arrived; return them all."""
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: len(self.received) >= count), timeout
            )
        return list(self.received)

    def bodies(self) -> list[bytes]:
        return [m.body for m in self.received]


async def depth_becomes(bus: Bus, queue: str, expected: int | None, timeout: float = 5.0) -> None:
    """Wait until ``queue_depth`` reports ``expected`` (broker-side state: no event to await)."""

    async def reached() -> bool:
        return await bus.queue_depth(queue) == expected

    await eventually(reached, timeout=timeout, what=f"depth of {queue} == {expected}")


async def messages_in(amqp_url: str, queue: str) -> int:
    """Messages in ``queue`` now (with no consumer: everything not acked)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0
