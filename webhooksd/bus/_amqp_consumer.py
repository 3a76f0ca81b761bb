"""The consuming side of the RabbitMQ bus: deliveries, consumers, channel recovery.

Kazoo's original is ``gen_listener``'s delivery handling, which auto-acks; here every delivery
is settled explicitly, and settling one whose channel died is logged, never raised (the broker
redelivers the message).

A message dead-lettered with a reason cannot go through the broker's own dead-lettering (a
reject cannot add a header): a copy with the reason is published to ``DEAD_LETTER`` and
confirmed, then the original is acked. Should that publish fail, the original is rejected as
usual, so the message is kept even when its reason is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

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
        headers=dict(incoming.headers),
        message_id=incoming.message_id,
        content_type=incoming.content_type,
        content_encoding=incoming.content_encoding,
        redelivered=bool(incoming.redelivered),
    )


class _AmqpDelivery:
    """One delivery; settling it on a channel that died is logged, not raised."""

    __slots__ = ("_dead_letters", "_incoming", "_owner", "_queue", "message", "settled")

    def __init__(
        self, owner: Owner, incoming: AbstractIncomingMessage, queue: str, *, dead_letters: bool
    ) -> None:
        self._owner = owner
        self._incoming = incoming
        self._queue = queue
        #: whether the queue has a dead-letter exchange (a reject without one drops)
        self._dead_letters = dead_letters
        self.message = _as_message(incoming)
        self.settled = False

    async def ack(self) -> None:
        """basic.ack."""
        if self._begin("ack"):
            await self._guard("ack", self._incoming.ack())

    async def requeue(self) -> None:
        """basic.nack with requeue."""
        if self._begin("requeue"):
            await self._guard("requeue", self._incoming.nack(requeue=True))

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
                await self._guard("dead_letter", self._incoming.ack())
                return
        await self._guard("dead_letter", self._incoming.reject(requeue=False))

    def _begin(self, decision: str) -> bool:
        if self.settled:
            # a second ack would close the channel (unknown delivery tag)
            log.warning("delivery already settled", decision=decision, queue=self._queue)
            return False
        self.settled = True
        return True

    async def _guard(self, decision: str, action: Coroutine[Any, Any, None]) -> None:
        try:
            await action
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
        self.tag = ""

    async def on_message(self, incoming: AbstractIncomingMessage) -> None:
        """aiormq's callback: hand the delivery to a task the bus owns."""
        self._running += 1
        arguments = self._queue.arguments or {}
        delivery = _AmqpDelivery(
            self._bus,
            incoming,
            self._queue.name,
            dead_letters=bool(arguments.get("x-dead-letter-exchange")),
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
        try:
            # bounded: during an outage aio-pika would wait for the reconnect
            await asyncio.wait_for(self._queue.cancel(self.tag), CANCEL_TIMEOUT_S)
        except Exception as exc:
            log.warning("basic.cancel failed", queue=self._queue.name, error=repr(exc))
        await self._bus.consumer_gone(self._queue)
        if not self._running:
            await self._close_channel()

    async def _close_channel(self) -> None:
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
