"""The RabbitMQ bus (``amqp://``): aio-pika over one robust connection.

Kazoo's original is ``kz_amqp_util`` + ``gen_listener``. Differences on purpose: manual acks
(Kazoo auto-acks, so a crash loses the event), publisher confirms, and delayed delivery through
durable TTL "delay buckets" (see :mod:`webhooksd.bus._delay`) instead of an in-process sleep.

Channels: one for topology (declares, binds; restored on reconnect with its exchanges, queues
and bindings), one with publisher confirms for publishing, and one per consumer so that each
consumer gets its own ``basic.qos`` prefetch; a consumer is registered on its channel's aiormq
channel (see :mod:`webhooksd.bus._amqp_consumer`). Handlers run in tasks the bus owns, not
aiormq's, so a dropped channel does not cancel a handler half-way through a webhook; its late
ack is logged and dropped, and the broker redelivers the message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractExchange,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustQueue,
    ExchangeType,
)
from aio_pika.exceptions import ChannelPreconditionFailed, DeliveryError, PublishError

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
    QueueType,
)
from webhooksd.bus._amqp_consumer import (
    RECONSUME_RETRY_S,
    AmqpConsumer,
    await_reopen,
    close_quietly,
)
from webhooksd.bus._delay import (
    EXPIRES_MARGIN_MS,
    QUORUM_DEAD_LETTERING,
    bucket_arguments,
    bucket_ms,
    bucket_name,
)
from webhooksd.errors import BusError, QueueConflict

log = structlog.get_logger(__name__)

#: every body webhooksd publishes is JSON; Kazoo's gen_listener only decodes this type
CONTENT_TYPE = "application/json"

#: how long a publish waits for the broker's confirm before it counts as failed
PUBLISH_TIMEOUT_S = 30.0

#: how long a ``queue_depth`` probe may take
PROBE_TIMEOUT_S = 5.0

#: a delay bucket is declared again (which also restarts its idle expiry) when its last
#: declare is older than this: a message published before then is due at most
#: ``bucket + REDECLARE_S`` after that declare, well within the bucket's ``x-expires`` of
#: ``2 * bucket + EXPIRES_MARGIN_MS``. Declaring on every publish was one RPC per retry
#: message, serialized on the publishing channel: under a slow tenant's thousands of
#: deferrals a second every event's retries queued behind them (issue 13)
REDECLARE_S = EXPIRES_MARGIN_MS / 2 / 1000


class AmqpBus:
    """The RabbitMQ :class:`webhooksd.bus.Bus`."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        topology: AbstractRobustChannel,
        publisher: AbstractRobustChannel,
        queue_type: QueueType = "classic",
    ) -> None:
        self._connection = connection
        self.queue_type: QueueType = queue_type
        self._topology = topology
        self._publisher = publisher
        self._queues: dict[str, AbstractRobustQueue] = {}
        self._exchanges: dict[str, AbstractExchange] = {}
        self._consumers: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: consumer channels closing after their last handler: waited for, never cancelled
        self._closing: set[asyncio.Task[None]] = set()
        #: queue-depth probes in flight: never cancelled mid-RPC (see ``queue_depth``)
        self._probes: set[asyncio.Task[int | None]] = set()
        #: delay buckets declared, with when (monotonic); at most one per (target queue,
        #: bucket), about 155 per target (see :mod:`webhooksd.bus._delay`)
        self._buckets: dict[str, float] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, *, connection_name: str = "webhooksd", queue_type: QueueType = "classic"
    ) -> AsyncIterator[AmqpBus]:
        """Connect (robustly), declare Kazoo's exchanges and the dead-letter queue."""
        try:
            connection = await aio_pika.connect_robust(
                url, client_properties={"connection_name": connection_name}
            )
        except Exception as exc:
            raise BusError(f"cannot connect to the AMQP broker: {exc!r}") from exc
        bus: AmqpBus | None = None
        try:
            topology = await connection.channel(publisher_confirms=False)
            publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
            bus = cls(connection, topology, publisher, queue_type)
            await bus._declare_base()
            yield bus
        finally:
            if bus is not None:
                await bus._stop_tasks()
            await connection.close()

    async def _declare_base(self) -> None:
        for name, kind in KAZOO_EXCHANGES:
            await self.declare_exchange(name, kind)
        await self.declare_exchange(DEAD_LETTER, "fanout", durable=True)
        await self.declare_queue(QueueSpec(name=DEAD_LETTER, durable=True))
        await self.bind(DEAD_LETTER, DEAD_LETTER, "")

    async def _stop_tasks(self) -> None:
        if self._probes:
            # each is bounded by its own timeouts; let them end rather than cut them off
            await asyncio.wait(list(self._probes), timeout=3 * PROBE_TIMEOUT_S)
        # handlers still running here outlived the listeners' drain: cut off, their messages
        # are redelivered
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A consumer channel's close, started once its drained handlers had acked, used to be
        # cancelled here with the handlers: aiormq then sent a second channel.close, which the
        # broker answered by closing the whole connection (CHANNEL_ERROR - expected
        # 'channel.open'). Each close is bounded (close_quietly), so it is waited for.
        while self._closing:
            await asyncio.wait(list(self._closing))

    @property
    def connected(self) -> bool:
        # the robust connection's own flag lags a drop until it starts reconnecting
        transport = self._connection.transport
        return (
            not self._connection.is_closed
            and self._connection.connected.is_set()
            and transport is not None
            and not transport.connection.is_closed
        )

    async def _usable(self, channel: AbstractRobustChannel) -> None:
        """Right after a reconnect (or a channel error) a channel may still be reopening."""
        if channel.is_closed and self.connected:
            await await_reopen(channel)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a handler as a task the bus owns."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def spawn_close(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a consumer channel's close as a task the bus waits for when it stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def declare_exchange(
        self, name: str, kind: ExchangeKind, *, durable: bool = False
    ) -> None:
        # exactly Kazoo's flags (kz_amqp_util:new_exchange/3), or RabbitMQ refuses the redeclare
        try:
            await self._usable(self._topology)
            await self._topology.declare_exchange(
                name, ExchangeType(kind), durable=durable, auto_delete=False, internal=False
            )
        except Exception as exc:
            await await_reopen(self._topology)
            raise BusError(f"declaring exchange {name!r} failed: {exc!r}") from exc

    async def declare_queue(self, spec: QueueSpec) -> str:
        try:
            await self._usable(self._topology)
            queue = await self._topology.declare_queue(
                spec.name or None, **queue_args(spec, self.queue_type)
            )
        except ChannelPreconditionFailed as exc:
            await await_reopen(self._topology)
            raise QueueConflict(spec.name, _reason(exc), await self._type_of(spec)) from exc
        except Exception as exc:
            await await_reopen(self._topology)
            raise BusError(f"declaring queue {spec.name!r} failed: {exc!r}") from exc
        self._queues[queue.name] = queue
        return queue.name

    async def _type_of(self, spec: QueueSpec) -> QueueType | None:
        """After a refused declaration: the other queue type, if the queue is of that type
        (the broker names only the first argument that differs, not always the type)."""
        other: QueueType = "classic" if self.queue_type == "quorum" else "quorum"
        transport = self._connection.transport
        if transport is None:
            return None
        channel = await transport.connection.channel(publisher_confirms=False)
        args = queue_args(spec, other)
        try:
            await channel.queue_declare(
                spec.name,
                durable=args["durable"],
                exclusive=args["exclusive"],
                auto_delete=args["auto_delete"],
                arguments=args["arguments"],
                timeout=PROBE_TIMEOUT_S,
            )
        except Exception:
            return None  # refused too (or the channel went): the type is not what differs
        finally:
            await _close_probe_channel(channel)
        return other

    async def bind(self, queue: str, exchange: str, routing_key: str) -> None:
        try:
            target = await self._known_queue(queue)
            await target.bind(exchange, routing_key)
        except Exception as exc:
            await await_reopen(self._topology)
            raise BusError(f"binding {queue!r} to {exchange!r} failed: {exc!r}") from exc

    async def unbind(self, queue: str, exchange: str, routing_key: str) -> None:
        try:
            target = await self._known_queue(queue)
            await target.unbind(exchange, routing_key)
        except Exception as exc:
            await await_reopen(self._topology)
            raise BusError(f"unbinding {queue!r} from {exchange!r} failed: {exc!r}") from exc

    async def _known_queue(self, name: str) -> AbstractRobustQueue:
        await self._usable(self._topology)
        queue = self._queues.get(name)
        if queue is None:
            queue = await self._topology.declare_queue(name, passive=True)
            self._queues[name] = queue
        return queue

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> Consumer:
        if prefetch < 1:
            raise BusError(f"prefetch must be at least 1, not {prefetch}")
        try:
            channel: AbstractRobustChannel = await self._connection.channel(
                publisher_confirms=False
            )
        except Exception as exc:
            raise BusError(f"opening a channel to consume {queue!r} failed: {exc!r}") from exc
        try:
            await channel.set_qos(prefetch_count=prefetch)
            target = await self._declare_like(channel, queue)
            consumer = AmqpConsumer(self, channel, target, handler, retry_s=self._retry_s())
            await consumer.start()
        except Exception as exc:
            await close_quietly(channel)
            raise BusError(f"consuming {queue!r} failed: {exc!r}") from exc
        self._consumers[queue] = self._consumers.get(queue, 0) + 1
        return consumer

    def _retry_s(self) -> float:
        # a RobustConnection's (the URL's ``reconnect_interval``); not in aio-pika's abstract type
        interval = getattr(self._connection, "reconnect_interval", None)
        return float(interval) if interval is not None else RECONSUME_RETRY_S

    async def _declare_like(self, channel: AbstractRobustChannel, name: str) -> AbstractRobustQueue:
        # declared on the consumer's channel too, so that channel restores the consumer
        known = self._queues.get(name)
        if known is None:
            return await channel.declare_queue(name, passive=True)
        return await channel.declare_queue(
            name,
            durable=known.durable,
            exclusive=known.exclusive,
            auto_delete=known.auto_delete,
            arguments=known.arguments,
        )

    async def consumer_gone(self, queue: AbstractRobustQueue) -> None:
        """RabbitMQ deletes an auto-delete queue with its last consumer: stop restoring it.

        aio-pika forgets a queue only through ``queue_delete``; ``if_unused`` leaves the queue
        alone if consumers on other connections (other nodes) still use it.
        """
        count = self._consumers.get(queue.name, 1) - 1
        self._consumers[queue.name] = count
        if count or not queue.auto_delete:
            return
        self._queues.pop(queue.name, None)
        try:
            await self._topology.queue_delete(queue.name, if_unused=True, if_empty=False)
        except Exception as exc:
            await await_reopen(self._topology)
            log.info("auto-delete queue still in use elsewhere", queue=queue.name, error=repr(exc))

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
        message = aio_pika.Message(
            body,
            headers=dict(headers or {}),
            message_id=message_id,
            content_type=CONTENT_TYPE,
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if persistent
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
        )
        await self._publish(exchange, routing_key, message, mandatory=mandatory)

    async def publish_dead_letter(self, message: Message, queue: str, reason: str) -> None:
        """A rejected message, as it was (encoding included), with the headers RabbitMQ's own
        dead-lettering adds and the reason: persistent, like the durable dead-letter queue."""
        headers = {
            **message.headers,
            "x-first-death-exchange": message.exchange,
            "x-first-death-queue": queue,
            "x-first-death-reason": "rejected",
            REASON_HEADER: reason[:MAX_REASON_CHARS],
        }
        copy = aio_pika.Message(
            message.body,
            headers=headers,
            message_id=message.message_id,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._publish(DEAD_LETTER, message.routing_key, copy, mandatory=False)

    async def _publish(
        self, exchange: str, routing_key: str, message: aio_pika.Message, *, mandatory: bool
    ) -> None:
        if not self.connected:
            raise BusError("publish failed: not connected to the AMQP broker")
        try:
            await self._usable(self._publisher)
            target = await self._exchange(exchange)
            await target.publish(
                message, routing_key, mandatory=mandatory, timeout=PUBLISH_TIMEOUT_S
            )
        except PublishError as exc:
            raise BusError(f"unroutable: exchange {exchange!r} key {routing_key!r}") from exc
        except DeliveryError as exc:
            raise BusError(f"the broker refused the message: {exc!r}") from exc
        except Exception as exc:
            await await_reopen(self._publisher)
            raise BusError(f"publish to {exchange!r} failed: {exc!r}") from exc

    async def _exchange(self, name: str) -> AbstractExchange:
        if name == "":
            return self._publisher.default_exchange
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = await self._publisher.get_exchange(name, ensure=False)
            self._exchanges[name] = exchange
        return exchange

    async def publish_delayed(
        self,
        queue: str,
        body: bytes,
        delay_ms: int,
        *,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> None:
        bucket = bucket_ms(delay_ms)
        if bucket == 0:
            await self.publish(
                "", queue, body, headers=headers, message_id=message_id, persistent=True
            )
            return
        name = bucket_name(queue, bucket)
        declared = self._buckets.get(name)
        if declared is None or time.monotonic() - declared >= REDECLARE_S:
            await self._declare_bucket(name, queue, bucket)
        try:
            await self._publish_persistent(name, body, headers, message_id)
        except BusError as exc:
            if not isinstance(exc.__cause__, PublishError) or declared is None:
                raise
            # unroutable, so not queued: the bucket was deleted since we declared it (by an
            # operator, or a broker that lost it); declare it again and publish once more
            await self._declare_bucket(name, queue, bucket)
            await self._publish_persistent(name, body, headers, message_id)

    async def _declare_bucket(self, name: str, queue: str, bucket: int) -> None:
        self._buckets.pop(name, None)
        try:
            await self._usable(self._publisher)
            await self._publisher.declare_queue(
                name,
                durable=True,
                arguments=bucket_arguments(queue, bucket, quorum=self.queue_type == "quorum"),
                robust=False,
            )
        except ChannelPreconditionFailed as exc:
            await await_reopen(self._publisher)
            raise QueueConflict(name, _reason(exc)) from exc
        except Exception as exc:
            await await_reopen(self._publisher)
            raise BusError(f"declaring delay bucket {name!r} failed: {exc!r}") from exc
        self._buckets[name] = time.monotonic()

    async def _publish_persistent(
        self, name: str, body: bytes, headers: Mapping[str, Any] | None, message_id: str | None
    ) -> None:
        await self.publish(
            "", name, body, headers=headers, message_id=message_id, persistent=True,
            mandatory=True,
        )  # fmt: skip

    async def queue_depth(self, queue: str) -> int | None:
        # Cancelling a probe mid-RPC (the daemon stopping while ``gauges`` samples) left aiormq
        # waiting for an answer that never came, and the daemon's shutdown hung for good; it
        # could also break the connection ("expected 'channel.open'"). So the probe runs as a
        # task of the bus, bounded by its timeouts, and a cancelled caller just stops waiting.
        probe = asyncio.create_task(self._probe_depth(queue))
        self._probes.add(probe)
        probe.add_done_callback(self._probes.discard)
        return await asyncio.shield(probe)

    async def _probe_depth(self, queue: str) -> int | None:
        transport = self._connection.transport
        if transport is None or not self.connected:
            return None
        try:
            # a throwaway channel: a passive declare of a missing queue closes its channel
            channel = await transport.connection.channel(publisher_confirms=False)
            try:
                declared = await channel.queue_declare(queue, passive=True, timeout=PROBE_TIMEOUT_S)
            finally:
                await _close_probe_channel(channel)
        except Exception as exc:
            log.debug("queue depth unknown", queue=queue, error=repr(exc))
            return None
        return declared.message_count


async def _close_probe_channel(channel: Any) -> None:
    """Close a throwaway probe channel, waiting a bounded time. A probe cancelled mid-RPC (the
    daemon stopping while ``gauges`` samples) leaves a channel whose close is never answered:
    awaited unbounded, that close hung the daemon's shutdown for good."""
    if channel.is_closed:
        return
    try:
        await asyncio.wait_for(channel.close(), PROBE_TIMEOUT_S)
    except Exception as exc:
        log.debug("probe channel close failed", error=repr(exc))


def queue_args(spec: QueueSpec, queue_type: QueueType) -> dict[str, Any]:
    """``queue.declare``'s flags and arguments for ``spec`` on a bus of ``queue_type``."""
    arguments: dict[str, Any] = {"x-dead-letter-exchange": DEAD_LETTER} if spec.dead_letter else {}
    if queue_type == "quorum" and spec.durable and not (spec.exclusive or spec.auto_delete):
        arguments["x-queue-type"] = "quorum"
        if spec.dead_letter:
            arguments.update(QUORUM_DEAD_LETTERING)
    return {
        "durable": spec.durable,
        "exclusive": spec.exclusive,
        "auto_delete": spec.auto_delete,
        "arguments": arguments or None,
    }


def _reason(exc: ChannelPreconditionFailed) -> str:
    """The broker's own words ("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' …")."""
    text = str(exc.args[0] if exc.args else exc)
    return text[text.find("PRECONDITION_FAILED") :] if "PRECONDITION_FAILED" in text else text
