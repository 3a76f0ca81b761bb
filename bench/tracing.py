"""What tracing costs per event (``python -m bench.tracing``): the spans of one event with two
hooks (consume, match, two attempts with their traceparent, record, ack), made through the
daemon's tracer, off and on.

"On" exports to a collector in another process (a bare OTLP/HTTP endpoint that answers 200),
and every batch is flushed inside the measurement, so the figure holds what the SDK's thread
spends encoding and sending as well as what the event loop spends making spans. CPU time of
the whole process (every thread) and of the event loop's thread alone, per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from aiohttp import web

from webhooksd.bus import Message
from webhooksd.config import load
from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.delivery.retryjob import RetryJob
from webhooksd.kazoo.events import Event
from webhooksd.records import Hook
from webhooksd.tracing import NO_TRACER, Tracer
from webhooksd.tracing.otlp import OtlpTracer

EVENTS = 20_000
#: events between flushes (3,000 spans: under the processor's queue, so none is dropped)
CHUNK = 500
RUNS = 3


def _serve(port: int) -> None:
    """The collector: accepts every export and answers an empty (valid) protobuf reply."""

    async def traces(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _event_loop(tracer: Tracer | None, n: int, flush: Callable[[], object]) -> None:
    account = "a" * 32
    hooks = [
        Hook(id=f"{i}" * 32, account_id=account, name="n", uri=f"http://r.example/{i}", hook="x")
        for i in (1, 2)
    ]
    event = Event.from_body("callevt", "call.CHANNEL_CREATE.c", {"Event-Name": "CHANNEL_CREATE"})
    message = Message(exchange="callevt", routing_key="call.CHANNEL_CREATE.c", body=b"{}" * 400)
    outcome = Outcome(kind="success", status=200, duration_ms=1.0)
    for done in range(n):
        if tracer is None:  # the baseline: what the loop costs without any tracer call
            for hook in hooks:
                RetryJob(
                    hook_id=hook.id,
                    account_id=account,
                    payload={},
                    event_id=event.event_id,
                    msg_id="m",
                    attempt=1,
                )
                OutboundRequest(method="POST", uri=hook.uri, url=hook.uri)
            continue
        with tracer.consume("webhooks_shared_listener", message):
            tracer.event(event)
            with tracer.match(event, hooks) as span:
                span.set("webhooksd.matched", 2)
            for hook in hooks:
                job = RetryJob(
                    hook_id=hook.id,
                    account_id=account,
                    payload={},
                    event_id=event.event_id,
                    msg_id="m",
                    attempt=1,
                )
                with tracer.attempt(hook, job) as span:
                    request = tracer.inject(
                        OutboundRequest(method="POST", uri=hook.uri, url=hook.uri)
                    )
                    span.outcome(request, outcome)
            with tracer.span("record"):
                pass
            with tracer.span("ack"):
                pass
        if done % CHUNK == CHUNK - 1:
            flush()


class _Flush:
    """Calls ``flush`` and keeps the calling thread's CPU time spent in it: exporting is the
    processor thread's work in the daemon, so it is taken out of the event loop's figure."""

    def __init__(self, flush: Callable[[], object]) -> None:
        self._flush = flush
        self.spent = 0.0

    def __call__(self) -> None:
        started = time.thread_time()
        self._flush()
        self.spent += time.thread_time() - started


def _measure(tracer: Tracer | None, flush: Callable[[], object]) -> tuple[float, float]:
    """Median µs per event: (every thread, the event loop's share)."""
    timed = _Flush(flush)
    _event_loop(tracer, CHUNK, timed)  # warm-up
    timed()
    total, own = [], []
    for _ in range(RUNS):
        timed.spent = 0.0
        process, thread = time.process_time(), time.thread_time()
        _event_loop(tracer, EVENTS, timed)
        timed()
        total.append((time.process_time() - process) / EVENTS * 1e6)
        own.append((time.thread_time() - thread - timed.spent) / EVENTS * 1e6)
    return statistics.median(total), statistics.median(own)


async def _on(endpoint: str, ratio: float) -> tuple[float, float]:
    settings = load(environ={}).replace(
        otlp_endpoint=endpoint, traceparent=True, trace_sample_ratio=ratio
    )
    tracer = OtlpTracer(settings)
    try:
        return _measure(tracer, tracer.flush)
    finally:
        await tracer.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=43180)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    collector = subprocess.Popen([sys.executable, "-m", "bench.tracing", "--serve", str(args.port)])
    try:
        time.sleep(1.5)  # the collector's start; a benchmark, not a test
        endpoint = f"http://127.0.0.1:{args.port}/v1/traces"
        results = {
            "baseline (no tracer calls)": _measure(None, lambda: None),
            "off": _measure(NO_TRACER, lambda: None),
            "on, every event sampled": asyncio.run(_on(endpoint, 1.0)),
            "on, none sampled (trace_sample_ratio 0)": asyncio.run(_on(endpoint, 0.0)),
        }
    finally:
        collector.terminate()
        collector.wait(10)
    for name, (total, own) in results.items():
        print(f"{name:42} {total:8.1f} µs/event (all threads)  {own:8.1f} µs (event loop)")
    print(
        json.dumps(
            {k: {"all_us": round(t, 1), "loop_us": round(o, 1)} for k, (t, o) in results.items()}
        )
    )


if __name__ == "__main__":
    main()
