"""Fault 2: a daemon SIGKILLed mid-stream — restarted, or with a second instance left — loses
no event: unacked events go back to the shared queue and retries wait in RabbitMQ."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import (
    PROBE,
    Kazoo,
    Receiver,
    StartReceiver,
    make_live,
    report,
    tally,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 400
#: every fifth event's first attempt is answered 503, so retries are waiting when it dies
FAIL_EVERY = 5
#: retries wait in the delay queue this long (at least half of it): long enough to be
#: waiting in RabbitMQ at the moment of the kill, short enough to finish soon
BASE_DELAY_MS = 1500
SETTINGS = {
    "retry_base_delay_ms": BASE_DELAY_MS,
    # 80 failed first attempts would rightly disable the hook; that is fault 7, not this one
    "attempt_failure_count": 100_000,
    # neither is the breaker under test (a run of five 503s would defer attempts for 30 s)
    "breaker_failures": 1000,
}


def _fail_a_fifth(_path: str, call: str, before: int) -> int:
    if call.startswith(PROBE) or before or int(call.rsplit("-", 1)[1]) % FAIL_EVERY:
        return 200
    return 503


def _retries_waiting(receiver: Receiver) -> int:
    """Events whose first attempt failed and that were not yet accepted."""
    failed = {h.call_id for h in receiver.hits if h.status == 503}
    return len(failed - receiver.accepted_calls())


async def _kill_mid_stream(receiver: Receiver, calls: list[str]) -> int:
    """Wait until a third of the events were accepted; return how many retries wait."""
    third = len(calls) // 3
    await eventually(
        lambda: len(receiver.accepted_calls() & set(calls)) >= third,
        timeout=60,
        what="a third of the events accepted",
    )
    return _retries_waiting(receiver)


async def test_sigkill_and_restart(rig: Rig, receivers: StartReceiver, kazoo: Kazoo) -> None:
    """N events, a fifth of first attempts answered 503; the daemon is SIGKILLed when a third
    arrived and started again: every event is delivered, duplicates under the same webhook-id."""
    receiver = await receivers(_fail_a_fifth)
    daemon = await rig.start(**SETTINGS)
    api = await rig.api(daemon)
    await api.create_hook("kill", receiver.url + "/kill", retries=4)
    await make_live(kazoo, api.account, [receiver])
    calls = [f"kill-{n}" for n in range(EVENTS)]
    publishing = asyncio.create_task(kazoo.stream(api.account, calls))
    waiting = await _kill_mid_stream(receiver, calls)
    daemon.kill()
    accepted_at_kill = len(receiver.accepted_calls() & set(calls))
    restarted = await rig.start(**SETTINGS)
    await publishing
    await receiver.wait_accepted(calls, timeout=60)
    await asyncio.sleep(1.0)  # time for late duplicates to arrive and be counted, if any
    assert restarted.running
    result = tally(receiver.hits, calls)
    print(f"killed after {accepted_at_kill} accepted, {waiting} retries waiting")
    report(result, "sigkill_restart")
    assert waiting > 0, "no retry was waiting at the kill: the scenario did not happen"


async def test_two_instances_one_killed(rig: Rig, receivers: StartReceiver, kazoo: Kazoo) -> None:
    """Two instances share the queue; one is SIGKILLed mid-stream and stays dead: the other
    delivers every event, the dead one's retries and unacked events included."""
    receiver = await receivers(_fail_a_fifth)
    victim = await rig.start(**SETTINGS)
    api = await rig.api(victim)
    await api.create_hook("pair", receiver.url + "/pair", retries=4)
    await make_live(kazoo, api.account, [receiver])
    # started after the hook exists, the survivor loads it at start
    survivor = await rig.start(**SETTINGS)
    calls = [f"pair-{n}" for n in range(EVENTS)]
    publishing = asyncio.create_task(kazoo.stream(api.account, calls))
    waiting = await _kill_mid_stream(receiver, calls)
    victim.kill()
    await publishing
    await receiver.wait_accepted(calls, timeout=60)
    await asyncio.sleep(1.0)  # time for late duplicates to arrive and be counted, if any
    assert survivor.running
    result = tally(receiver.hits, calls)
    print(f"one of two killed with {waiting} retries waiting")
    report(result, "two_instances_one_killed")
