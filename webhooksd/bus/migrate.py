"""Switching the durable queues to another ``queue_type`` without losing what they hold.

RabbitMQ cannot change a queue's type in place, and a queue that is deleted and declared
again drops whatever is routed to it in between. So, with every instance stopped, each queue
``Q`` moves through a holding queue ``Q.migrating`` of the new type:

1. ``Q.migrating`` is declared and bound like ``Q``; then ``Q`` is unbound, so that events
   Kazoo publishes meanwhile land in the holding queue (an event published in the instant
   both are bound lands in both: a duplicate, never a loss);
2. the delay buckets of ``Q`` are emptied into the holding queue, each message marked with
   its bucket's delay, and deleted (they dead-letter into ``Q`` by name, and ``Q`` is about
   to be absent for a moment);
3. ``Q`` is emptied into the holding queue, deleted, declared with the new type and bound;
4. the holding queue is emptied back into ``Q`` — a marked message into a new bucket of its
   delay, so a retry is never early (it waits its delay once more) — then unbound and
   deleted.

Each message is moved by a publish confirmed by the broker before the original is acked: a
crash half-way leaves a message in one queue or, at worst, in both. Running it again finishes
the job (a queue already of the new type is left as it is, its buckets still emptied).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aio_pika.exceptions import ChannelClosed, ChannelNotFoundEntity, ChannelPreconditionFailed

from webhooksd.bus import QueueSpec, QueueType
from webhooksd.bus._delay import STEP, bucket_arguments, bucket_name
from webhooksd.bus.amqp import queue_args
from webhooksd.errors import BusError

log = structlog.get_logger(__name__)

#: the suffix of a queue's holding queue during a migration
HOLDING_SUFFIX = ".migrating"
#: the header that carries a parked message's bucket delay through the holding queue
DELAY_HEADER = "x-webhooksd-delay-ms"
#: the longest bucket looked for (a day: every delay webhooksd makes is far shorter)
MAX_BUCKET_MS = 86_400_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One durable queue to migrate: how it is declared and bound, and whether delayed
    messages wait for it in delay buckets."""

    spec: QueueSpec
    bindings: Sequence[tuple[str, str]] = ()
    buckets: bool = False


@dataclass(slots=True)
class Moved:
    """What a migration did, queue by queue."""

    messages: dict[str, int] = field(default_factory=dict)
    buckets: int = 0
    skipped: list[str] = field(default_factory=list)


def bucket_delays(max_ms: int = MAX_BUCKET_MS) -> list[int]:
    """Every bucket delay ``publish_delayed`` can make, up to ``max_ms``."""
    delays: list[int] = []
    k = 0
    while (ms := math.ceil(STEP**k)) <= max_ms:
        if ms not in delays:
            delays.append(ms)
        k += 1
    return delays


async def migrate(url: str, targets: Sequence[Target], queue_type: QueueType) -> Moved:
    """Make every target a ``queue_type`` queue, keeping its messages (instances stopped)."""
    moved = Moved()
    connection = await aio_pika.connect(url, client_properties={"connection_name": "migrate"})
    async with connection:
        publisher = await connection.channel(publisher_confirms=True)
        for target in targets:
            await _migrate_one(connection, publisher, target, queue_type, moved)
    return moved


async def _migrate_one(
    connection: AbstractConnection,
    publisher: AbstractChannel,
    target: Target,
    queue_type: QueueType,
    moved: Moved,
) -> None:
    name = target.spec.name
    state = await _state(connection, target.spec, queue_type)
    if state == "absent" or (state == "done" and not target.buckets):
        moved.skipped.append(name)
        return
    holding_spec = QueueSpec(
        name=name + HOLDING_SUFFIX,
        durable=True,
        dead_letter=target.spec.dead_letter,
    )
    channel = await connection.channel()
    holding = await _declare(channel, holding_spec, queue_type)
    for exchange, key in target.bindings:
        await holding.bind(exchange, key)
    count = 0
    if state == "other":
        old = await channel.declare_queue(name, passive=True)
        for exchange, key in target.bindings:
            await old.unbind(exchange, key)
    if target.buckets:
        count += await _park_buckets(connection, publisher, name, holding.name, moved)
    new = None
    if state == "other":
        count += await _empty_and_delete(connection, publisher, name, to=holding.name)
        new = await _declare(channel, target.spec, queue_type)
        for exchange, key in target.bindings:
            await new.bind(exchange, key)
    for exchange, key in target.bindings:
        await holding.unbind(exchange, key)
    await _unpark(connection, publisher, holding.name, name, queue_type)
    await _delete_empty(connection, publisher, holding.name, name, queue_type)
    moved.messages[name] = count
    log.info("queue migrated", queue=name, queue_type=queue_type, messages=count)
    await channel.close()


