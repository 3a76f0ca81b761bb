"""Fault 3: a receiver that is down for a while, and one that never answers."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import HANG, PROBE, Kazoo, StartReceiver, make_live, report, tally
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: the issue's minute
OUTAGE_S = 60.0
EVENTS = 200


async def test_receiver_down_for_a_while(rig: Rig, receivers: StartReceiver, kazoo: Kazoo) -> None:
    """The receiver's port is closed for a minute while events flow; retries=4 from a 10 s
    base span the gap (at least 75 s with jitter; the breaker cools down in 4 s, so it probes
    several times meanwhile, and an attempt it fails unsent waits for the next probe):
    once it is back every event arrives. Auto-disable is raised out of reach: at its default
    (6 failures a minute) it would rightly switch the hook off — that is fault 7."""
    receiver = await receivers()
    daemon = await rig.start(
        retry_base_delay_ms=10_000, breaker_cooldown_ms=4000, attempt_failure_count=100_000
    )
    api = await rig.api(daemon)
    await api.create_hook("down", receiver.url + "/down", retries=4)
    await make_live(kazoo, api.account, [receiver])
    calls = [f"down-{n}" for n in range(EVENTS)]
    publishing = asyncio.create_task(kazoo.stream(api.account, calls, rate=20))
    await eventually(
        lambda: len(receiver.accepted_calls() & set(calls)) >= EVENTS // 4,
        timeout=30,
        what="a quarter of the events accepted",
    )
    await receiver.stop()
    down_at = time.monotonic()
    await publishing
    # the outage is the scenario: the port stays closed for the whole minute
    await asyncio.sleep(OUTAGE_S - (time.monotonic() - down_at))
    accepted_before = len(receiver.accepted_calls() & set(calls))
    await receiver.start()
    await receiver.wait_accepted(calls, timeout=150)
    back_s = time.monotonic() - down_at - OUTAGE_S
    await asyncio.sleep(1.0)  # time for late duplicates to arrive and be counted, if any
    result = tally(receiver.hits, calls)
    print(f"{accepted_before} accepted before the outage; all back {back_s:.1f}s after it")
    report(result, "receiver_down_60s")


async def test_hung_receiver_blocks_nobody(
    rig: Rig, receivers: StartReceiver, kazoo: Kazoo
) -> None:
    """One hook's receiver accepts every request and never answers: its attempts end as
    client_error timeout, while another hook on the same events gets each of them at once."""
    hung = await receivers(lambda _path, call, _n: 200 if call.startswith(PROBE) else HANG)
    fine = await receivers()
    daemon = await rig.start(request_timeout_ms=1000, retry_base_delay_ms=1000)
    api = await rig.api(daemon)
    hung_id = await api.create_hook("hung", hung.url + "/hung", retries=4)
    await api.create_hook("fine", fine.url + "/fine", retries=4)
    await make_live(kazoo, api.account, [hung, fine])
    calls = [f"hung-{n}" for n in range(EVENTS)]
    started = time.monotonic()
    await kazoo.stream(api.account, calls)
    delivered = await fine.wait_accepted(calls, timeout=30)
    fine_s = time.monotonic() - started

    async def timed_out() -> list[dict[str, object]]:
        attempts = await api.attempts(hung_id)
        return [a for a in attempts if a.get("client_error") == "timeout"]

    timeouts = await eventually(timed_out, what="a timed-out attempt of the hung hook")
    await asyncio.sleep(0.5)  # time for late duplicates to arrive and be counted, if any
    result = tally(fine.hits, calls)
    print(
        f"fine hook: all {EVENTS} in {fine_s:.2f}s; hung hook: {len(hung.hits)} requests,"
        f" {len(timeouts)} timeouts recorded"
    )
    report(result, "hung_receiver_other_hook")
    assert delivered and fine_s < 5.0, f"the fine hook waited {fine_s:.1f}s for the hung one"
    assert any(h.call_id in calls for h in hung.hits)  # the hung hook was sent the events
    assert all(a["result"] == "failure" for a in timeouts)
