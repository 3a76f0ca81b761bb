"""Isolation under load (issue 13), in one process on memory:// and SQLite: one tenant's slow
endpoint delays only its own deliveries, and a dead endpoint's many hooks are disabled with
their deferred work and log lines bounded."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import structlog
from aiohttp import web

from tests.integration.conftest import DaemonFactory, RunningDaemon, free_port
from tests.integration.kazoo_events import channel_create
from tests.loopback import serving
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class TimedReceiver:
    """A loopback aiohttp receiver noting when each call arrived; with ``hold`` it keeps every
    request open (as a receiver sleeping 30 s does) until the test ends."""

    hold: bool = False
    url: str = ""
    arrived: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        call = str(json.loads(body).get("call_id", ""))
        self.arrived.setdefault(call, time.monotonic())
        if self.hold:
            await self.release.wait()
        return web.Response(text="ok")


async def _serve(receiver: TimedReceiver) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    return runner


@pytest.fixture(name="timed")
async def _timed() -> AsyncIterator[tuple[TimedReceiver, TimedReceiver]]:
    """A fast receiver and a slow one (holds every request)."""
    fast, slow = TimedReceiver(), TimedReceiver(hold=True)
    runners = [await _serve(fast), await _serve(slow)]
    try:
        yield fast, slow
    finally:
        slow.release.set()
        for runner in runners:
            await runner.cleanup()


async def _account(d: RunningDaemon, name: str) -> str:
    reply = await d.api("PUT", f"/v2/accounts/{d.master_id}", {"name": name})
    return str(reply["data"]["id"])


async def _hooks(d: RunningDaemon, account: str, uri: str, count: int, **extra: Any) -> list[str]:
    ids: list[str] = []
    for n in range(count):
        doc = {"name": f"h{n}", "hook": "channel_create", "uri": uri, "format": "json", **extra}
        reply = await d.api("PUT", f"/v2/accounts/{account}/webhooks", doc)
        ids.append(str(reply["data"]["id"]))
    await eventually(lambda: all(d.daemon.table.get(i) for i in ids), what="hooks loaded")
    return ids


async def _publish(d: RunningDaemon, account: str, call: str) -> None:
    routing_key, body = channel_create(account, call)
    await d.daemon.bus.publish("callevt", routing_key, orjson.dumps(body))


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


async def test_a_slow_tenant_delays_only_its_own_deliveries(
    daemons: DaemonFactory, sqlite_store_url: str, timed: tuple[TimedReceiver, TimedReceiver]
) -> None:
    """One account's 50 hooks on a receiver that never answers, 10 events/s for it; three
    other accounts' events meanwhile arrive at once, none lost. Before the fix an event was
    acked only when all its hooks' first attempts ended (10 at a time, 10 s each), so the
    slow account's events filled the prefetch and the others waited behind them."""
    fast, slow = timed
    d = await daemons(sqlite_store_url, amqp_url="memory://", prefetch=20)
    slow_account = await _account(d, "slow")
    await _hooks(d, slow_account, slow.url + "/slow", 50)
    others = [await _account(d, f"other-{n}") for n in range(3)]
    for account in others:
        await _hooks(d, account, fast.url + "/fast", 1)

    sent: dict[str, float] = {}

    async def stream(account: str, prefix: str, count: int, rate: float) -> None:
        for n in range(count):
            call = f"{prefix}-{n}"
            if account != slow_account:
                sent[call] = time.monotonic()
            await _publish(d, account, call)
            await asyncio.sleep(1 / rate)

    await asyncio.gather(
        stream(slow_account, "slow", 80, 10),
        *(stream(a, f"o{i}", 16, 2) for i, a in enumerate(others)),
    )
    # the scenario's bound with a wide margin for a loaded machine (the goal is p99 < 100 ms;
    # before the fix the others waited for seconds, then for good)
    await eventually(lambda: set(sent) <= set(fast.arrived), timeout=10, what="all others")
    latencies = [(fast.arrived[c] - t) * 1000 for c, t in sent.items()]
    print(
        f"other tenants: {len(latencies)} events, p50 {statistics.median(latencies):.1f} ms,"
        f" p99 {_p99(latencies):.1f} ms, max {max(latencies):.1f} ms;"
        f" slow tenant: {slow.requests} requests held"
    )
    assert max(latencies) < 2000, f"another tenant waited {max(latencies):.0f} ms"
    # the slow endpoint got no more than its slots at once (and a probe per cool-down)
    assert slow.requests <= 2 * d.daemon.settings.endpoint_concurrency


