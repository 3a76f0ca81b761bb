"""Beside a real Kazoo, end to end: Kazoo's accounts mirrored from a real CouchDB-compatible
server (pouchdb-server), Kazoo's events on real RabbitMQ, deliveries to a real receiver."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from tests.conftest import AMQP_URL, Receiver
from tests.couch import CouchServer
from tests.integration.conftest import KazooPublisher, RunningDaemon, _delete_queues, settings_for
from tests.integration.kazoo_events import channel_create
from tests.kazoodocs import (
    CUSTOMER_ID,
    MASTER_ID,
    RESELLER_ID,
    account_doc,
    kazoo_tree,
    master_config,
)
from tests.tcpproxy import TcpProxy
from tests.waiting import eventually
from webhooksd.bus import DEAD_LETTER
from webhooksd.config import Settings
from webhooksd.runtime.daemon import build

pytestmark = pytest.mark.integration

LATE_ID = "late0000000000000000000000000004"


@pytest.fixture(autouse=True)
async def _queues_deleted(tag: str) -> AsyncIterator[None]:
    """These tests start their daemons themselves (not through ``daemons``, which deletes its
    queues): a durable shared queue left on the broker stays bound to Kazoo's exchanges and
    keeps a copy of every event published after, by every later test and benchmark (twelve
    such queues held 1.7 million events on the shared broker)."""
    yield
    await _delete_queues(tag)


@contextlib.asynccontextmanager
async def mirrored(settings: Settings) -> AsyncIterator[RunningDaemon]:
    """A daemon beside Kazoo: no bootstrap (the master is Kazoo's), ready once the first full
    read of Kazoo's accounts is done."""
    async with build(settings) as daemon:
        task = asyncio.create_task(daemon.supervisor.run())
        try:
            await asyncio.wait_for(daemon.supervisor.all_started.wait(), 20)
            async with aiohttp.ClientSession() as http:
                runner = RunningDaemon(daemon, f"http://127.0.0.1:{settings.api_port}", http, task)
                await eventually(
                    lambda: readyz(runner, 200), timeout=20, what="ready (accounts loaded)"
                )
                # the gauges child's first sample done: a daemon stopped while that sample's
                # probe channel is open can hang its shutdown (seen here, not the mirror's)
                await eventually(
                    lambda: (
                        daemon.metrics.registry.get_sample_value(
                            "webhooksd_queue_depth", {"queue": DEAD_LETTER}
                        )
                        is not None
                    ),
                    what="first queue-depth sample",
                )
                yield runner
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def readyz(d: RunningDaemon, status: int) -> dict[str, Any] | None:
    async with d.http.get(d.base + "/readyz") as resp:
        body: dict[str, Any] = await resp.json()
        return body if resp.status == status else None


async def seed(couch: CouchServer) -> dict[str, str]:
    """Kazoo's tree in CouchDB; the API key of each account by id."""
    await couch.put("system_config", master_config())
    keys = {}
    for doc in kazoo_tree():
        await couch.put("accounts", doc)
        keys[doc["_id"]] = doc["pvt_api_key"]
    return keys


async def reseller_hook(d: RunningDaemon, receiver: Receiver, others: list[RunningDaemon]) -> str:
    created = await d.api(
        "PUT",
        f"/v2/accounts/{RESELLER_ID}/webhooks",
        {
            "name": "reseller calls",
            "hook": "channel_create",
            "uri": receiver.url + "/reseller",
            "http_verb": "post",
            "format": "json",
            "include_subaccounts": True,
        },
    )
    hook_id: str = created["data"]["id"]
    await on_each([d, *others], lambda e: e.daemon.table.get(hook_id), what="hook loaded")
    return hook_id


async def on_each(
    daemons: list[RunningDaemon],
    check: Callable[[RunningDaemon], object],
    *,
    timeout: float = 5.0,
    what: str,
) -> None:
    """Wait until ``check`` holds on every daemon."""
    for each in daemons:
        await eventually(functools.partial(check, each), timeout=timeout, what=what)


def delivered_calls(receiver: Receiver) -> dict[str, dict[str, Any]]:
    """Delivered payloads by call id."""
    return {json.loads(r.body)["call_id"]: json.loads(r.body) for r in receiver.requests}


async def fires(kazoo: KazooPublisher, receiver: Receiver, account_id: str, call_id: str) -> None:
    await kazoo.publish("callevt", *channel_create(account_id, call_id))
    await eventually(lambda: call_id in delivered_calls(receiver), what=f"{call_id} delivered")
    assert delivered_calls(receiver)[call_id]["account_id"] == account_id


async def test_kazoo_tree_on_two_daemons(
    couch_server: CouchServer,
    pg_store_url: str,
    tag: str,
    receiver: Receiver,
    kazoo: KazooPublisher,
) -> None:
    """Kazoo's master → reseller → customer in CouchDB, two daemons sharing one store and one
    broker, both mirroring: Kazoo's keys sign in as Kazoo's ids; the reseller's
    include_subaccounts hook hears the customer's CHANNEL_CREATE; an account added in CouchDB
    fires it within 2 s on both; pvt_enabled false silences the reseller's hook within 2 s."""
    keys = await seed(couch_server)
    extra = {"kazoo_couch_url": couch_server.url}
    async with (
        mirrored(settings_for(pg_store_url, AMQP_URL, tag, **extra)) as a,
        mirrored(settings_for(pg_store_url, AMQP_URL, tag, **extra)) as b,
    ):
        body = await readyz(a, 200)
        assert body is not None and body["checks"]["kazoo_accounts"] is True
        customer_auth = await a.api("PUT", "/v2/api_auth", {"api_key": keys[CUSTOMER_ID]})
        assert customer_auth["data"]["account_id"] == CUSTOMER_ID
        assert customer_auth["data"]["reseller_id"] == RESELLER_ID
        master_auth = await b.api("PUT", "/v2/api_auth", {"api_key": keys[MASTER_ID]})
        assert master_auth["data"]["is_master_account"] is True
        await a.login(keys[RESELLER_ID])
        assert a.master_id == RESELLER_ID
        await reseller_hook(a, receiver, [b])
        await fires(kazoo, receiver, CUSTOMER_ID, "customer-call")

        started = time.monotonic()
        await couch_server.put("accounts", account_doc(LATE_ID, "Late", [MASTER_ID, RESELLER_ID]))
        await on_each(
            [a, b],
            lambda e: e.daemon.table.find("channel_create", LATE_ID),
            timeout=2,
            what="the new account finds the reseller's hook",
        )
        await fires(kazoo, receiver, LATE_ID, "late-call")
        assert time.monotonic() - started < 4  # within 2 s known, then one delivery

        await couch_server.update("accounts", RESELLER_ID, pvt_enabled=False)
        await on_each(
            [a, b],
            lambda e: not e.daemon.table.find("channel_create", CUSTOMER_ID),
            timeout=2,
            what="the disabled reseller's hook silent",
        )
        await kazoo.publish("callevt", *channel_create(CUSTOMER_ID, "while-disabled"))
        await couch_server.update("accounts", RESELLER_ID, pvt_enabled=True)
        await on_each(
            [a, b],
            lambda e: e.daemon.table.find("channel_create", CUSTOMER_ID),
            what="enabled again",
        )
        await fires(kazoo, receiver, CUSTOMER_ID, "enabled-again")
        assert "while-disabled" not in delivered_calls(receiver)
        refused = await a.http.put(
            a.base + f"/v2/accounts/{RESELLER_ID}",
            json={"data": {"name": "mine"}},
            headers={"X-Auth-Token": a.token},
        )
        assert refused.status == 403


async def test_restart_resumes_from_the_checkpoint(
    couch_server: CouchServer, sqlite_store_url: str, tag: str
) -> None:
    """Restarted, the daemon reads only the documents changed while it was stopped."""
    await seed(couch_server)
    settings = settings_for(
        sqlite_store_url,
        AMQP_URL,
        tag,
        kazoo_couch_url=couch_server.url,
    )
    async with mirrored(settings) as first:
        assert first.daemon.kazoo_accounts is not None
        assert first.daemon.kazoo_accounts.docs_read == 3
    await couch_server.put("accounts", account_doc(LATE_ID, "Late", [MASTER_ID, RESELLER_ID]))
    async with mirrored(settings) as second:
        mirror = second.daemon.kazoo_accounts
        assert mirror is not None
        await eventually(lambda: second.daemon.table.account(LATE_ID), what="late account")
        assert mirror.docs_read == 1


@pytest.mark.slow
async def test_couchdb_outage(
    couch_server: CouchServer,
    sqlite_store_url: str,
    tag: str,
    receiver: Receiver,
    kazoo: KazooPublisher,
) -> None:
    """CouchDB unreachable for 30 s: deliveries go on with the last known accounts, /readyz
    stays 200 but shows kazoo_accounts false, and the changes made meanwhile arrive after."""
    keys = await seed(couch_server)
    proxy = TcpProxy(couch_server.port)
    await proxy.start()
    settings = settings_for(sqlite_store_url, AMQP_URL, tag, kazoo_couch_url=proxy.url)
    try:
        async with mirrored(settings) as d:
            await d.login(keys[RESELLER_ID])
            await reseller_hook(d, receiver, [])
            await proxy.stop()
            down = await eventually(lambda: readyz(d, 200), what="readyz answers")
            degraded = await eventually(
                lambda: _degraded(d), timeout=10, what="the outage shown in /readyz"
            )
            assert degraded["checks"]["kazoo_accounts"] is False and down is not None
            await couch_server.put(
                "accounts", account_doc(LATE_ID, "Late", [MASTER_ID, RESELLER_ID])
            )
            outage_end = time.monotonic() + 30
            n = 0
            while time.monotonic() < outage_end:
                await fires(kazoo, receiver, CUSTOMER_ID, f"during-{n}")
                n += 1
                await asyncio.sleep(3)  # the outage lasts 30 s; an event every few seconds
            assert d.daemon.table.account(LATE_ID) is None  # not seen while CouchDB was away
            await proxy.start()
            await eventually(
                lambda: d.daemon.table.find("channel_create", LATE_ID), timeout=20, what="caught up"
            )
            await fires(kazoo, receiver, LATE_ID, "after-outage")
            body = await eventually(lambda: readyz(d, 200), what="ready")
            await eventually(lambda: _in_step(d), timeout=10, what="in step again")
            assert body is not None
    finally:
        await proxy.stop()


async def _degraded(d: RunningDaemon) -> dict[str, Any] | None:
    body = await readyz(d, 200)
    return body if body is not None and body["status"] == "degraded" else None


async def _in_step(d: RunningDaemon) -> bool:
    body = await readyz(d, 200)
    return body is not None and body["status"] == "ready"
