"""Fault 7: a hook whose receiver keeps failing is disabled, announced, and re-enabled."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import orjson
import pytest

from tests.conftest import AMQP_URL
from tests.faults.conftest import Rig
from tests.faults.rig import (
    PROBE,
    Api,
    Kazoo,
    StartReceiver,
    make_live,
    report,
    tally,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Kazoo's default attempt_failure_count
FAILURES = 6


async def _listed(api: Api, hook_id: str) -> dict[str, Any]:
    return next(h for h in await api.hooks() if h["id"] == hook_id)


async def test_auto_disable_and_reenable(rig: Rig, receivers: StartReceiver, kazoo: Kazoo) -> None:
    """Six 500s to a hook with retries=0 (one request each) disable it within seconds
    (disable_reason, a webhook_disabled notification); later events are not sent; re-enable
    brings it back."""
    failing = True
    receiver = await receivers(
        lambda _path, call, _n: 200 if call.startswith(PROBE) or not failing else 500
    )
    # the disabler checks every expiry/4 = 1 s; the breaker is off, so that each of the six
    # is a real 500 the receiver sees (an open breaker would fail the sixth unsent, which
    # counts the same: tests/integration/test_isolation.py)
    daemon = await rig.start(attempt_failure_expiry_ms=4000, breaker_failures=0)
    api = await rig.api(daemon)
    hook_id = await api.create_hook("failing", receiver.url + "/failing", retries=0)
    await make_live(kazoo, api.account, [receiver])
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        notices = await channel.declare_queue(exclusive=True, auto_delete=True)
        exchange = await channel.get_exchange("notifications", ensure=False)
        await notices.bind(exchange, "notifications.webhook.disabled")

        calls = [f"fail-{n}" for n in range(FAILURES)]
        for call in calls:
            await kazoo.call(api.account, call)
        await eventually(
            lambda: len({h.call_id for h in receiver.hits} & set(calls)) == FAILURES,
            timeout=15,
            what=f"{FAILURES} failing events sent",
        )
        sixth = time.monotonic()

        async def disabled() -> dict[str, Any] | None:
            listed = await _listed(api, hook_id)
            return None if listed["enabled"] else listed

        listed = await eventually(disabled, timeout=10, what="the hook disabled")
        disabled_s = time.monotonic() - sixth
        assert listed["disable_reason"] == "too many failed attempts"
        notice = await _notice_for(notices, hook_id)
        assert notice["Event-Name"] == "webhook_disabled"
        assert notice["Account-ID"] == api.account

    failing = False
    await kazoo.call(api.account, "while-disabled")
    await asyncio.sleep(1.5)  # time for the event to be sent, were the hook still in the table
    assert "while-disabled" not in {h.call_id for h in receiver.hits}
    # retries=0: each failing event was sent once, and nothing since
    assert sum(1 for h in receiver.hits if h.call_id in calls) == FAILURES
    await api.call("PATCH", f"/accounts/{api.account}/webhooks", {"re-enable": True})
    assert (await _listed(api, hook_id))["enabled"] is True
    await make_live(kazoo, api.account, [receiver])  # the table holds it again
    await kazoo.call(api.account, "after-reenable")
    delivered = await receiver.wait_accepted(["after-reenable"], timeout=15)
    result = tally(receiver.hits, ["after-reenable"])
    print(f"disabled {disabled_s:.1f}s after the sixth failure")
    report(result, "auto_disable_reenable")
    assert delivered and disabled_s < 5
    assert "while-disabled" not in {h.call_id for h in receiver.hits}


async def _notice_for(queue: aio_pika.abc.AbstractQueue, hook_id: str) -> dict[str, Any]:
    """The webhook_disabled notification about ``hook_id`` (other tests' may be there too)."""

    async def mine() -> dict[str, Any] | None:
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            body: dict[str, Any] = orjson.loads(message.body)
            if body.get("Hook-ID") == hook_id:
                return body
        return None

    found: dict[str, Any] = await eventually(
        mine, timeout=10, what="the webhook_disabled notification"
    )
    return found
