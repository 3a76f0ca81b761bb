"""The message bus: Kazoo's AMQP exchanges, our queues, manual acks, confirmed publishes.

One :class:`Bus` protocol, two implementations that pass the same suite (``tests/bus``):
``amqp://`` (aio-pika against RabbitMQ) and ``memory://`` (in-process, the same topic routing,
nothing kept across a restart). :func:`open_bus` picks one by URL scheme.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from webhooksd.errors import ConfigError

ExchangeKind = Literal["topic", "direct", "fanout"]

#: what kind of queue every durable queue is (setting ``queue_type``): ``classic`` lives on one
#: RabbitMQ node; ``quorum`` is replicated over the cluster (RabbitMQ 3.10 or later)
QueueType = Literal["classic", "quorum"]
QUEUE_TYPES: tuple[QueueType, ...] = ("classic", "quorum")

#: Kazoo's exchanges (``kz_amqp.hrl``): all non-durable, not auto-delete, not internal.
KAZOO_EXCHANGES: tuple[tuple[str, ExchangeKind], ...] = (
    ("callevt", "topic"),
    ("configuration", "topic"),
    ("notifications", "topic"),
    ("im", "topic"),
    # ``kapi_cdr``: the CDR reports Kazoo 5's ``cdr`` hook type is bound to
    ("cdr", "topic"),
    ("targeted", "direct"),
)

#: where rejected messages go (a durable fanout exchange and a durable queue of that name)
DEAD_LETTER = "webhooksd.dead_letter"
#: the header of a dead-lettered message that says why it was rejected
REASON_HEADER = "x-webhooksd-reason"
#: longest reason kept in that header (it may quote the message)
MAX_REASON_CHARS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A message as received."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    redelivered: bool = False


class Delivery(Protocol):
    """Protocol: a received message and the one decision to take about it."""

    @property
    def message(self) -> Message: ...

    async def ack(self) -> None:
        """Done with it. Returns once the ack is written or queued to be written (RabbitMQ
        batches the acks of one turn of the loop): either way before the consumer's channel
        closes, so a drained delivery's ack reaches the broker."""

    async def requeue(self) -> None:
        """Give it back to the queue to be delivered again (now or after a reconnect)."""

    async def dead_letter(self, reason: str | None = None) -> None:
        """Reject it without requeue: it moves to the ``DEAD_LETTER`` queue (if its queue was
        declared with ``dead_letter``), ``reason`` in its ``REASON_HEADER``."""


Handler = Callable[[Delivery], Awaitable[None]]


class Consumer(Protocol):
    """Protocol: a running consumer."""

    async def cancel(self) -> None:
        """Stop receiving; deliveries already handed to the handler are not affected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueSpec:
    """How to declare a queue. An empty ``name`` asks for a server-named queue.

    The bus's ``queue_type`` applies to a durable queue that is neither exclusive nor
    auto-delete: RabbitMQ's quorum queues can be neither, so per-instance queues stay classic
    (they die with their connection anyway, so replicating them would buy nothing)."""

    name: str = ""
    durable: bool = False
    exclusive: bool = False
    auto_delete: bool = False
    #: rejected messages go to ``DEAD_LETTER`` instead of being dropped
    dead_letter: bool = False


class Bus(Protocol):
    """Protocol: the operations webhooksd needs from an AMQP 0-9-1 broker.

    Publishing waits for the broker's confirm and raises :class:`webhooksd.errors.BusError`
    when it is refused or the connection is lost.
    """

    async def declare_exchange(
        self, name: str, kind: ExchangeKind, *, durable: bool = False
    ) -> None: ...

    async def declare_queue(self, spec: QueueSpec) -> str:
        """Declare a queue and return its name."""

    async def bind(self, queue: str, exchange: str, routing_key: str) -> None: ...

    async def unbind(self, queue: str, exchange: str, routing_key: str) -> None: ...

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> Consumer:
        """Call ``handler`` for each message, up to ``prefetch`` at a time concurrently.
        The handler must settle (ack/requeue/dead_letter) each delivery; an exception from
        the handler requeues it."""

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
        """Publish and wait for the confirm. ``mandatory`` raises BusError if no queue got it."""

    async def publish_delayed(
        self,
        queue: str,
        body: bytes,
        delay_ms: int,
        *,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> None:
        """Deliver to ``queue`` after ``delay_ms``. On AMQP the message waits in a durable
        TTL queue that dead-letters into ``queue``, so a restart loses nothing."""

    async def queue_depth(self, queue: str) -> int | None:
        """Messages ready in a queue, or None if it cannot be told."""

    @property
    def connected(self) -> bool:
        """Whether the connection is up now."""


@asynccontextmanager
async def open_bus(
    url: str, *, connection_name: str = "webhooksd", queue_type: QueueType = "classic"
) -> AsyncIterator[Bus]:
    """Connect to the bus named by ``url`` (``amqp://…`` or ``memory://``), declare Kazoo's
    exchanges and the dead-letter queue, and close on exit.

    ``queue_type`` is the kind of every durable queue declared through the bus (the memory
    bus has one kind only). A declaration that conflicts with an existing queue raises
    :class:`webhooksd.errors.QueueConflict`."""
    if url.startswith("memory://"):
        from webhooksd.bus.memory import MemoryBus

        async with MemoryBus.open() as memory_bus:
            yield memory_bus
    elif url.startswith(("amqp://", "amqps://")):
        from webhooksd.bus.amqp import AmqpBus

        async with AmqpBus.open(
            url, connection_name=connection_name, queue_type=queue_type
        ) as amqp_bus:
            yield amqp_bus
    else:
        raise ConfigError("amqp_url", f"unsupported scheme in {url!r} (amqp:// or memory://)")
