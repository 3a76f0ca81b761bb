"""Tracing on: the OpenTelemetry SDK, spans exported over OTLP/HTTP (protobuf).

The SDK rather than an exporter of our own: its batch processor keeps span encoding and the
collector's HTTP round trips off the event loop (one worker thread, a bounded queue that drops
spans rather than grow when the collector is slow), and its sampler and W3C ids are the ones
collectors expect. What it would otherwise cost is kept off the daemon: its provider is this
object's, never the global one (nothing else in the process is traced through it); it is built
only when ``otlp_endpoint`` is set; its atexit hook is off (a collector that does not answer
must not hold up the exit) and :meth:`OtlpTracer.aclose` flushes within
:data:`FLUSH_TIMEOUT_S`; an export failure is logged once per interval, and never reaches a
delivery (the exporter runs in its own thread, on spans already ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from webhooksd import __version__
from webhooksd.delivery.cause import cause
from webhooksd.logonce import LogOnce
from webhooksd.tracing import TRACEPARENT, AttributeValue

if TYPE_CHECKING:
    from webhooksd.bus import Message
    from webhooksd.config import Settings
    from webhooksd.delivery.outcome import Outcome
    from webhooksd.delivery.request import OutboundRequest
    from webhooksd.delivery.retryjob import RetryJob
    from webhooksd.kazoo.events import Event
    from webhooksd.records import Hook

log = structlog.get_logger(__name__)

#: one export request to the collector at most (the SDK retries within it)
EXPORT_TIMEOUT_S = 5.0
#: on stop, the spans still queued get this long to reach the collector; then they are dropped
FLUSH_TIMEOUT_S = 5.0
#: how often the batch processor sends what ended (spans wait at most this long)
SCHEDULE_DELAY_MS = 1000
#: spans queued for export at most; beyond, the newest are dropped (a slow collector must not
#: grow the process)
MAX_QUEUE = 8192
#: an attribute value longer than this is cut (a cause, a host: tenant-fed)
MAX_ATTRIBUTE_LENGTH = 512
#: a failed export is logged at most once per this many seconds
EXPORT_LOG_INTERVAL_S = 60.0
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


class _Scope:
    """One started span made current for the ``with`` block, and ended after it."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._token: object = None

    def __enter__(self) -> _Scope:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._span.set_status(Status(StatusCode.ERROR, repr(exc)))
        self._span.end()
        otel_context.detach(self._token)  # type: ignore[arg-type]

    def set(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def outcome(self, request: OutboundRequest, outcome: Outcome | None) -> None:
        span = self._span
        if not span.is_recording():
            return
        parts = urlsplit(request.url)
        # gathered, then set at once: each set_attribute takes the span's lock
        attributes: dict[str, AttributeValue] = {
            "http.request.method": request.method,
            "url.scheme": parts.scheme,
        }
        if parts.hostname:
            attributes["server.address"] = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:  # the sender refused such a URL; the attempt says why
            port = 0
        if port:
            attributes["server.port"] = port
        if outcome is None:
            attributes["webhooksd.result"] = "deferred"
        else:
            if outcome.status is not None:
                attributes["http.response.status_code"] = outcome.status
            attributes["webhooksd.result"] = "success" if outcome.ok else "failure"
        if outcome is not None and not outcome.ok:
            said = cause(
                {
                    "result": "failure",
                    "client_error": outcome.client_error,
                    "resp_status_code": outcome.status,
                    "reason": outcome.reason,
                    "uri": request.uri,
                    "duration_ms": outcome.duration_ms,
                }
            )
            attributes["webhooksd.cause"] = said or "failed"
            span.set_status(Status(StatusCode.ERROR, said))
        span.set_attributes(attributes)


class _Reported(SpanExporter):
    """The OTLP exporter, its failures logged once per interval (the SDK's own lines are
    limited the same way by the log handler, :mod:`webhooksd.runtime.logs`)."""

    def __init__(self, inner: SpanExporter, collector: str) -> None:
        self._inner = inner
        self._collector = collector
        # only the processor's worker thread calls export
        self._failures = LogOnce(EXPORT_LOG_INTERVAL_S)
        self._shut = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut.is_set():  # the flush ran out of time: the rest is dropped at once
            return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception as exc:  # the delivery side never sees it: the spans are lost
            log.debug("trace export raised", error=repr(exc))
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            repeats = self._failures.due("export")
            if repeats is not None:
                log.warning(
                    "trace export failed; spans dropped",
                    collector=self._collector,
                    spans=len(spans),
                    repeats=repeats,
                )
        return result

    def shutdown(self) -> None:
        """Stop exporting: interrupts the exporter's retries and fails later batches at once
        (called by the processor, and by :meth:`OtlpTracer.aclose` when the flush is late)."""
        if not self._shut.is_set():
            self._shut.set()
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _headers(pairs: Sequence[str]) -> dict[str, str]:
    """``otlp_headers`` (``name=value`` items, checked by the settings) as a mapping."""
    return {name.strip(): value.strip() for name, _, value in (p.partition("=") for p in pairs)}


def collector_name(url: str) -> str:
    """The collector as logs name it: no user info, no query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


def traceparent(ctx: SpanContext) -> str:
    """A span context as a W3C ``traceparent`` value, with Trace Context level 1's one flag
    (sampled): the SDK also sets level 2's "random" bit, which a receiver that compares the
    flags with "01" would take for an unknown trace."""
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags) & 0x01:02x}"


def parse_traceparent(value: str) -> SpanContext | None:
    """A ``traceparent`` carried by a retry job, None if it is not one (the link is dropped)."""
    found = _TRACEPARENT.fullmatch(value)
    if found is None:
        return None
    ctx = SpanContext(
        trace_id=int(found[1], 16),
        span_id=int(found[2], 16),
        is_remote=True,
        trace_flags=TraceFlags(int(found[3], 16)),
    )
    return ctx if ctx.is_valid else None


class OtlpTracer:
    """Spans through the SDK's own provider and batch processor to ``otlp_endpoint``."""

    def __init__(self, settings: Settings) -> None:
        self._traceparent = settings.traceparent
        self._exporter = _Reported(
            OTLPSpanExporter(
                endpoint=settings.otlp_endpoint,
                headers=_headers(settings.otlp_headers),
                timeout=EXPORT_TIMEOUT_S,
            ),
            collector_name(settings.otlp_endpoint),
        )
        self._processor = BatchSpanProcessor(
            self._exporter, max_queue_size=MAX_QUEUE, schedule_delay_millis=SCHEDULE_DELAY_MS
        )
        self._provider = TracerProvider(
            sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
            resource=Resource.create(
                {
                    "service.name": "webhooksd",
                    "service.version": __version__,
                    "service.instance.id": settings.node,
                }
            ),
            shutdown_on_exit=False,
            span_limits=SpanLimits(max_span_attribute_length=MAX_ATTRIBUTE_LENGTH),
        )
        self._provider.add_span_processor(self._processor)
        self._tracer = self._provider.get_tracer("webhooksd", __version__)

    # -- the Tracer protocol ---------------------------------------------------------------
    def consume(self, queue: str, message: Message) -> _Scope:
        # an empty context: a new trace whatever the task that called us had current
        return _Scope(
            self._tracer.start_span(
                "consume",
                context=otel_context.Context(),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": queue,
                    "messaging.rabbitmq.destination.routing_key": message.routing_key,
                    "messaging.message.body.size": len(message.body),
                },
            )
        )

    def event(self, event: Event) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(
                {
                    "webhooksd.event_id": event.event_id,
                    "webhooksd.event_category": event.category,
                    "webhooksd.event_name": event.name,
                }
            )

    def match(self, event: Event, hooks: Sequence[Hook]) -> _Scope:
        attributes: dict[str, AttributeValue | list[str]] = {
            "webhooksd.event_id": event.event_id,
            "webhooksd.event_name": event.name,
            "webhooksd.hooks": len(hooks),
        }
        accounts = sorted({hook.account_id for hook in hooks})
        if len(accounts) == 1:
            attributes["webhooksd.account_id"] = accounts[0]
        elif accounts:  # an account's event fires its parents' descendant hooks too
            attributes["webhooksd.account_ids"] = accounts
        return _Scope(self._tracer.start_span("match", attributes=attributes))

    def attempt(self, hook: Hook, job: RetryJob) -> _Scope:
        origin = parse_traceparent(job.trace) if job.trace else None
        return _Scope(
            self._tracer.start_span(
                "attempt",
                kind=SpanKind.CLIENT,
                links=[Link(origin, {"webhooksd.link": "previous attempt"})] if origin else (),
                attributes={
                    "webhooksd.account_id": hook.account_id,
                    "webhooksd.hook_id": hook.id,
                    "webhooksd.event_id": job.event_id,
                    "webhooksd.hook_event": job.hook_event or hook.hook,
                    "webhooksd.attempt": job.attempt,
                },
            )
        )

    def span(self, name: str) -> _Scope:
        return _Scope(self._tracer.start_span(name))

    def inject(self, request: OutboundRequest) -> OutboundRequest:
        if not self._traceparent:
            return request
        ctx = trace.get_current_span().get_span_context()
        if not ctx.is_valid:
            return request
        # the daemon's header replaces one a hook's custom headers set
        headers = {k: v for k, v in request.headers.items() if k.lower() != TRACEPARENT}
        headers[TRACEPARENT] = traceparent(ctx)
        return dataclasses.replace(request, headers=headers)

    def carry(self, job: RetryJob) -> RetryJob:
        ctx = trace.get_current_span().get_span_context()
        if not ctx.is_valid:
            return job
        return dataclasses.replace(job, trace=traceparent(ctx))

    # -- the daemon's side -----------------------------------------------------------------
    def flush(self) -> bool:
        """Export every span ended so far, in the calling thread (benchmarks and tests; the
        daemon leaves it to the processor's thread)."""
        return self._provider.force_flush()

    async def aclose(self) -> None:
        """Export what is queued, for at most :data:`FLUSH_TIMEOUT_S`, then stop.

        The SDK's shutdown blocks (a thread join, an HTTP request), so it runs in a daemon
        thread of its own: not the loop's executor, whose threads the interpreter waits for
        at exit, so a collector that never answers cannot hold up the process's end."""
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not finished.done():
                finished.set_result(None)

        def shut_down() -> None:
            try:
                # exports what is queued, then stops the worker thread and the exporter
                self._provider.shutdown()
            except Exception as exc:
                log.warning("trace shutdown failed", error=repr(exc))
            finally:
                # the loop may be gone (it gave up waiting and closed): nobody waits any more
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(settle)

        threading.Thread(target=shut_down, name="webhooksd-trace-flush", daemon=True).start()
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await asyncio.shield(finished)
        except TimeoutError:
            # the collector is slow or unreachable: what it has not got is dropped, and the
            # worker thread (a daemon thread) ends as soon as its request gives up
            self._exporter.shutdown()
            log.warning("trace flush timed out; queued spans dropped", seconds=FLUSH_TIMEOUT_S)
