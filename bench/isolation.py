"""Issue 13 at full scale: a slow tenant beside others, their publish→delivery latency.

One account has ``--slow-hooks`` hooks (200) on one receiver that answers after 30 s (past the
daemon's 10 s request timeout, so none of them is ever delivered) and gets ``--slow-rate``
events a second (20: 4,000 attempts a second its endpoint cannot take); ``--others`` accounts
(5) with one hook each on a fast receiver get ``--other-rate`` events a second (2) meanwhile.
Printed: the others' p50/p99/max latency, the event loop's lag (a 10 ms ticker's overshoot),
where the others' time went (publish → the dispatcher has the event → the receiver has it),
what the slow tenant cost (retry messages and jobs queued), and ``uptime``'s load average.
``--baseline`` runs the same without the slow tenant (the same machine load, to compare).

The daemon runs in this process (``memory://`` can be published to only from inside it) on a
SQLite store in a temporary folder; ``--bus amqp`` uses the RabbitMQ at
``WEBHOOKSD_TEST_AMQP_URL`` with queues of its own, deleted afterwards.

    python -m bench.isolation --bus memory --runs 3
    python -m bench.isolation --bus amqp --runs 3 [--baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import secrets
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from webhooksd.accounts import bootstrap_master
from webhooksd.config import load
from webhooksd.delivery.retryjob import decode_jobs
from webhooksd.runtime import logs
from webhooksd.runtime.daemon import Daemon, build

AMQP_URL = os.environ.get("WEBHOOKSD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TICK_S = 0.01


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Receiver:
    """A loopback receiver noting when each call first arrived; ``sleep_s`` before answering."""

    sleep_s: float = 0.0
    url: str = ""
    arrived: dict[str, float] = field(default_factory=dict)
    requests: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        self.arrived.setdefault(str(orjson.loads(body).get("call_id", "")), time.monotonic())
        if self.sleep_s:
            await asyncio.sleep(self.sleep_s)
        return web.Response(text="ok")


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@dataclass
class LoopLag:
    """How late a 10 ms ticker wakes up: time the loop spent on other work."""

    lags_ms: list[float] = field(default_factory=list)
    #: when each tick woke (monotonic), beside its lag: the lag per window of the run
    at: list[float] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            due = time.monotonic() + TICK_S
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self.at.append(now)
            self.lags_ms.append(max(0.0, (now - due) * 1000))


def channel_create(account_id: str, call_id: str) -> tuple[str, bytes]:
    body = {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_CREATE",
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Msg-ID": call_id,
        "Node": "freeswitch@bench",
        "Timestamp": 63724349409,
        "Call-ID": call_id,
        "Call-Direction": "inbound",
        "Caller-ID-Name": "Bench",
        "Caller-ID-Number": "+15556783945",
        "Callee-ID-Number": "+15552345678",
        "From": "+15556783945@bench.example",
        "To": "+15552345678@bench.example",
        "Request": "+15552345678@bench.example",
        "Custom-Channel-Vars": {"Account-ID": account_id},
        "Custom-Application-Vars": {},
    }
    return f"call.CHANNEL_CREATE.{call_id}", orjson.dumps(body)


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.token, self.master = http, base, "", ""

    async def call(self, method: str, path: str, data: Any = None) -> Any:
        body = orjson.dumps({"data": data}) if data is not None else None
        headers = {"X-Auth-Token": self.token, "Content-Type": "application/json"}
        async with self.http.request(method, self.base + path, data=body, headers=headers) as r:
            reply = await r.json(content_type=None)
            assert r.status < 400, (r.status, reply)
            return reply


@asynccontextmanager
async def daemon(
    bus: str, workdir: Path, tag: str, consumed: dict[str, float]
) -> AsyncIterator[tuple[Daemon, Api]]:
    settings = load(environ={}).replace(
        store_url=f"sqlite:///{workdir}/bench.sqlite3",
        amqp_url="memory://" if bus == "memory" else AMQP_URL,
        api_listen=f"127.0.0.1:{_free_port()}",
        allow_private_targets=True,
        shared_queue=f"webhooks_shared_listener.bench.{tag}",
        retry_queue=f"webhooks_retry.bench.{tag}",
        node_name=f"bench-{tag}",
        # the slow tenant stays slow for the whole run (auto-disable would end the scenario)
        attempt_failure_count=1_000_000,
        log_level="warning",
    )
    key = secrets.token_hex(32)
    async with build(settings) as d:
        await bootstrap_master(d.store, api_key=key)
        _note_consumed(d, consumed)
        task = asyncio.create_task(d.supervisor.run())
        try:
            await asyncio.wait_for(d.supervisor.all_started.wait(), 30)
            async with aiohttp.ClientSession() as http:
                api = Api(http, f"http://127.0.0.1:{settings.api_port}")
                reply = await api.call("PUT", "/v2/api_auth", {"api_key": key})
                api.token = reply["auth_token"]
                api.master = str(reply["data"]["account_id"])
                yield d, api
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if bus == "amqp":
        await _delete_queues(tag)


Publish = Callable[[str, bytes], Awaitable[None]]


@asynccontextmanager
async def publisher(bus: str, d: Daemon) -> AsyncIterator[Publish]:
    """How Kazoo's events are published: on RabbitMQ from a connection of their own, as Kazoo
    does (not queued behind the daemon's own publishes); on memory:// into the daemon's bus."""
    if bus == "memory":

        async def into_bus(routing_key: str, body: bytes) -> None:
            await d.bus.publish("callevt", routing_key, body)

        yield into_bus
        return
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("callevt", ensure=False)

        async def to_broker(routing_key: str, body: bytes) -> None:
            message = aio_pika.Message(body, content_type="application/json")
            await exchange.publish(message, routing_key)

        yield to_broker


async def _delete_queues(tag: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in (f"webhooks_shared_listener.bench.{tag}", f"webhooks_retry.bench.{tag}"):
            await channel.queue_delete(name, if_unused=False, if_empty=False)


async def _hooks(d: Daemon, api: Api, account: str, uri: str, count: int) -> None:
    ids = []
    for n in range(count):
        doc = {"name": f"h{n}", "hook": "channel_create", "uri": f"{uri}/{n}", "format": "json"}
        reply = await api.call("PUT", f"/v2/accounts/{account}/webhooks", doc)
        ids.append(str(reply["data"]["id"]))
    while not all(d.table.get(i) for i in ids):  # noqa: ASYNC110 (the table has no event)
        await asyncio.sleep(0.05)


async def scenario(args: argparse.Namespace, *, with_slow: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="webhooksd-isolation-"))
    tag = uuid.uuid4().hex[:8]
    noted = Dispatches()
    consumed: dict[str, float] = {}
    try:
        async with (
            contextlib.AsyncExitStack() as stack,
            serving(Receiver(sleep_s=30.0)) as slow,
            serving(Receiver()) as fast,
            daemon(args.bus, workdir, tag, consumed) as (d, api),
        ):
            slow_account = (await api.call("PUT", f"/v2/accounts/{api.master}", {"name": "slow"}))[
                "data"
            ]["id"]
            others = [
                (await api.call("PUT", f"/v2/accounts/{api.master}", {"name": f"other-{n}"}))[
                    "data"
                ]["id"]
                for n in range(args.others)
            ]
            await _hooks(d, api, slow_account, slow.url + "/slow", args.slow_hooks)
            for account in others:
                await _hooks(d, api, account, fast.url + "/fast", 1)
            _note_dispatch(d, slow_account, noted)
            retries = _note_retries(d)
            gc.freeze()  # as the daemon does once started (webhooksd.runtime.daemon)

            sent: dict[str, float] = {}

            kazoo = await stack.enter_async_context(publisher(args.bus, d))

            async def stream(account: str, prefix: str, rate: float, timed: bool) -> None:
                started, n = time.monotonic(), 0
                while time.monotonic() - started < args.duration:
                    call = f"{prefix}-{n}"
                    routing_key, body = channel_create(account, call)
                    if timed:
                        sent[call] = time.monotonic()
                    await kazoo(routing_key, body)
                    n += 1
                    await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))

            lag = LoopLag()
            ticker = asyncio.create_task(lag.run())
            load_before = load_average()
            streams = [stream(a, f"o{i}", args.other_rate, True) for i, a in enumerate(others)]
            if with_slow:
                streams.append(stream(slow_account, "slow", args.slow_rate, False))
            await asyncio.gather(*streams)
            deadline = time.monotonic() + 30
            while not set(sent) <= set(fast.arrived) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            ticker.cancel()
            registry = d.metrics.registry
            queued = registry.get_sample_value("webhooksd_retries_queued_total") or 0.0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    start = min(sent.values(), default=0.0)
    latencies = [(fast.arrived[c] - t) * 1000 for c, t in sent.items() if c in fast.arrived]
    to_fire = [(noted.fired[c] - t) * 1000 for c, t in sent.items() if c in noted.fired]
    return {
        "bus": args.bus,
        "slow_tenant": with_slow,
        "load_before": load_before,
        "load_after": load_average(),
        "others_sent": len(sent),
        "others_lost": len(sent) - len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "publish_to_consumer_p99_ms": round(
            percentile([(consumed[c] - t) * 1000 for c, t in sent.items() if c in consumed], 0.99),
            1,
        ),
        "handlers_in_flight_peak": {k: v for k, v in consumed.items() if k.startswith("peak:")},
        "publish_to_dispatch_p99_ms": round(percentile(to_fire, 0.99), 1),
        "slow_event_dispatch_p99_ms": round(percentile(noted.slow_ms, 0.99), 1),
        "slow_events_in_dispatch_peak": noted.slow_peak,
        "loop_lag_p99_ms": round(percentile(lag.lags_ms, 0.99), 1),
        "loop_lag_max_ms": round(max(lag.lags_ms, default=0.0), 1),
        "retry_jobs_queued": int(queued),
        "others_worst_ms_per_5s": _worst_per_window(sent, fast.arrived, 5.0),
        "loop_lag_max_ms_per_5s": _per_window(start, lag.at, lag.lags_ms, max),
        "retry_jobs_due_per_5s": _per_window(start, retries.due_at, retries.due_jobs, sum),
        "retry_jobs_handled_per_5s": _per_window(
            start, retries.handled_at, retries.handled_jobs, sum
        ),
        "slow_requests": slow.requests,
    }


@dataclass
class Dispatches:
    """When the dispatcher got each other tenant's event, and how long the slow tenant's
    events (first attempts, not retries) kept it (and their prefetch slot) busy."""

    fired: dict[str, float] = field(default_factory=dict)
    slow_ms: list[float] = field(default_factory=list)
    slow_in_flight: int = 0
    slow_peak: int = 0


def _note_consumed(d: Daemon, consumed: dict[str, float]) -> None:
    """Note when each event reached a consumer's handler (wrapping the bus's ``consume``
    before the listeners start): the broker's and the connection's share of the time."""
    bus: Any = d.bus
    consume = bus.consume

    in_flight: dict[str, int] = {}

    async def noting(queue: str, handler: Any, **kw: Any) -> Any:
        async def noted(delivery: Any) -> None:
            consumed.setdefault(delivery.message.routing_key.rsplit(".", 1)[-1], time.monotonic())
            in_flight[queue] = in_flight.get(queue, 0) + 1
            peak = f"peak:{queue.split('.')[0]}"
            consumed[peak] = max(consumed.get(peak, 0), in_flight[queue])
            try:
                await handler(delivery)
            finally:
                in_flight[queue] -= 1

        return await consume(queue, noted, **kw)

    bus.consume = noting


def _note_dispatch(d: Daemon, slow_account: str, noted: Dispatches) -> None:
    """Wrap the instance's ``_deliver`` (the path of ``fire`` and ``retry``) to note them."""
    dispatcher: Any = d.dispatcher
    deliver = dispatcher._deliver

    async def noting(jobs: Any, **kw: Any) -> Any:
        first = jobs[0][1] if jobs else None
        if first is None or first.attempt > 1 or first.deferred:
            return await deliver(jobs, **kw)
        if first.account_id != slow_account:
            noted.fired.setdefault(str(first.payload.get("call_id", "")), time.monotonic())
            return await deliver(jobs, **kw)
        started = time.monotonic()
        noted.slow_in_flight += 1
        noted.slow_peak = max(noted.slow_peak, noted.slow_in_flight)
        try:
            return await deliver(jobs, **kw)
        finally:
            noted.slow_in_flight -= 1
            noted.slow_ms.append((time.monotonic() - started) * 1000)

    dispatcher._deliver = noting


