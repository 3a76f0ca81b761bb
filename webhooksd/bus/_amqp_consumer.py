"""The consuming side of the RabbitMQ bus: deliveries, consumers, channel recovery.

Kazoo's original is ``gen_listener``'s delivery handling, which auto-acks; here every delivery
is settled explicitly, and settling one whose channel died is logged, never raised (the broker
redelivers the message).

A message dead-lettered with a reason cannot go through the broker's own dead-lettering (a
reject cannot add a header): a copy with the reason is published to ``DEAD_LETTER`` and
confirmed, then the original is acked. Should that publish fail, the original is rejected as
usual, so the message is kept even when its reason is lost.

Acks are batched per channel (:class:`AckBatch`): one basic.ack frame, one write-queue item,
one drain future and one socket write per message was the AMQP side's outgoing cost. The first
ack of a turn of the loop waits for the turn to end, then writes every ack settled meanwhile:
the run of delivery tags below the oldest one still unsettled as one ``multiple`` ack, any
later ones individually (so a delivery finished out of order is never held behind a stuck one:
issue 13). Requeues and rejects are written at once, one each, and the tag counts as unsettled
until its frame is written, so a ``multiple`` ack can never cover it. A batch belongs to one
aiormq channel: after a reopen its tags are void (the broker redelivers), and a batch never
writes on another.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Coroutine
from typing import Any, Protocol

import aiormq.abc
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustQueue

from webhooksd.bus import Handler, Message

log = structlog.get_logger(__name__)

#: how long cancelling a consumer (or closing its channel) may take
CANCEL_TIMEOUT_S = 5.0

#: how long to wait for a channel the broker closed on an error to be reopened
REOPEN_TIMEOUT_S = 10.0


class Owner(Protocol):
    """Protocol: what a consumer needs from its bus."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task the bus owns."""

    def spawn_close(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a consumer channel's close as a task the bus waits for (never cancels) before
        it closes the connection."""

    async def consumer_gone(self, queue: AbstractRobustQueue) -> None:
        """A consumer of ``queue`` was cancelled."""

    async def publish_dead_letter(self, message: Message, queue: str, reason: str) -> None:
        """Publish a copy of ``message``, rejected from ``queue``, to ``DEAD_LETTER``."""


def _as_message(incoming: AbstractIncomingMessage) -> Message:
    return Message(
        exchange=incoming.exchange or "",
        routing_key=incoming.routing_key or "",
        body=incoming.body,
        # aio-pika decoded a fresh dict for this message alone: no copy needed
        headers=incoming.headers,
        message_id=incoming.message_id,
        content_type=incoming.content_type,
        content_encoding=incoming.content_encoding,
        redelivered=bool(incoming.redelivered),
    )


class AckBatch:
    """The acks of one aiormq channel (one incarnation of a consumer's robust channel).

    ``_unsettled`` holds every tag delivered and not yet settled, in delivery (tag) order, so
    its first key is the oldest outstanding one; a requeued or rejected tag stays in it until
    its own frame is written. ``_pending`` holds the acked tags not yet written."""

    __slots__ = (
        "_channel",
        "_flushing",
        "_pending",
        "_queue",
        "_unsettled",
        "_writing",
        "written_frames",
    )

    def __init__(self, channel: aiormq.abc.AbstractChannel, queue: str) -> None:
        self._channel = channel
        self._queue = queue
        self._unsettled: dict[int, None] = {}
        self._pending: list[int] = []
        #: a turn's first ack is waiting to write the batch
        self._writing = False
        #: one flush at a time: writing a frame waits when the connection's write queue is
        #: full (aiormq bounds it at 10 frames), and a second flush working out its run
        #: meanwhile took the first one's tags, not yet written, for written: its
        #: ``multiple`` ack covered them, and the broker closed the channel on the first
        #: flush's own ack of one ("unknown delivery tag"), redelivering everything in flight
        self._flushing = asyncio.Lock()
        #: basic.ack frames written (for the tests and the benchmark's curiosity)
        self.written_frames = 0

    def owns(self, channel: aiormq.abc.AbstractChannel) -> bool:
        return channel is self._channel

    def delivered(self, tag: int) -> None:
        self._unsettled[tag] = None

    async def ack(self, tag: int) -> None:
        """Queue the ack; the turn's first caller writes the batch once the turn has ended.
        Returns once the ack is written or queued behind that write (which the channel's
        close, on drain, comes after: see :meth:`flush`)."""
        self._unsettled.pop(tag, None)
        self._pending.append(tag)
        if self._writing:
            return
        self._writing = True
        try:
            # let the other deliveries finishing in this turn of the loop join the batch
            await asyncio.sleep(0)
        finally:
            self._writing = False
            # also when cancelled (the bus stopping): the acks are written, not lost
            await self.flush()

    async def settle_now(self, tag: int, action: Coroutine[Any, Any, None]) -> None:
        """Write a requeue or reject at once; until it is written its tag stays unsettled, so
        no ``multiple`` ack written meanwhile covers (and so acks) it."""
        try:
            await action
        finally:
            self._unsettled.pop(tag, None)

    async def flush(self) -> None:
        """Write every pending ack: the run below the oldest unsettled tag as one ``multiple``
        ack, the rest one by one. Writing adds a frame to the connection's write queue, which
        is written in order: a channel close queued after this is written after these acks."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = sorted(self._pending), []
        oldest = next(iter(self._unsettled), None)
        # tags below the oldest unsettled one are all acked (written before, or pending now)
        run = len(pending) if oldest is None else bisect_left(pending, oldest)
        try:
            if run:
                await self._channel.basic_ack(pending[run - 1], multiple=run > 1, wait=False)
                self.written_frames += 1
            for tag in pending[run:]:
                await self._channel.basic_ack(tag, wait=False)
                self.written_frames += 1
        except Exception as exc:
            # the channel died since delivery (e.g. a reconnect): the broker redelivers them
            log.warning(
                "writing acks failed; the broker will redeliver them",
                queue=self._queue,
                acks=len(pending),
                error=repr(exc),
            )


class _AmqpDelivery:
    """One delivery; settling it on a channel that died is logged, not raised."""

    __slots__ = ("_acks", "_dead_letters", "_incoming", "_owner", "_queue", "message", "settled")

    def __init__(
        self,
        owner: Owner,
        incoming: AbstractIncomingMessage,
        queue: str,
        acks: AckBatch,
        *,
        dead_letters: bool,
    ) -> None:
        self._owner = owner
        self._incoming = incoming
        self._queue = queue
        self._acks = acks
        #: whether the queue has a dead-letter exchange (a reject without one drops)
        self._dead_letters = dead_letters
        self.message = _as_message(incoming)
        self.settled = False

    async def ack(self) -> None:
        """basic.ack, batched with the others of this turn of the loop."""
        if self._begin("ack"):
            await self._acks.ack(self._tag)

    @property
    def _tag(self) -> int:
        tag = self._incoming.delivery_tag
        assert tag is not None  # always set on a basic.deliver with manual acks
        return tag

    async def requeue(self) -> None:
        """basic.nack with requeue."""
        if self._begin("requeue"):
            await self._settle_now("requeue", self._incoming.nack(requeue=True))

    async def dead_letter(self, reason: str | None = None) -> None:
        """basic.reject without requeue: to the queue's dead-letter exchange, if it has one;
        with a reason, a copy carrying it is published there and the original acked."""
        if not self._begin("dead_letter"):
            return
        if reason and self._dead_letters:
            try:
                await self._owner.publish_dead_letter(self.message, self._queue, reason)
            except Exception as exc:
                log.warning(
                    "dead-letter copy not published; rejected without its reason",
                    queue=self._queue,
                    error=repr(exc),
                )
            else:
                await self._acks.ack(self._tag)
                return
        await self._settle_now("dead_letter", self._incoming.reject(requeue=False))

    def _begin(self, decision: str) -> bool:
        if self.settled:
            # a second ack would close the channel (unknown delivery tag)
            log.warning("delivery already settled", decision=decision, queue=self._queue)
            return False
        self.settled = True
        return True

    async def _settle_now(self, decision: str, action: Coroutine[Any, Any, None]) -> None:
        try:
            await self._acks.settle_now(self._tag, action)
        except Exception as exc:
            # the channel died since delivery (e.g. a reconnect): the broker redelivers it
            log.warning(
                "settling a delivery failed; the broker will redeliver it",
                decision=decision,
                queue=self._queue,
                error=repr(exc),
            )


class AmqpConsumer:
    """A consumer on its own channel; the channel closes once its handlers are done."""

    def __init__(
        self, bus: Owner, channel: AbstractRobustChannel, queue: AbstractRobustQueue,
        handler: Handler,
    ) -> None:  # fmt: skip
        self._bus = bus
        self._channel = channel
        self._queue = queue
        self._handler = handler
        self._running = 0
        self._cancelled = False
        #: whether the queue has a dead-letter exchange (a reject without one drops)
        self._dead_letters = bool((queue.arguments or {}).get("x-dead-letter-exchange"))
        #: the acks of the channel's current incarnation
        self._acks: AckBatch | None = None
        self.tag = ""

    async def on_message(self, incoming: AbstractIncomingMessage) -> None:
        """aiormq's callback: hand the delivery to a task the bus owns."""
        self._running += 1
        channel = incoming.channel  # open: it has just delivered this message
        acks = self._acks
        if acks is None or not acks.owns(channel):
            # the first delivery, or the first since the channel was reopened: the old
            # batch's tags are void, so it only ever writes on its own (closed) channel
            acks = self._acks = AckBatch(channel, self._queue.name)
        acks.delivered(self._tag_of(incoming))
        delivery = _AmqpDelivery(
            self._bus, incoming, self._queue.name, acks, dead_letters=self._dead_letters
        )
        self._bus.spawn(self._run(delivery))

    @staticmethod
    def _tag_of(incoming: AbstractIncomingMessage) -> int:
        tag = incoming.delivery_tag
        assert tag is not None  # always set on a basic.deliver with manual acks
        return tag

    async def _run(self, delivery: _AmqpDelivery) -> None:
        try:
            await self._handler(delivery)
        except Exception:
            log.exception("handler failed; message requeued", queue=self._queue.name)
            if not delivery.settled:
                await delivery.requeue()
        finally:
            self._running -= 1
            if not delivery.settled:
                log.warning("handler returned without settling", queue=self._queue.name)
            if self._cancelled and not self._running:
                # the acks above are written; the close must not be cut off (see spawn_close)
                self._bus.spawn_close(self._close_channel())

    async def cancel(self) -> None:
        """basic.cancel now; close the channel (returning unacked messages) when idle."""
        if self._cancelled:
            return
        self._cancelled = True
        try:
            # bounded: during an outage aio-pika would wait for the reconnect
            await asyncio.wait_for(self._queue.cancel(self.tag), CANCEL_TIMEOUT_S)
        except Exception as exc:
            log.warning("basic.cancel failed", queue=self._queue.name, error=repr(exc))
        await self._bus.consumer_gone(self._queue)
        if not self._running:
            await self._close_channel()

    async def _close_channel(self) -> None:
        if self._acks is not None:
            # queued before the close, so written before it (a drain's acks reach the broker)
            await self._acks.flush()
        await close_quietly(self._channel)


async def close_quietly(channel: AbstractRobustChannel) -> None:
    try:
        await asyncio.wait_for(channel.close(), CANCEL_TIMEOUT_S)
    except Exception as exc:
        log.warning("closing a consumer channel failed", error=repr(exc))


async def await_reopen(channel: AbstractRobustChannel) -> None:
    """After a channel error (PRECONDITION_FAILED, NOT_FOUND) the broker closed the channel and
    aio-pika reopens it in the background; wait for that so the next call does not fail."""
    if not channel.is_closed:
        return
    reopened = asyncio.Event()

    def on_reopen(*_args: Any) -> None:
        reopened.set()

    channel.reopen_callbacks.add(on_reopen)
    try:
        await asyncio.wait_for(reopened.wait(), REOPEN_TIMEOUT_S)
    except TimeoutError:
        log.warning("channel not reopened in time", channel=repr(channel))
    finally:
        channel.reopen_callbacks.discard(on_reopen)