async def test_a_dead_endpoint_with_many_hooks_is_disabled(
    daemons: DaemonFactory, sqlite_store_url: str
) -> None:
    """50 hooks on a closed port, 20 events/s: every hook is disabled within a few disabler
    passes (a failure the open breaker saves us from still counts, as Kazoo would count it),
    the retries queued stay bounded by the hooks' backlog, and the breaker's line is logged
    once per interval, not per attempt. Before: the breaker deferred attempts without
    recording them, so no hook reached the threshold and deferrals were queued forever."""
    dead = f"http://127.0.0.1:{free_port()}"
    d = await daemons(
        sqlite_store_url,
        amqp_url="memory://",
        attempt_failure_expiry_ms=4000,  # a disabler pass every second
        breaker_cooldown_ms=500,
        max_pending_retries=5,
    )
    account = await _account(d, "dead")
    hooks = await _hooks(d, account, dead + "/dead", 50, retries=4)
    with structlog.testing.capture_logs() as logs:
        started = time.monotonic()
        for n in range(60):
            await _publish(d, account, f"dead-{n}")
            await asyncio.sleep(0.05)

        async def all_disabled() -> bool:
            return all(d.daemon.table.get(h) is None for h in hooks)

        await eventually(all_disabled, timeout=20, what="every hook disabled")
        disabled_s = time.monotonic() - started
        queued = d.daemon.metrics.registry.get_sample_value("webhooksd_retries_queued_total")
        assert queued is not None
        # what was queued comes back and is dropped (the hooks are off): nothing is left
        await asyncio.sleep(1.0)
    stored = [await d.daemon.store.get_hook(h) for h in hooks]
    assert all(s is not None and not s.enabled for s in stored)
    open_lines = [e for e in logs if e["event"] == "endpoint failing; attempts fail unsent"]
    dropped = [e for e in logs if e["event"] == "retry dropped: hook deleted or disabled"]
    print(
        f"{len(hooks)} hooks disabled in {disabled_s:.1f}s; {queued:.0f} retries queued;"
        f" {len(logs)} log lines ({len(open_lines)} circuit-open, {len(dropped)} dropped)"
    )
    # 3,000 first attempts; each hook holds at most 5 retries at once, and every hook is off
    # within seconds, so far fewer than one retry per attempt was queued
    assert queued < 50 * 5 * 4
    # one line per endpoint per interval, one per hook for the dropped backlog; all told far
    # fewer lines than attempts (before: a line per deferral, several per attempt)
    assert len(open_lines) <= 2 and len(dropped) <= len(hooks)
    assert len(logs) < 1000


async def test_a_burst_to_a_fast_endpoint_keeps_its_hook(
    daemons: DaemonFactory, sqlite_store_url: str
) -> None:
    """On RabbitMQ, one account's 30 events at once (account_inflight 2, a backlog of 3,
    disabled after 2 failures) to a receiver that answers as soon as three requests are in
    at once, and at once from then on: a healthy endpoint that needs a third event in flight
    to get going, as a daemon saturated by its own work has many of one account's events in
    flight. All 30 are delivered, nothing is deferred or failed, the hook stays enabled.
    Before: the third and later events were deferred (two in flight), the backlog's three
    came back later, the rest were "retry backlog full: endpoint busy" failures and the hook
    was auto-disabled, its events lost, the receiver never at fault."""
    three_in = asyncio.Event()
    waiting = 0
    calls: set[str] = set()

    async def handle(request: web.Request) -> web.Response:
        nonlocal waiting
        calls.add(str(json.loads(await request.read()).get("call_id", "")))
        waiting += 1
        if waiting >= 3:
            three_in.set()
        await three_in.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        d = await daemons(
            sqlite_store_url,
            account_inflight=2,
            max_pending_retries=3,
            attempt_failure_count=2,
            attempt_failure_expiry_ms=4000,  # a disabler pass every second
            breaker_cooldown_ms=500,
            # a stall bound (half of it) no loaded machine reaches before the third event is in
            request_timeout_ms=60_000,
        )
        account = await _account(d, "burst")
        (hook,) = await _hooks(d, account, url + "/burst", 1)
        sent = [f"burst-{n}" for n in range(30)]
        await asyncio.gather(*(_publish(d, account, call) for call in sent))
        await eventually(lambda: set(sent) <= calls, timeout=30, what="all 30 delivered")
        registry = d.daemon.metrics.registry
        await eventually(
            lambda: registry.get_sample_value("webhooksd_deliveries_total", _SUCCESS) == 30,
            what="all 30 settled",
        )
    assert d.daemon.table.get(hook) is not None
    for reason in ("account", "endpoint"):
        deferred = registry.get_sample_value(
            "webhooksd_attempts_deferred_total", {"reason": reason}
        )
        assert deferred == 0, (reason, deferred)
    assert registry.get_sample_value("webhooksd_hooks_auto_disabled_total") == 0
    assert not await d.daemon.store.count_failures(0)


_SUCCESS = {"result": "success", "status_class": "2xx"}
