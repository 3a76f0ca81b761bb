"""Fault 1: a receiver that fails twice and then accepts gets every event on the third try."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import PROBE, Kazoo, StartReceiver, make_live, report, tally
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 10
#: the answers to each event's first two attempts (two kinds of 5xx, both retried)
FAILURES = (500, 503)


def _fail_twice(_path: str, call: str, before: int) -> int:
    return 200 if call.startswith(PROBE) or before >= len(FAILURES) else FAILURES[before]


async def test_retry_to_success(rig: Rig, receivers: StartReceiver, kazoo: Kazoo) -> None:
    """Each event is answered 500, 503, then 200: it arrives on the third attempt under one
    webhook-id, and the hook's attempts read retries_left 2, 1, 0, failure, failure, success
    and the three status codes."""
    receiver = await receivers(_fail_twice)
    # the breaker is not under test: ten events failing twice must not trip it
    daemon = await rig.start(breaker_failures=1000)
    api = await rig.api(daemon)
    hook_id = await api.create_hook("flaky", receiver.url + "/flaky", retries=2)
    await make_live(kazoo, api.account, [receiver])
    calls = [f"retry-{n}" for n in range(EVENTS)]
    await kazoo.stream(api.account, calls)
    await receiver.wait_accepted(calls, timeout=30)
    await asyncio.sleep(0.5)  # time for a stray fourth attempt to show, if there were one
    result = tally(receiver.hits, calls)
    report(result, "retry_to_success")
    assert result.requests == 3 * EVENTS and result.duplicated == 0

    # the attempt is recorded just after the receiver answered: wait for all of them
    async def recorded() -> dict[str, list[dict[str, Any]]] | None:
        by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for attempt in await api.attempts(hook_id):
            call = json.loads(attempt["req_body"]).get("call_id")
            if call in calls:
                by_call[call].append(attempt)
        return by_call if sum(map(len, by_call.values())) >= 3 * EVENTS else None

    by_call = await eventually(recorded, what=f"{3 * EVENTS} attempts recorded")
    assert sorted(by_call) == sorted(calls)
    ids = {h.call_id: h.webhook_id for h in receiver.hits}
    for call, tries in by_call.items():
        tries.sort(key=lambda a: int(a["try"]))
        assert [a["retries_left"] for a in tries] == [2, 1, 0]
        assert all(type(a["retries_left"]) is int for a in tries)
        assert [a["result"] for a in tries] == ["failure", "failure", "success"]
        assert [a.get("resp_status_code") for a in tries] == ["500", "503", "200"]
        assert {a["req_headers"]["webhook-id"] for a in tries} == {ids[call]}
