"""Batched acks on the RabbitMQ bus: what a batch may cover, and what it must never touch.

The consumer writes the acks settled in one turn of the loop together, the run of tags below
the oldest unsettled one as a single ``multiple`` ack. These tests hold deliveries and release
them in one turn, so the batch they form does not depend on timing, and ask the broker what is
left: closing the bus returns every unacked message to its queue, so the queue's depth after
the close is exactly what was never acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.waiting import eventually
from webhooksd.bus import Delivery, Message, QueueSpec
from webhooksd.bus._amqp_consumer import AmqpConsumer
from webhooksd.bus.amqp import AmqpBus

from .conftest import AMQP_URL
from .support import Scratch, messages_in
from .test_amqp import _drop_connection, _fast_reconnect

pytestmark = pytest.mark.integration


@dataclass
class Gate:
    """A handler that holds every delivery until released, then settles it as ``decide``
    says: all the held ones wake in the same turn of the loop and settle together."""

    decide: Callable[[Message], str] = lambda _m: "ack"
    release: asyncio.Event = field(default_factory=asyncio.Event)
    #: which deliveries wait for ``release_late`` instead (still unsettled when the others
    #: settle)
    late: Callable[[Message], bool] = lambda _m: False
    release_late: asyncio.Event = field(default_factory=asyncio.Event)
    #: called with each delivery once it is settled
    after: Callable[[Delivery], None] = lambda _d: None
    received: list[Message] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    #: the decisions carried out, in order
    settled: list[str] = field(default_factory=list)

    async def __call__(self, delivery: Delivery) -> None:
        self.received.append(delivery.message)
        self.deliveries.append(delivery)
        await (self.release_late if self.late(delivery.message) else self.release).wait()
        decision = self.decide(delivery.message)
        if decision == "ack":
            await delivery.ack()
        elif decision == "requeue":
            await delivery.requeue()
        elif decision == "dead_letter":
            await delivery.dead_letter()
        # "hold": leave it unsettled
        self.settled.append(decision)
        self.after(delivery)


async def _publish(bus: AmqpBus, queue: str, count: int) -> None:
    for n in range(count):
        await bus.publish("", queue, str(n).encode(), persistent=True)


async def test_acks_settled_together_are_one_frame_and_leave_nothing_unacked(
    amqp_scratch: Scratch,
) -> None:
    """Twenty deliveries acked in one turn: one basic.ack frame (``multiple``) for all of
    them, and once the bus is closed none is back in the queue."""
    count = 20
    gate = Gate()
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        await _publish(bus, queue, count)
        consumer = await bus.consume(queue, gate, prefetch=count)
        await eventually(lambda: len(gate.received) == count, what="all delivered")
        gate.release.set()
        assert isinstance(consumer, AmqpConsumer)
        acks = consumer._acks
        assert acks is not None
        await eventually(lambda: acks.written_frames, what="the acks written")
        await consumer.cancel()
    assert acks.written_frames == 1
    assert await messages_in(AMQP_URL, queue) == 0


async def test_a_requeue_between_acks_is_redelivered_and_the_acked_ones_are_not(
    amqp_scratch: Scratch,
) -> None:
    """The other four of five are acked in one turn while the third is still unsettled, and
    the third is requeued after: a ``multiple`` ack over the four must not have covered (and
    so acked) it. It comes back, redelivered, and is acked; nothing else comes back, and
    nothing is left."""

    def first_third(message: Message) -> bool:
        return message.body == b"2" and not message.redelivered

    gate = Gate(decide=lambda m: "requeue" if first_third(m) else "ack", late=first_third)
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        await _publish(bus, queue, 5)
        consumer = await bus.consume(queue, gate, prefetch=5)
        await eventually(lambda: len(gate.received) == 5, what="all delivered")
        gate.release.set()
        await eventually(lambda: len(gate.settled) == 4, what="the four acked")
        assert isinstance(consumer, AmqpConsumer)
        acks = consumer._acks
        assert acks is not None
        # the two below the unsettled third as one frame, the two above it one by one
        await eventually(lambda: acks.written_frames == 3, what="the acks written")
        gate.release_late.set()
        await eventually(lambda: len(gate.received) == 6, what="the requeued one again")
        await eventually(lambda: len(gate.settled) == 6, what="all settled")
        await consumer.cancel()
    assert [(m.body, m.redelivered) for m in gate.received[5:]] == [(b"2", True)]
    assert await messages_in(AMQP_URL, queue) == 0


async def test_an_ack_from_before_a_reconnect_never_reaches_the_reopened_channel(
    amqp_scratch: Scratch,
) -> None:
    """Delivery tags start again at 1 on the reopened channel, so the old delivery and its
    redelivery have the same tag. Acking the old one must not ack the redelivered one (nor
    close the channel): it stays unacked, and is back in the queue once the bus closes."""
    name = f"{amqp_scratch.prefix}.conn"
    gate = Gate(decide=lambda _m: "hold")
    gate.release.set()
    async with AmqpBus.open(_fast_reconnect(AMQP_URL), connection_name=name) as bus:
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        consumer = await bus.consume(queue, gate, prefetch=5)
        await _publish(bus, queue, 1)
        await eventually(lambda: len(gate.received) == 1, what="delivered")
        await _drop_connection(bus, name)
        await eventually(lambda: len(gate.received) == 2, timeout=15, what="redelivered")
        assert gate.received[1].redelivered
        await gate.deliveries[0].ack()  # its channel is gone: logged, not sent on the new one
        assert isinstance(consumer, AmqpConsumer)
        # the channel still works: a new message is delivered and acked on it
        gate.decide = lambda m: "ack" if m.body == b"after" else "hold"
        await bus.publish("", queue, b"after", persistent=True)
        await eventually(lambda: len(gate.received) == 3, what="delivered after the drop")
        await eventually(
            lambda: consumer._acks is not None and consumer._acks.written_frames,
            what="the ack written",
        )
        assert not consumer._channel.is_closed
        await consumer.cancel()
    assert await messages_in(AMQP_URL, queue) == 1


async def test_acks_queued_when_the_bus_cuts_the_handlers_off_are_written(
    amqp_scratch: Scratch,
) -> None:
    """The bus stopping cancels the handlers still running, as it does after a drain that
    timed out. The first of two acks of a turn waits for the turn to end to write both; here
    it is cancelled in that wait (by the second handler, just after its ack, as the bus's stop
    would be): both acks are written all the same, and nothing is left in the queue."""
    async with AmqpBus.open(AMQP_URL, connection_name=amqp_scratch.prefix) as bus:

        def cut_off_the_others(delivery: Delivery) -> None:
            if delivery.message.body == b"1":
                current = asyncio.current_task()
                for task in list(bus._tasks):
                    if task is not current:
                        task.cancel()

        gate = Gate(after=cut_off_the_others)
        queue = await bus.declare_queue(QueueSpec(name=amqp_scratch.queue(), durable=True))
        await _publish(bus, queue, 2)
        await bus.consume(queue, gate, prefetch=2)
        await eventually(lambda: len(gate.received) == 2, what="both delivered")
        gate.release.set()
        await eventually(lambda: not bus._tasks, what="the handlers ended")
        assert gate.settled == ["ack"]  # the first one's handler was cut off in its ack
        # no consumer.cancel(): its channel close would write them too (it flushes first)
    assert await messages_in(AMQP_URL, queue) == 0
