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

The consumer is registered on the robust channel's aiormq channel, not through aio-pika's
queue: aio-pika built an ``IncomingMessage`` (26 attribute sets behind a lock check) and one more
task per delivery only for us to copy it into our :class:`Message`. So what aio-pika's robust
queue did for its consumers is done here: consume again after each reopen of the channel (a
reconnect or a channel error), and after the broker cancelled the consumer (its queue deleted,
a node gone), probing the queue on a throwaway channel first and retrying until it works.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol

import aiormq.abc
import structlog
from aio_pika.abc import AbstractRobustChannel, AbstractRobustQueue
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from webhooksd.bus import Handler, Message

log = structlog.get_logger(__name__)

#: how long cancelling a consumer (or closing its channel) may take
CANCEL_TIMEOUT_S = 5.0

#: how long to wait for a channel the broker closed on an error to be reopened
REOPEN_TIMEOUT_S = 10.0

#: the pause between attempts to consume again after the broker cancelled a consumer, when the
#: connection has no ``reconnect_interval`` (aio-pika's default, which its robust queue waited
#: between its own attempts)
RECONSUME_RETRY_S = 5.0

#: how long probing the queue, or consuming it again, may take (aio-pika's robust queue's bound)
RECONSUME_TIMEOUT_S = 5.0


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


