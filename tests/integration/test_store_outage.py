"""A store that reads but cannot write (a full disk, a read-only database) while events flow.

Each event is sent before its attempt is recorded, so an event whose record fails is sent
again once it can be recorded: at most twice in all, however long the outage. The daemon
must not send it again on every redelivery meanwhile (the issue measured 933 requests for 100
events, up to 12 each, behind a read probe that kept succeeding), and /readyz must say the
store is not ready for as long as it cannot write.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_URL, Receiver
from tests.integration.conftest import DaemonFactory, KazooPublisher, RunningDaemon
from tests.integration.kazoo_events import channel_create
from tests.waiting import eventually
from tests.write_outage import write_outage

pytestmark = pytest.mark.integration

EVENTS = 100
#: how long writes keep failing once /readyz said so: the outage is the scenario, long
#: enough for several redeliveries of every event (the requeue pause starts at 1 s)
OUTAGE_S = 8.0


async def _readiness(d: RunningDaemon) -> tuple[int, dict[str, bool]]:
    async with d.http.get(d.base + "/readyz") as resp:
        return resp.status, dict((await resp.json())["checks"])


def _sends(receiver: Receiver) -> Counter[str]:
    """Requests the receiver got, per event (its call id)."""
    return Counter(str(json.loads(r.body)["call_id"]) for r in receiver.requests)


@pytest.fixture(name="store_url", params=["sqlite", "postgres"])
async def _store_url(
    request: pytest.FixtureRequest, tmp_path: Path, tag: str
) -> AsyncIterator[str]:
    """A SQLite file, or a PostgreSQL database of this test alone (a setting of the
    database is what makes it read-only)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/webhooksd.sqlite3"
        return
    name = f"webhooksd_it_{tag}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_store_that_cannot_write_sends_each_event_at_most_twice(
    store_url: str,
    daemons: DaemonFactory,
    kazoo: KazooPublisher,
    receiver: Receiver,
) -> None:
    d = await daemons(store_url)
    account = d.master_id
    reply = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {"name": "outage", "hook": "channel_create", "uri": receiver.url, "format": "json"},
    )
    hook_id = reply["data"]["id"]
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="hook loaded")
    calls = [f"outage-{n}" for n in range(EVENTS)]

    async with write_outage(d.daemon.store, store_url):
        for call in calls:
            await kazoo.publish("callevt", *channel_create(account, call))

        async def unwritable() -> bool:
            status, checks = await _readiness(d)
            return status == 503 and checks.get("store") is False

        await eventually(unwritable, timeout=15, what="/readyz 503 with store false")
        await asyncio.sleep(OUTAGE_S)  # the outage is the scenario: it lasts this long
        during = _sends(receiver)
        assert (await _readiness(d))[1]["store"] is False

    await eventually(
        lambda: set(calls) <= set(_sends(receiver)), timeout=60, what="every event delivered"
    )

    async def ready() -> bool:
        status, checks = await _readiness(d)
        return status == 200 and checks["store"] is True

    await eventually(ready, timeout=15, what="/readyz 200 again")

    async def recorded() -> bool:
        # one attempt recorded per event: every message is acked, none is coming again
        found = await d.daemon.store.list_attempts(
            account, hook_id=hook_id, created_from_ms=0, created_to_ms=2**62, limit=10 * EVENTS
        )
        return len({a.event_id for a in found}) >= EVENTS

    await eventually(recorded, timeout=30, what="an attempt recorded for every event")
    sends = _sends(receiver)
    wanted = {call: sends[call] for call in calls}
    print(
        f"store={store_url.split(':')[0]} events={EVENTS} requests={sum(wanted.values())}"
        f" during_outage={sum(during[c] for c in calls)} max_per_event={max(wanted.values())}"
    )
    assert max(wanted.values()) <= 2, sorted(wanted.items(), key=lambda kv: -kv[1])[:5]
