"""The in-process bus (``memory://``): RabbitMQ's observable semantics without a broker.

Kazoo has no equivalent (it always needs RabbitMQ); this is the bus of ``make run`` and of the
unit tests. It keeps AMQP 0-9-1's rules: topic (``*`` one word, ``#`` zero or more), direct and
fanout exchanges, the default exchange routing by queue name, server-named queues
(``amq.gen-…``), per-queue FIFO, prefetch counting unsettled deliveries, round-robin between the
consumers of a queue, requeue at the head with ``redelivered=True``, dead-lettering into
``DEAD_LETTER`` for queues declared with ``dead_letter=True``, unacked deliveries returning to
the queue when their consumer is cancelled, auto-delete queues deleted with their last consumer,
exclusive queues deleted on close.

Everything runs on the event loop: no threads, no sleeps. Delayed messages wait in
``loop.call_later`` timers, so **they are lost on restart** (unlike the AMQP bus).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog

from webhooksd.bus import (
    DEAD_LETTER,
    KAZOO_EXCHANGES,
    MAX_REASON_CHARS,
    REASON_HEADER,
    Consumer,
    ExchangeKind,
    Handler,
    Message,
    QueueSpec,
)
from webhooksd.bus._topic import Exchange
from webhooksd.errors import BusError

log = structlog.get_logger(__name__)

#: every body webhooksd publishes is JSON; Kazoo's gen_listener only decodes this type
CONTENT_TYPE = "application/json"


class _Queue:
    """A queue: ready messages in FIFO order and the consumers taking them in turn."""

    def __init__(self, name: str, spec: QueueSpec) -> None:
        self.name = name
        self.spec = spec
        self.ready: deque[Message] = deque()
        self.consumers: list[_MemoryConsumer] = []
        self.turn = 0
        self.deleted = False

    def dispatch(self) -> None:
        """Hand ready messages to consumers with a free prefetch slot, round-robin."""
        while self.ready and self.consumers:
            consumer = self._next_free()
            if consumer is None:
                return
            consumer.deliver(self.ready.popleft())

    def _next_free(self) -> _MemoryConsumer | None:
        count = len(self.consumers)
        for step in range(count):
            consumer = self.consumers[(self.turn + step) % count]
            if consumer.has_room():
                self.turn = (self.turn + step + 1) % count
                return consumer
        return None


class _MemoryDelivery:
    """One message handed to one consumer; settled at most once."""

    __slots__ = ("_consumer", "message", "settled")

    def __init__(self, consumer: _MemoryConsumer, message: Message) -> None:
        self._consumer = consumer
        self.message = message
        self.settled = False

    async def ack(self) -> None:
        """Done with it: the message is gone."""
        self._settle("ack")

    async def requeue(self) -> None:
        """Back to the head of its queue, redelivered with ``redelivered=True``."""
        if self._settle("requeue"):
            self._consumer.return_to_queue([self.message])

    async def dead_letter(self, reason: str | None = None) -> None:
        """Rejected: into ``DEAD_LETTER`` if the queue asked for it, else dropped."""
        if self._settle("dead_letter"):
            self._consumer.dead_letter(self.message, reason)

    def _settle(self, decision: str) -> bool:
        if self.settled:
            # RabbitMQ would close the channel (unknown delivery tag); the caller must not care
            log.warning("delivery already settled", decision=decision, queue=self._consumer.queue)
            return False
        self.settled = True
        self._consumer.forget(self)
        return True


class _MemoryConsumer:
    """A consumer: runs the handler for up to ``prefetch`` unsettled deliveries."""

    def __init__(self, bus: MemoryBus, queue: _Queue, handler: Handler, prefetch: int) -> None:
        self._bus = bus
        self._queue = queue
        self._handler = handler
        self._prefetch = prefetch
        self._unsettled: dict[int, _MemoryDelivery] = {}
        self._running = 0
        self.cancelled = False

    @property
    def queue(self) -> str:
        return self._queue.name

    def has_room(self) -> bool:
        return not self.cancelled and len(self._unsettled) < self._prefetch

    def deliver(self, message: Message) -> None:
        delivery = _MemoryDelivery(self, message)
        self._unsettled[id(delivery)] = delivery
        self._running += 1
        self._bus.spawn(self._run(delivery))

    async def _run(self, delivery: _MemoryDelivery) -> None:
        try:
            await self._handler(delivery)
        except Exception:
            log.exception("handler failed; message requeued", queue=self.queue)
            if not delivery.settled:
                await delivery.requeue()
        finally:
            self._running -= 1
            if not delivery.settled:
                log.warning("handler returned without settling", queue=self.queue)
            self._release_if_done()

    def forget(self, delivery: _MemoryDelivery) -> None:
        """A delivery was settled: its prefetch slot is free again."""
        self._unsettled.pop(id(delivery), None)
        self._queue.dispatch()

    def return_to_queue(self, messages: list[Message]) -> None:
        if self._queue.deleted:
            return
        for message in reversed(messages):
            self._queue.ready.appendleft(dataclasses.replace(message, redelivered=True))
        self._queue.dispatch()

    def dead_letter(self, message: Message, reason: str | None) -> None:
        if self._queue.spec.dead_letter:
            self._bus.dead_letter(self._queue.name, message, reason)

    async def cancel(self) -> None:
        """Stop receiving; unsettled deliveries return to the queue once no handler runs."""
        if self.cancelled:
            return
        self.cancelled = True
        self._bus.detach(self._queue, self)
        self._release_if_done()

    def _release_if_done(self) -> None:
        # like closing the channel of a cancelled AMQP consumer: what it held goes back
        if self.cancelled and not self._running and self._unsettled:
            held = list(self._unsettled.values())
            self._unsettled.clear()
            for delivery in held:
                delivery.settled = True
            self.return_to_queue([d.message for d in held])


class MemoryBus:
    """The in-process :class:`webhooksd.bus.Bus`."""

    def __init__(self) -> None:
        self._exchanges: dict[str, Exchange] = {}
        self._queues: dict[str, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._closed = False

    @classmethod
    @asynccontextmanager
    async def open(cls) -> AsyncIterator[MemoryBus]:
        """A fresh bus with Kazoo's exchanges and the dead-letter queue; stopped on exit."""
        bus = cls()
        for name, kind in KAZOO_EXCHANGES:
            await bus.declare_exchange(name, kind)
        await bus.declare_exchange(DEAD_LETTER, "fanout", durable=True)
        await bus.declare_queue(QueueSpec(name=DEAD_LETTER, durable=True))
        await bus.bind(DEAD_LETTER, DEAD_LETTER, "")
        try:
            yield bus
        finally:
            await bus.close()

    async def close(self) -> None:
        """Stop timers and handlers; everything held is dropped."""
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._queues.clear()

    @property
    def connected(self) -> bool:
        return not self._closed

    def spawn(self, coro: Any) -> None:
        """Run a handler as a task the bus owns (cancelled on close)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def declare_exchange(
        self, name: str, kind: ExchangeKind, *, durable: bool = False
    ) -> None:
        existing = self._exchanges.get(name)
        if existing is None:
            self._exchanges[name] = Exchange(kind=kind, durable=durable)
        elif (existing.kind, existing.durable) != (kind, durable):
            raise BusError(f"PRECONDITION_FAILED: exchange {name!r} declared differently")

    async def declare_queue(self, spec: QueueSpec) -> str:
        name = spec.name or f"amq.gen-{secrets.token_urlsafe(16)}"
        existing = self._queues.get(name)
        if existing is None:
            self._queues[name] = _Queue(name, spec)
        elif dataclasses.replace(existing.spec, name=name) != dataclasses.replace(spec, name=name):
            raise BusError(f"PRECONDITION_FAILED: queue {name!r} declared differently")
        return name

    async def bind(self, queue: str, exchange: str, routing_key: str) -> None:
        self._queue(queue)
        target = self._exchange(exchange)
        target.bindings.add((queue, routing_key))
        target.routes.clear()

    async def unbind(self, queue: str, exchange: str, routing_key: str) -> None:
        target = self._exchange(exchange)
        target.bindings.discard((queue, routing_key))
        target.routes.clear()

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> Consumer:
        if prefetch < 1:
            raise BusError(f"prefetch must be at least 1, not {prefetch}")
        target = self._queue(queue)
        consumer = _MemoryConsumer(self, target, handler, prefetch)
        target.consumers.append(consumer)
        target.dispatch()
        return consumer

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        persistent: bool = False,
        mandatory: bool = False,
    ) -> None:
        message = Message(
            exchange=exchange,
            routing_key=routing_key,
            body=body,
            headers=dict(headers or {}),
            message_id=message_id,
            content_type=CONTENT_TYPE,
        )
        queues = [routing_key] if exchange == "" else self._exchange(exchange).route(routing_key)
        delivered = [self._enqueue(name, message) for name in queues]
        if mandatory and not any(delivered):
            raise BusError(f"unroutable: exchange {exchange!r} routing key {routing_key!r}")

    async def publish_delayed(
        self,
        queue: str,
        body: bytes,
        delay_ms: int,
        *,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> None:
        message = Message(
            exchange="",
            routing_key=queue,
            body=body,
            headers=dict(headers or {}),
            message_id=message_id,
            content_type=CONTENT_TYPE,
        )
        if delay_ms <= 0:
            self._enqueue(queue, message)
            return
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def due() -> None:
            self._timers.discard(timer)
            if not self._enqueue(queue, message):
                log.warning("delayed message dropped: no such queue", queue=queue)

        timer = loop.call_later(delay_ms / 1000, due)
        self._timers.add(timer)

    async def queue_depth(self, queue: str) -> int | None:
        target = self._queues.get(queue)
        return None if target is None else len(target.ready)

    def detach(self, queue: _Queue, consumer: _MemoryConsumer) -> None:
        """A consumer was cancelled; an auto-delete queue goes with its last consumer."""
        if consumer in queue.consumers:
            queue.consumers.remove(consumer)
        if queue.spec.auto_delete and not queue.consumers and not queue.deleted:
            self._delete_queue(queue)
        else:
            queue.dispatch()

    def dead_letter(self, queue: str, message: Message, reason: str | None = None) -> None:
        """Route a rejected message to ``DEAD_LETTER``, noting where it came from and why."""
        headers = {
            **message.headers,
            "x-first-death-exchange": message.exchange,
            "x-first-death-queue": queue,
            "x-first-death-reason": "rejected",
            **({REASON_HEADER: reason[:MAX_REASON_CHARS]} if reason else {}),
        }
        dead = dataclasses.replace(
            message, exchange=DEAD_LETTER, headers=headers, redelivered=False
        )
        for name in self._exchange(DEAD_LETTER).route(message.routing_key):
            self._enqueue(name, dead)

    def _enqueue(self, queue: str, message: Message) -> bool:
        target = self._queues.get(queue)
        if target is None:
            return False
        target.ready.append(message)
        target.dispatch()
        return True

    def _delete_queue(self, queue: _Queue) -> None:
        queue.deleted = True
        queue.ready.clear()
        self._queues.pop(queue.name, None)
        for exchange in self._exchanges.values():
            exchange.bindings = {b for b in exchange.bindings if b[0] != queue.name}
            exchange.routes.clear()

    def _exchange(self, name: str) -> Exchange:
        exchange = self._exchanges.get(name)
        if exchange is None:
            raise BusError(f"NOT_FOUND: no exchange {name!r}")
        return exchange

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            raise BusError(f"NOT_FOUND: no queue {name!r}")
        return queue
