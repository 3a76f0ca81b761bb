"""Fault 5: PostgreSQL is stopped while events flow; events are requeued until it is back.

It stops the database server everyone on this machine uses, so it runs only when allowed:
with ``WEBHOOKSD_FAULTS_DISRUPTIVE=1``, or under ``CI`` (where the suite runs alone).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.faults.conftest import Rig
from tests.faults.rig import Kazoo, StartReceiver, make_live, report, run_command, tally
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 300
#: the issue's 30 s
OUTAGE_S = 30.0


def _cluster() -> tuple[str, str] | None:
    """``(version, name)`` of the local cluster: ``WEBHOOKSD_TEST_PG_CLUSTER=15/main``, else
    the newest version Debian's postgresql-common knows of, cluster ``main``."""
    wanted = os.environ.get("WEBHOOKSD_TEST_PG_CLUSTER")
    if wanted:
        version, _, name = wanted.partition("/")
        return version, name or "main"
    versions = sorted(
        (p.name for p in Path("/etc/postgresql").glob("*") if p.name[:1].isdigit()),
        key=lambda v: [int(x) for x in v.split(".") if x.isdigit()],
    )
    return (versions[-1], "main") if versions else None


async def _pg_ctl(action: str, cluster: tuple[str, str]) -> tuple[int, str]:
    ctl = shutil.which("pg_ctlcluster")
    assert ctl is not None
    extra = ["-m", "fast"] if action == "stop" else []
    return await run_command(ctl, "--skip-systemctl-redirect", *cluster, action, *extra, timeout=60)


async def _stop_store(cluster: tuple[str, str]) -> float:
    """Stop PostgreSQL for OUTAGE_S and start it again — in any case."""
    stopped = time.monotonic()
    try:
        code, out = await _pg_ctl("stop", cluster)
        assert code == 0, out
        await asyncio.sleep(OUTAGE_S)  # the outage is the scenario: it lasts this long
    finally:
        code, out = await _pg_ctl("start", cluster)
        # "already running" (exit 2) is fine: it must only be up afterwards
        assert code in (0, 2), out
    return time.monotonic() - stopped


async def test_store_stopped_mid_stream(
    disruptive: None, rig: Rig, receivers: StartReceiver, kazoo: Kazoo
) -> None:
    """Disruptive (runs with WEBHOOKSD_FAULTS_DISRUPTIVE=1 or CI): PostgreSQL stops for 30 s
    while events flow; attempts cannot be recorded, so the events are requeued (and may be
    sent again, under the same webhook-id) and every one is delivered once it is back. The
    daemon keeps running throughout: the periodic store readers skip a pass, not crash."""
    cluster = _cluster()
    if shutil.which("pg_ctlcluster") is None or cluster is None:
        pytest.skip("no pg_ctlcluster cluster to stop here")
    receiver = await receivers()
    # the disabler reads the store every expiry/4 = 1 s, so the outage spans several passes
    daemon = await rig.start(attempt_failure_expiry_ms=4000, breaker_cooldown_ms=1000)
    api = await rig.api(daemon)
    await api.create_hook("store", receiver.url + "/store", retries=4)
    await make_live(kazoo, api.account, [receiver])
    calls = [f"store-{n}" for n in range(EVENTS)]
    publishing = asyncio.create_task(kazoo.stream(api.account, calls, rate=30))
    try:
        await eventually(
            lambda: len(receiver.accepted_calls() & set(calls)) >= EVENTS // 4,
            timeout=30,
            what="a quarter of the events accepted",
        )
        down_s = await _stop_store(cluster)
    finally:
        await publishing
    delivered = await receiver.wait_accepted(calls, timeout=60)
    await daemon.wait_ready(timeout=30)
    await asyncio.sleep(2.0)  # time for requeued events still in flight to be counted, if any
    result = tally(receiver.hits, calls)
    print(f"store down {down_s:.1f}s; all delivered: {delivered}; daemon up: {daemon.running}")
    report(result, "postgresql_stopped")
    assert daemon.running
