"""Fault 4: RabbitMQ is restarted while events flow; the daemon reconnects and loses nothing.

It stops the broker everyone on this machine uses, so it runs only when allowed: with
``WEBHOOKSD_FAULTS_DISRUPTIVE=1``, or under ``CI`` (where the suite runs alone).
"""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import Kazoo, StartReceiver, make_live, report, run_command, tally
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 300
#: how long the broker stays down (kept short: others may be using it)
OUTAGE_S = 3.0


async def _restart_broker() -> float:
    """``rabbitmqctl stop_app``, a short pause, ``start_app``; returns the seconds it was down."""
    ctl = shutil.which("rabbitmqctl")
    assert ctl is not None
    stopped = time.monotonic()
    try:
        code, out = await run_command(ctl, "stop_app")
        assert code == 0, out
        await asyncio.sleep(OUTAGE_S)  # the outage is the scenario: it lasts this long
    finally:
        code, out = await run_command(ctl, "start_app")
        assert code == 0, out
        await run_command(ctl, "await_startup")
    return time.monotonic() - stopped


async def test_broker_restart_mid_stream(
    disruptive: None, rig: Rig, receivers: StartReceiver, kazoo: Kazoo
) -> None:
    """Disruptive (runs with WEBHOOKSD_FAULTS_DISRUPTIVE=1 or CI): rabbitmqctl stop_app then
    start_app while events flow; the daemon's robust connection comes back and every event
    is delivered. Events are published persistent, as a message in a queue must be to outlive
    a broker stop whoever consumes it; a publish refused during the outage is repeated."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed here")
    receiver = await receivers()
    daemon = await rig.start(retry_base_delay_ms=500)
    api = await rig.api(daemon)
    await api.create_hook("broker", receiver.url + "/broker", retries=4)
    await make_live(kazoo, api.account, [receiver])
    calls = [f"broker-{n}" for n in range(EVENTS)]
    publishing = asyncio.create_task(kazoo.stream(api.account, calls, rate=50, persistent=True))
    await eventually(
        lambda: len(receiver.accepted_calls() & set(calls)) >= EVENTS // 3,
        timeout=30,
        what="a third of the events accepted",
    )
    down_s = await _restart_broker()
    await publishing
    delivered = await receiver.wait_accepted(calls, timeout=90)
    await asyncio.sleep(1.0)  # time for late duplicates to arrive and be counted, if any
    await daemon.wait_ready(timeout=30)
    result = tally(receiver.hits, calls)
    print(f"broker down {down_s:.1f}s; publishes repeated: {kazoo.republished}; all: {delivered}")
    report(result, "rabbitmq_restart")