@dataclass
class Retries:
    """When the retry jobs queued fall due (as scheduled) and when they were handled, with
    how many jobs each message held: whether a window's tail is retries coming back at once."""

    due_at: list[float] = field(default_factory=list)
    due_jobs: list[float] = field(default_factory=list)
    handled_at: list[float] = field(default_factory=list)
    handled_jobs: list[float] = field(default_factory=list)


def _note_retries(d: Daemon) -> Retries:
    """Wrap the instance's ``_schedule`` and ``retry`` to note the retry queue's traffic."""
    noted = Retries()
    dispatcher: Any = d.dispatcher
    schedule, retry = dispatcher._schedule, dispatcher.retry

    async def scheduling(jobs: Any, delay_ms: int) -> None:
        await schedule(jobs, delay_ms)
        noted.due_at.append(time.monotonic() + delay_ms / 1000)
        noted.due_jobs.append(len(jobs))

    async def retrying(message: bytes) -> None:
        noted.handled_at.append(time.monotonic())
        noted.handled_jobs.append(len(decode_jobs(message)))
        await retry(message)

    dispatcher._schedule, dispatcher.retry = scheduling, retrying
    return noted


def _per_window(
    start: float,
    at: Sequence[float],
    values: Sequence[float],
    combine: Callable[[list[float]], float],
    window: float = 5.0,
) -> list[int]:
    """``values`` (noted at the times ``at``) combined per window of the run from ``start``
    (windows before it left out, one past its end kept: retries due after the run)."""
    slots: dict[int, list[float]] = {}
    for when, value in zip(at, values, strict=True):
        if when >= start:
            slots.setdefault(int((when - start) // window), []).append(value)
    last = max(slots, default=-1)
    return [round(combine(slots.get(k, [0.0]))) for k in range(last + 1)]


def _worst_per_window(
    sent: dict[str, float], arrived: dict[str, float], window: float
) -> list[int]:
    """The others' worst latency (ms) per window of the run: when a tail happened tells
    what caused it (the breaker's cool-down, the retries coming back)."""
    start = min(sent.values(), default=0.0)
    worst: dict[int, float] = {}
    for call, at in sent.items():
        if call in arrived:
            slot = int((at - start) // window)
            worst[slot] = max(worst.get(slot, 0.0), (arrived[call] - at) * 1000)
    return [round(worst[k]) for k in sorted(worst)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bus", choices=("memory", "amqp"), default="memory")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="without the slow tenant")
    parser.add_argument("--slow-hooks", type=int, default=200)
    parser.add_argument("--slow-rate", type=float, default=20.0)
    parser.add_argument("--others", type=int, default=5)
    parser.add_argument("--other-rate", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--log-level", default="info", help="the daemon's (to stderr, JSON)")
    args = parser.parse_args()
    logs.configure(args.log_level, "json")
    results = []
    for _ in range(args.runs):
        result = asyncio.run(scenario(args, with_slow=not args.baseline))
        print(orjson.dumps(result).decode(), flush=True)
        results.append(result)
    p99s = [r["p99_ms"] for r in results]
    print(
        f"{args.bus}{' baseline' if args.baseline else ''}: other tenants' p99 median"
        f" {statistics.median(p99s):.1f} ms, range {min(p99s):.1f}-{max(p99s):.1f} ms"
        f" over {len(p99s)} runs"
    )


if __name__ == "__main__":
    main()
