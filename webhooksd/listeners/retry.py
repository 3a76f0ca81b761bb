"""The retry worker: retries come back here from the delay queues and are sent again.

Retries wait in RabbitMQ (durable delay queues that dead-letter into this queue), never in
sleeping tasks, so a restart loses none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from webhooksd.bus import Bus, Message, QueueSpec
from webhooksd.hooks.contract import Binding
from webhooksd.listeners.base import QueueListener
from webhooksd.runtime.metrics import Metrics
from webhooksd.tracing import NO_TRACER, Tracer


class Retrier(Protocol):
    async def retry(self, job: bytes) -> None:
        """Send a retry job (or a bundle of them) again (raises MalformedMessage for a message
        it cannot read)."""


class RetryListener(QueueListener):
    name = "retry_worker"

    def __init__(
        self,
        *,
        bus: Bus,
        metrics: Metrics,
        retrier: Retrier,
        queue_name: str,
        prefetch: int,
        drain_timeout_s: float,
        probe: Callable[[], Awaitable[None]] | None = None,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        super().__init__(
            bus=bus,
            metrics=metrics,
            prefetch=prefetch,
            drain_timeout_s=drain_timeout_s,
            probe=probe,
            tracer=tracer,
        )
        self._retrier = retrier
        self._queue_name = queue_name

    def queue_spec(self) -> QueueSpec:
        return QueueSpec(name=self._queue_name, durable=True, dead_letter=True)

    def bindings(self) -> Sequence[Binding]:
        return ()

    async def process(self, message: Message) -> None:
        await self._retrier.retry(message.body)
