"""Batched acks when writing a frame has to wait: the broker's rules, checked frame by frame.

aiormq's connection write queue holds 10 frames; under load ``basic_ack`` waits for room,
so one flush of an :class:`AckBatch` can be half-written when the next one works out its run.
The broker refuses (and closes the channel on) an ack whose tag is not outstanding, a
``multiple`` one included. A channel that writes each frame a turn late, and keeps the
broker's book of outstanding tags, shows whether a batch ever breaks that rule; the real
broker's side of batching is in test_amqp_acks.py.
"""

from __future__ import annotations

import asyncio
from typing import cast

import aiormq.abc

from webhooksd.bus._amqp_consumer import AckBatch


class SlowChannel:
    """Applies each ack as RabbitMQ does (a tag must be outstanding; ``multiple`` acks every
    outstanding tag up to it); with ``hold_first``, the first ack waits for ``room`` (the
    write queue full) while later ones go through."""

    def __init__(self, tags: range, *, hold_first: bool = False) -> None:
        self.outstanding = set(tags)
        self.refused: list[int] = []
        self.room = asyncio.Event()
        self.held = asyncio.Event()
        self._hold = hold_first

    async def basic_ack(self, tag: int, multiple: bool = False, wait: bool = True) -> None:
        if self._hold:
            self._hold = False
            self.held.set()
            await self.room.wait()
        await asyncio.sleep(0)
        if tag not in self.outstanding:
            self.refused.append(tag)  # precondition_failed: unknown delivery tag
            return
        if multiple:
            self.outstanding -= {t for t in self.outstanding if t <= tag}
        else:
            self.outstanding.discard(tag)


async def test_a_flush_never_covers_the_acks_another_flush_is_still_writing() -> None:
    """Before: the second flush saw 3 neither unsettled nor pending, took it for written and
    wrote a ``multiple`` ack of 5 over it; the first flush's own ack of 3 was then refused
    (the bench's channels closed this way under load, redelivering their events)."""
    channel = SlowChannel(range(1, 6), hold_first=True)
    batch = AckBatch(cast(aiormq.abc.AbstractChannel, channel), "q")
    for tag in range(1, 6):
        batch.delivered(tag)

    async def ack(*tags: int) -> None:
        await asyncio.gather(*(batch.ack(t) for t in tags))

    # 1 and 3 settle first (2 still unsettled): the flush writes 1, held, then 3 alone
    first = asyncio.create_task(ack(1, 3))
    await asyncio.wait_for(channel.held.wait(), 5)
    # meanwhile the rest settle and flush
    rest = asyncio.create_task(ack(2, 4, 5))
    for _ in range(10):  # turns of the loop, not time: the second flush had its chance
        await asyncio.sleep(0)
    channel.room.set()
    await asyncio.wait_for(asyncio.gather(first, rest), 5)
    await batch.flush()
    assert channel.refused == []
    assert channel.outstanding == set()


async def test_the_turns_acks_go_as_one_frame_when_none_is_unsettled() -> None:
    channel = SlowChannel(range(1, 21))
    batch = AckBatch(cast(aiormq.abc.AbstractChannel, channel), "q")
    for tag in range(1, 21):
        batch.delivered(tag)
    await asyncio.gather(*(batch.ack(t) for t in range(1, 21)))
    assert batch.written_frames == 1
    assert channel.outstanding == set() and channel.refused == []
