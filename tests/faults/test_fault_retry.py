"""Fault 1: a receiver that fails twice and then accepts gets every event on the third try."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import PROBE, Kazoo, StartReceiver, make_live, report, tally, until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 10


def _fail_twice(_path: str, call: str, before: int) -> int:
    return 200 if call.startswith(PROBE) or before >= 2 else 500


async def test_retry_to_success(rig: Rig, receivers: StartReceiver, kazoo: Kazoo) -> None:
    """Each event is answered 500, 500, then 200: it arrives on the third attempt under one
    webhook-id, and the hook's attempts read retries_left 2, 1, 0 and failure, failure, success."""
    receiver = await receivers(_fail_twice)
    # the breaker is not under test: ten events failing twice must not trip it
    daemon = await rig.start(breaker_failures=1000)
    api = await rig.api(daemon)
    hook_id = await api.create_hook("flaky", receiver.url + "/flaky", retries=2)
    await make_live(kazoo, api.account, [receiver])
    calls = [f"retry-{n}" for n in range(EVENTS)]
    await kazoo.stream(api.account, calls)
    await receiver.wait_accepted(calls, timeout=30)
    await until(lambda: False, 0.5)  # a stray fourth attempt would show by now
    result = tally(receiver.hits, calls)
    report(result, "retry_to_success")
    assert result.requests == 3 * EVENTS and result.duplicated == 0

    # the attempt is recorded just after the receiver answered: poll briefly
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(50):
        by_call.clear()
        for attempt in await api.attempts(hook_id):
            call = json.loads(attempt["req_body"]).get("call_id")
            if call in calls:
                by_call[call].append(attempt)
        if sum(map(len, by_call.values())) >= 3 * EVENTS:
            break
        await until(lambda: False, 0.1)
    assert sorted(by_call) == sorted(calls)
    ids = {h.call_id: h.webhook_id for h in receiver.hits}
    for call, tries in by_call.items():
        tries.sort(key=lambda a: int(a["try"]))
        assert [a["retries_left"] for a in tries] == [2, 1, 0]
        assert all(type(a["retries_left"]) is int for a in tries)
        assert [a["result"] for a in tries] == ["failure", "failure", "success"]
        assert [a.get("resp_status_code") for a in tries] == ["500", "500", "200"]
        assert {a["req_headers"]["webhook-id"] for a in tries} == {ids[call]}
