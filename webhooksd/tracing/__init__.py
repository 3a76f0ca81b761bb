"""Traces of events (OpenTelemetry): the contract the listeners and the dispatcher call, and
the implementation that does nothing.

An event's trace is a root span ``consume`` (the listener's message, settled included) with
the children ``match`` (which hooks fire), one ``attempt`` per hook sent, ``record`` (the
attempt records written) and ``ack``. A retry from the retry queue is a trace of its own whose
attempt links to the attempt that queued it (the job carries its ``traceparent``).

With no ``otlp_endpoint`` the daemon gets :data:`NO_TRACER`: its methods return constants, no
OpenTelemetry module is imported and no global tracer provider is set, so tracing off costs a
few attribute lookups per event. With one, :func:`open_tracer` opens
:class:`webhooksd.tracing.otlp.OtlpTracer` (the SDK, exporting over OTLP/HTTP) once, for the
daemon's life, and flushes it within a bound when the daemon stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from webhooksd.bus import Message
    from webhooksd.config import Settings
    from webhooksd.delivery.outcome import Outcome
    from webhooksd.delivery.request import OutboundRequest
    from webhooksd.delivery.retryjob import RetryJob
    from webhooksd.kazoo.events import Event
    from webhooksd.records import Hook

#: the W3C Trace Context header sent to receivers when the ``traceparent`` setting is on
TRACEPARENT = "traceparent"

AttributeValue = str | int | bool


class Span(Protocol):
    """One span, as the code that opened it sees it."""

    def set(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""

    def outcome(self, request: OutboundRequest, outcome: Outcome | None) -> None:
        """An attempt span's result: the method, the URL's host and port (never the full
        URL: its path, query and user info may hold credentials), status, result, cause.
        ``outcome`` None: the attempt was deferred unsent."""


class Tracer(Protocol):
    """What the listeners and the dispatcher call; each opened span is a child of the
    current one (the context travels with the task, as structlog's bound ids do)."""

    def consume(self, queue: str, message: Message) -> AbstractContextManager[Span]:
        """The root span of one consumed message, a new trace."""

    def event(self, event: Event) -> None:
        """Name the current (root) span's event once the message is decoded."""

    def match(self, event: Event, hooks: Sequence[Hook]) -> AbstractContextManager[Span]:
        """The span choosing, among the event's hooks, those that fire."""

    def attempt(self, hook: Hook, job: RetryJob) -> AbstractContextManager[Span]:
        """The span of one attempt (linked to the attempt that queued it, for a retry)."""

    def span(self, name: str) -> AbstractContextManager[Span]:
        """Any other step (``record``, ``ack``)."""

    def inject(self, request: OutboundRequest) -> OutboundRequest:
        """The request with the current span's ``traceparent`` when the setting asks."""

    def carry(self, job: RetryJob) -> RetryJob:
        """The job with the current span's trace context, for its retry to link to."""


class _NoSpan:
    """The span of :class:`NoTracer`: one shared instance, its own context manager."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def set(self, key: str, value: AttributeValue) -> None:
        return None

    def outcome(self, request: OutboundRequest, outcome: Outcome | None) -> None:
        return None


_NO_SPAN = _NoSpan()


class NoTracer:
    """Tracing off: every call returns at once, with nothing allocated."""

    __slots__ = ()

    def consume(self, queue: str, message: Message) -> _NoSpan:
        return _NO_SPAN

    def event(self, event: Event) -> None:
        return None

    def match(self, event: Event, hooks: Sequence[Hook]) -> _NoSpan:
        return _NO_SPAN

    def attempt(self, hook: Hook, job: RetryJob) -> _NoSpan:
        return _NO_SPAN

    def span(self, name: str) -> _NoSpan:
        return _NO_SPAN

    def inject(self, request: OutboundRequest) -> OutboundRequest:
        return request

    def carry(self, job: RetryJob) -> RetryJob:
        return job


#: the tracer of a daemon without ``otlp_endpoint`` (stateless, so one instance serves all)
NO_TRACER: Tracer = NoTracer()


@asynccontextmanager
async def open_tracer(settings: Settings) -> AsyncIterator[Tracer]:
    """The daemon's tracer for its whole life: :data:`NO_TRACER` without ``otlp_endpoint``;
    else the OTLP exporter's, whose spans are flushed on exit within
    :data:`webhooksd.tracing.otlp.FLUSH_TIMEOUT_S`."""
    if not settings.otlp_endpoint:
        yield NO_TRACER
        return
    # imported only when on: the SDK, protobuf and requests stay out of a daemon without it
    from webhooksd.tracing.otlp import OtlpTracer

    tracer = OtlpTracer(settings)
    try:
        yield tracer
    finally:
        await tracer.aclose()
