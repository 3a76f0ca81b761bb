"""What every listener shares: consume one queue, settle each message, drain on stop.

How a message is settled (Kazoo lets a crashing handler lose the message; we do not):

- handled → ack;
- cannot be understood (:class:`MalformedMessage`) → dead-lettered (its reason in the
  ``x-webhooksd-reason`` header) and counted;
- the store or the bus failed (:class:`StoreError`, :class:`BusError`) → requeued after a
  pause, so the event is retried when the dependency is back;
- any other exception (a bug for this message) → logged and dead-lettered, so one poison
  message cannot loop forever; the listener itself keeps running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from webhooksd.bus import Bus, Delivery, Message, QueueSpec
from webhooksd.errors import BusError, MalformedMessage, StoreError
from webhooksd.hooks.contract import Binding
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.tracing import NO_TRACER, Tracer

log = structlog.get_logger(__name__)

#: how long a message waits before it is requeued after a store or bus failure; the pause
#: grows with the outage (half its length so far, up to the maximum) so that a long outage
#: does not turn every in-flight event into a request per second to its receiver
REQUEUE_PAUSE_S = 1.0
REQUEUE_MAX_PAUSE_S = 15.0


def requeue_pause(outage_s: float) -> float:
    """The pause before a requeue, ``outage_s`` seconds into a dependency outage."""
    return min(REQUEUE_MAX_PAUSE_S, max(REQUEUE_PAUSE_S, outage_s / 2))


class QueueListener:
    """Base of the listeners; subclasses implement :meth:`process`."""

    name = "listener"

    def __init__(
        self,
        *,
        bus: Bus,
        metrics: Metrics,
        prefetch: int,
        drain_timeout_s: float,
        probe: Callable[[], Awaitable[None]] | None = None,
        tracer: Tracer = NO_TRACER,
    ):
        self._bus = bus
        #: checks the listener's dependencies (that the store can write) before a message is
        #: handled during an outage, so that nothing is sent to a receiver while its attempt
        #: cannot be recorded
        self._probe = probe
        self._metrics = metrics
        #: each message is the root span of a trace (webhooksd.tracing; a no-op when off)
        self._tracer = tracer
        self._prefetch = prefetch
        self._drain_timeout_s = drain_timeout_s
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        #: when the current store/bus outage began (monotonic), None while all is well
        self._outage_since: float | None = None
        #: a dependency failed since the probe last passed: probe before the next message
        self._unproven = False
        self.queue = ""

    def queue_spec(self) -> QueueSpec:
        raise NotImplementedError

    def bindings(self) -> Sequence[Binding]:
        raise NotImplementedError

    async def process(self, message: Message) -> None:
        raise NotImplementedError

    async def __call__(self, handle: ChildHandle) -> None:
        self.queue = await self._bus.declare_queue(self.queue_spec())
        for binding in self.bindings():
            await self._bus.bind(self.queue, binding.exchange, binding.routing_key)
        consumer = await self._bus.consume(self.queue, self._on_delivery, prefetch=self._prefetch)
        log.info("listening", listener=self.name, queue=self.queue, bindings=len(self.bindings()))
        handle.ready()
        try:
            await asyncio.Future()  # runs until cancelled
        finally:
            await consumer.cancel()
            await self._drain()

    async def _drain(self) -> None:
        """Let in-flight messages finish (bounded); unfinished ones are redelivered later."""
        if self._inflight:
            log.info("draining", listener=self.name, inflight=self._inflight)
            try:
                await asyncio.wait_for(self._idle.wait(), self._drain_timeout_s)
            except TimeoutError:
                log.warning("drain timed out", listener=self.name, inflight=self._inflight)

    async def _on_delivery(self, delivery: Delivery) -> None:
        self._inflight += 1
        self._idle.clear()
        try:
            with self._tracer.consume(self.queue, delivery.message):
                await self._settle(delivery)
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def _settle(self, delivery: Delivery) -> None:
        message = delivery.message
        try:
            if self._unproven and self._probe is not None:
                await self._probe()
                self._unproven = False
            await self.process(message)
        except MalformedMessage as exc:
            self._dead_letter_log("malformed", message, exc)
            with self._tracer.span("dead_letter"):
                await delivery.dead_letter(reason=f"malformed: {exc}")
        except (StoreError, BusError) as exc:
            now = time.monotonic()
            if self._outage_since is None:
                self._outage_since = now
            self._unproven = True
            pause = requeue_pause(now - self._outage_since)
            log.warning(
                "dependency failed; message requeued",
                listener=self.name,
                routing_key=message.routing_key,
                error=repr(exc),
                pause_s=round(pause, 1),
            )
            await asyncio.sleep(pause)
            with self._tracer.span("requeue"):
                await delivery.requeue()
        except Exception as exc:
            self._dead_letter_log("handler_error", message, exc)
            with self._tracer.span("dead_letter"):
                await delivery.dead_letter(reason=f"handler_error: {exc!r}")
        else:
            # With a probe, only the probe ends an outage: a message that succeeds before it
            # passed (one that needed no write, or got one in while the store still had some
            # room) proves nothing, and ending the outage on it would let the next messages be
            # sent, fail to be recorded and be sent again on every redelivery. A message that
            # succeeds after it passed ends the outage, and the pause starts short again.
            if self._probe is None or not self._unproven:
                self._outage_since = None
                self._unproven = False
            with self._tracer.span("ack"):
                await delivery.ack()

    def _dead_letter_log(self, reason: str, message: Message, exc: Exception) -> None:
        self._metrics.events_dead_lettered.labels(reason=reason).inc()
        log.error(
            "message dead-lettered",
            listener=self.name,
            reason=reason,
            exchange=message.exchange,
            routing_key=message.routing_key,
            error=repr(exc),
            exc_info=reason == "handler_error",
        )
