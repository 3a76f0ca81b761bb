"""Fault: the trace collector is down. Deliveries go on exactly as without tracing, the
failure is logged once (not per batch or per retry), and SIGTERM ends the daemon within the
drain and the flush bounds even when the collector accepts connections and never answers."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import Kazoo, StartReceiver, free_port, make_live, report, tally
from tests.otlp import blackhole
from tests.waiting import eventually
from webhooksd.tracing.otlp import FLUSH_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 200
#: the rig's drain_timeout_s
DRAIN_S = 5


async def _deliveries_unaffected(
    rig: Rig, receivers: StartReceiver, kazoo: Kazoo, endpoint: str, scenario: str
) -> float:
    """Stream events through a daemon exporting to ``endpoint``; every one arrives once.
    Returns how long SIGTERM took."""
    receiver = await receivers()
    daemon = await rig.start(otlp_endpoint=endpoint, traceparent="true")
    api = await rig.api(daemon)
    await api.create_hook("traced", receiver.url + "/traced")
    await make_live(kazoo, api.account, [receiver])
    calls = [f"{scenario}-{n}" for n in range(EVENTS)]
    await kazoo.stream(api.account, calls, rate=50)
    assert await receiver.wait_accepted(calls, timeout=60), tally(receiver.hits, calls).missing
    result = tally(receiver.hits, calls)
    report(result, scenario)
    assert result.duplicated == 0
    await eventually(
        lambda: "trace export failed" in daemon.log_path.read_text(errors="replace"),
        timeout=30,
        what="the export failure logged",
    )
    # more spans are queued for a collector that cannot take them: flushing them must not hang
    late = [f"{scenario}-late-{n}" for n in range(20)]
    await kazoo.stream(api.account, late)
    # delivered before the signal: this test's receiver shares the loop that waits for the
    # exit, so a delivery still in flight would wait out the drain
    assert await receiver.wait_accepted(late, timeout=30)
    started = time.monotonic()
    code = daemon.terminate()
    took = time.monotonic() - started
    log = daemon.log_path.read_text(errors="replace")
    assert code == 0, daemon.tail()
    print(f"{scenario}: SIGTERM to exit {took:.1f}s")
    # one line for the whole outage (and none of the SDK's per-batch lines beyond one each)
    assert log.count("trace export failed") == 1, log[-4000:]
    return took


async def test_collector_refusing_connections(
    rig: Rig, receivers: StartReceiver, kazoo: Kazoo
) -> None:
    took = await _deliveries_unaffected(
        rig, receivers, kazoo, f"http://127.0.0.1:{free_port()}/v1/traces", "collector_down"
    )
    # a hang check, not a speed goal: the drain and the flush are both bounded
    assert took < DRAIN_S + FLUSH_TIMEOUT_S + 10


async def test_collector_that_never_answers(
    rig: Rig, receivers: StartReceiver, kazoo: Kazoo
) -> None:
    async with blackhole() as endpoint:
        took = await _deliveries_unaffected(rig, receivers, kazoo, endpoint, "collector_hangs")
    assert took < DRAIN_S + FLUSH_TIMEOUT_S + 10