async def _state(connection: AbstractConnection, spec: QueueSpec, queue_type: QueueType) -> str:
    """``absent``, ``done`` (already of ``queue_type``) or ``other``; refuses a queue that
    is still consumed (an instance is running)."""
    channel = await connection.channel()
    try:
        existing = await channel.declare_queue(spec.name, passive=True)
    except ChannelNotFoundEntity:
        return "absent"
    consumers = existing.declaration_result.consumer_count
    if consumers:
        raise BusError(
            f"queue {spec.name!r} has {consumers} consumer(s): stop every instance first"
        )
    try:
        await channel.declare_queue(spec.name, **queue_args(spec, queue_type))
    except ChannelPreconditionFailed:
        return "other"
    await channel.close()
    return "done"


async def _declare(
    channel: AbstractChannel, spec: QueueSpec, queue_type: QueueType
) -> AbstractQueue:
    return await channel.declare_queue(spec.name, **queue_args(spec, queue_type))


async def _move(
    connection: AbstractConnection,
    publisher: AbstractChannel,
    source: str,
    *,
    to: str,
    headers: dict[str, int] | None = None,
) -> int:
    """Move every message of ``source`` to queue ``to``: a confirmed publish, then the ack."""
    channel = await connection.channel()
    queue = await channel.declare_queue(source, passive=True)
    count = 0
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        copy = _copy(message, {**message.headers, **(headers or {})})
        await publisher.default_exchange.publish(copy, to)
        await message.ack()
        count += 1
    await channel.close()
    return count


def _copy(message: AbstractIncomingMessage, headers: Mapping[str, Any]) -> aio_pika.Message:
    """A message as it was (its TTL aside), persistent, with ``headers``."""
    return aio_pika.Message(
        message.body,
        headers=dict(headers),
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


async def _empty_and_delete(
    connection: AbstractConnection,
    publisher: AbstractChannel,
    source: str,
    *,
    to: str,
    headers: dict[str, int] | None = None,
) -> int:
    """Empty ``source`` into ``to``, then delete it. Nothing routes to ``source`` any more (it
    is unbound, its buckets are parked, no instance runs), but a message already on its way
    may still land: delete only once a count says empty. Quorum queues refuse the broker's
    own conditional delete (``if-empty``), hence the count."""
    count = 0
    while True:
        count += await _move(connection, publisher, source, to=to, headers=headers)
        channel = await connection.channel()
        left = await channel.declare_queue(source, passive=True)
        if left.declaration_result.message_count:
            await channel.close()
            continue
        await channel.queue_delete(source)
        await channel.close()
        return count


async def _park_buckets(
    connection: AbstractConnection,
    publisher: AbstractChannel,
    target: str,
    holding: str,
    moved: Moved,
) -> int:
    count = 0
    for delay in bucket_delays():
        name = bucket_name(target, delay)
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except (ChannelNotFoundEntity, ChannelClosed):
            continue
        await channel.close()
        count += await _empty_and_delete(
            connection, publisher, name, to=holding, headers={DELAY_HEADER: delay}
        )
        moved.buckets += 1
    return count


async def _unpark(
    connection: AbstractConnection,
    publisher: AbstractChannel,
    holding: str,
    target: str,
    queue_type: QueueType,
) -> None:
    """Empty the holding queue into ``target``; a parked message into a bucket of its delay."""
    channel = await connection.channel()
    queue = await channel.declare_queue(holding, passive=True)
    declared: set[str] = set()
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        headers = dict(message.headers)
        delay = headers.pop(DELAY_HEADER, None)
        route = target
        if isinstance(delay, int) and delay > 0:
            route = bucket_name(target, delay)
            if route not in declared:
                await channel.declare_queue(
                    route,
                    durable=True,
                    arguments=bucket_arguments(target, delay, quorum=queue_type == "quorum"),
                )
                declared.add(route)
        await publisher.default_exchange.publish(_copy(message, headers), route)
        await message.ack()
    await channel.close()


async def _delete_empty(
    connection: AbstractConnection,
    publisher: AbstractChannel,
    holding: str,
    target: str,
    queue_type: QueueType,
) -> None:
    """Delete the (unbound) holding queue once a count says it is empty."""
    while True:
        channel = await connection.channel()
        left = await channel.declare_queue(holding, passive=True)
        if not left.declaration_result.message_count:
            await channel.queue_delete(holding)
            await channel.close()
            return
        await channel.close()
        await _unpark(connection, publisher, holding, target, queue_type)