def _as_message(deliver: spec.Basic.Deliver, delivered: DeliveredMessage) -> Message:
    """The fields exactly as aio-pika's ``IncomingMessage`` gave them."""
    properties = delivered.header.properties
    return Message(
        exchange=deliver.exchange or "",
        routing_key=deliver.routing_key or "",
        body=delivered.body,
        # pamqp decoded a fresh dict for this message alone (aio-pika passed it on as it is):
        # no copy needed
        headers=properties.headers or {},
        # aio-pika: ``str(message_id) if message_id else None`` (pamqp decodes a str)
        message_id=properties.message_id or None,
        content_type=properties.content_type,
        content_encoding=properties.content_encoding,
        redelivered=bool(deliver.redelivered),
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

    async def settle_now(self, tag: int, action: Awaitable[None]) -> None:
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

    __slots__ = (
        "_acks", "_channel", "_dead_letters", "_owner", "_queue", "_tag", "message", "settled",
    )  # fmt: skip

    def __init__(
        self,
        owner: Owner,
        message: Message,
        channel: aiormq.abc.AbstractChannel,
        tag: int,
        queue: str,
        acks: AckBatch,
        *,
        dead_letters: bool,
    ) -> None:
        self._owner = owner
        #: the aiormq channel that delivered it, and its tag there
        self._channel = channel
        self._tag = tag
        self._queue = queue
        self._acks = acks
        #: whether the queue has a dead-letter exchange (a reject without one drops)
        self._dead_letters = dead_letters
        self.message = message
        self.settled = False

    async def ack(self) -> None:
        """basic.ack, batched with the others of this turn of the loop."""
        if self._begin("ack"):
            await self._acks.ack(self._tag)

    async def requeue(self) -> None:
        """basic.nack with requeue."""
        if self._begin("requeue"):
            await self._settle_now("requeue", self._channel.basic_nack(self._tag, requeue=True))

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
        await self._settle_now("dead_letter", self._channel.basic_reject(self._tag, requeue=False))

    def _begin(self, decision: str) -> bool:
        if self.settled:
            # a second ack would close the channel (unknown delivery tag)
            log.warning("delivery already settled", decision=decision, queue=self._queue)
            return False
        self.settled = True
        return True

    async def _settle_now(self, decision: str, action: Awaitable[None]) -> None:
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
    """A consumer on its own channel; the channel closes once its handlers are done.

    :meth:`start` registers it on the channel's current aiormq channel; it registers itself
    again on every reopen, and after the broker cancels it (see the module's docstring)."""

    def __init__(
        self, bus: Owner, channel: AbstractRobustChannel, queue: AbstractRobustQueue,
        handler: Handler, *, retry_s: float = RECONSUME_RETRY_S,
    ) -> None:  # fmt: skip
        self._bus = bus
        #: the pause between attempts to consume again after the broker cancelled us
        self._retry_s = retry_s
        self._channel = channel
        self._queue = queue
        self._handler = handler
        self._running = 0
        self._cancelled = False
        #: whether the queue has a dead-letter exchange (a reject without one drops)
        self._dead_letters = bool((queue.arguments or {}).get("x-dead-letter-exchange"))
        #: the acks of the channel's current incarnation
        self._acks: AckBatch | None = None
        #: the aiormq channel the consumer is registered on (None once the broker cancelled it)
        self._consuming_on: aiormq.abc.AbstractChannel | None = None
        #: consuming again after the broker cancelled us (at most one at a time)
        self._recovering = False
        self.tag = ""

    async def start(self) -> None:
        """basic.consume, and again after each reopen of the channel. Raises if the first
        one fails (the caller closes the channel)."""
        underlay = await self._channel.get_underlay_channel()
        self._channel.reopen_callbacks.add(self._on_reopen)
        await self._consume(underlay)

    async def _consume(
        self, underlay: aiormq.abc.AbstractChannel, bound_s: float | None = None
    ) -> None:
        # the broker cancelling us (queue deleted, node gone) is told on this channel only
        underlay.on_consumer_cancel_callbacks.add(self._on_broker_cancel)
        consumed = await underlay.basic_consume(
            self._queue.name,
            self.on_delivery,
            no_ack=False,
            # the same tag in every incarnation, as aio-pika's robust queue kept it
            consumer_tag=self.tag or None,
            timeout=bound_s,
        )
        self.tag = consumed.consumer_tag or self.tag
        self._consuming_on = underlay
        if self._cancelled:
            # cancelled while this consume was on its way: nothing must be delivered now
            await underlay.basic_cancel(self.tag)

    async def _on_reopen(self, *_args: Any) -> None:
        """The channel's reopen callback (a reconnect, or the broker closed it on an error):
        aio-pika swallows what a callback raises, so a failed consume is retried here."""
        if self._cancelled:
            return
        try:
            await self._consume(await self._channel.get_underlay_channel())
        except Exception as exc:
            log.warning(
                "consuming again after a reopen failed; retrying",
                queue=self._queue.name,
                error=repr(exc),
            )
            self._recover()

    def _on_broker_cancel(self, frame: spec.Basic.Cancel) -> None:
        if frame.consumer_tag == self.tag and not self._cancelled:
            self._consuming_on = None
            self._recover()

    def _recover(self) -> None:
        if not self._recovering:
            self._recovering = True
            self._bus.spawn(self._reconsume())

    async def _reconsume(self) -> None:
        """After the broker cancelled us: probe the queue (declaring it again if it was
        deleted) on a throwaway channel, so a failing declare cannot close ours, then consume;
        at once, then every ``retry_s`` (as aio-pika did) until it works, the consumer is
        cancelled or the channel closes (its reopen consumes again)."""
        try:
            first = True
            while not self._cancelled and not self._channel.is_closed:
                if not first:
                    await asyncio.sleep(self._retry_s)
                first = False
                try:
                    underlay = await self._channel.get_underlay_channel()
                    if self._cancelled or self._consuming_on is underlay:
                        return
                    await self._probe(underlay)
                    await self._consume(underlay, RECONSUME_TIMEOUT_S)
                    return
                except Exception as exc:
                    log.warning(
                        "consuming again failed; retrying",
                        queue=self._queue.name,
                        error=repr(exc),
                    )
        finally:
            self._recovering = False

    async def _probe(self, underlay: aiormq.abc.AbstractChannel) -> None:
        queue = self._queue
        probe = await underlay.connection.channel(
            publisher_confirms=False, timeout=RECONSUME_TIMEOUT_S
        )
        try:
            await probe.queue_declare(
                queue=queue.name,
                durable=queue.durable,
                exclusive=queue.exclusive,
                auto_delete=queue.auto_delete,
                arguments=queue.arguments,
                passive=queue.passive,
                timeout=RECONSUME_TIMEOUT_S,
            )
        finally:
            await probe.close()

    async def on_delivery(self, delivered: DeliveredMessage) -> None:
        """aiormq's callback (in a task of aiormq's channel, which it cancels when the channel
        closes): hand the delivery to a task the bus owns, so a dropped channel does not cut
        a handler off half-way through a webhook."""
        deliver = delivered.delivery
        assert isinstance(deliver, spec.Basic.Deliver)  # what a consumer is given
        channel = delivered.channel
        if channel.is_closed:
            # closed since: the broker redelivers it (aio-pika raised here, before the handler)
            return
        self._running += 1
        acks = self._acks
        if acks is None or not acks.owns(channel):
            # the first delivery, or the first since the channel was reopened: the old
            # batch's tags are void, so it only ever writes on its own (closed) channel
            acks = self._acks = AckBatch(channel, self._queue.name)
        tag = deliver.delivery_tag
        assert tag is not None  # always set on a basic.deliver with manual acks
        acks.delivered(tag)
        delivery = _AmqpDelivery(
            self._bus,
            _as_message(deliver, delivered),
            channel,
            tag,
            self._queue.name,
            acks,
            dead_letters=self._dead_letters,
        )
        self._bus.spawn(self._run(delivery))

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
        # a reopen from now on does not consume again
        self._channel.reopen_callbacks.discard(self._on_reopen)
        try:
            # bounded: during an outage the underlay channel waits for the reconnect
            await asyncio.wait_for(self._basic_cancel(), CANCEL_TIMEOUT_S)
        except Exception as exc:
            log.warning("basic.cancel failed", queue=self._queue.name, error=repr(exc))
        await self._bus.consumer_gone(self._queue)
        if not self._running:
            await self._close_channel()

    async def _basic_cancel(self) -> None:
        underlay = await self._channel.get_underlay_channel()
        await underlay.basic_cancel(self.tag)

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
