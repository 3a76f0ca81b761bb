"""The foundation end to end: a Kazoo event becomes a delivered, recorded webhook."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import Receiver
from tests.integration.conftest import DaemonFactory, KazooPublisher, RunningDaemon
from tests.integration.kazoo_events import channel_create, doc_change
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def _create_hooks(d: RunningDaemon, account: str, receiver: Receiver) -> tuple[str, str]:
    calls = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {
            "name": "calls",
            "hook": "channel_create",
            "uri": receiver.url + "/calls",
            "http_verb": "post",
            "format": "json",
        },
    )
    users = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {
            "name": "users",
            "hook": "object",
            "uri": receiver.url + "/users",
            "http_verb": "post",
            "custom_data": {"type": "user", "action": "all"},
        },
    )
    return calls["data"]["id"], users["data"]["id"]


async def _walk(d: RunningDaemon, receiver: Receiver, publish: Any) -> None:
    account = d.master_id
    calls_id, users_id = await _create_hooks(d, account, receiver)
    await eventually(lambda: d.daemon.table.get(users_id) is not None, what="hooks loaded")
    user_id = uuid.uuid4().hex
    await publish("callevt", *channel_create(account, "call-1"))
    await publish("configuration", *doc_change(account, "doc_created", "user", user_id))
    got = await receiver.wait_for(2)
    by_path = {r.path: r for r in got}

    call = by_path["/calls"]
    assert call.method == "POST" and call.headers["Content-Type"] == "application/json"
    assert call.headers["X-Hook-ID"] == calls_id and call.headers["X-Account-ID"] == account
    payload = json.loads(call.body)
    assert payload["hook_event"] == "channel_create" and payload["call_id"] == "call-1"
    assert payload["account_id"] == account and payload["caller_id_number"] == "+15556783945"
    assert payload["is_internal_leg"] is False and payload["local_resource_used"] is True
    assert len(payload["cluster_id"]) == 32

    user = by_path["/users"]
    assert user.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert user.headers["X-Hook-ID"] == users_id
    form = dict(parse_qsl(user.body.decode()))
    assert form["id"] == user_id and form["type"] == "user"
    assert form["action"] == "doc_created" and form["account_id"] == account

    # the attempt is written just after the receiver answered: give it a moment
    wanted = {(calls_id, "success"), (users_id, "success")}

    async def recorded() -> bool:
        attempts = await d.api("GET", f"/v2/accounts/{account}/webhooks/attempts")
        return wanted <= {(a["hook_id"], a["result"]) for a in attempts["data"]}

    await eventually(recorded, what="both successful attempts recorded")


async def test_walk_rabbitmq_sqlite(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """RabbitMQ + SQLite: a channel_create (JSON) and an object hook (form) both deliver."""
    d = await daemons(sqlite_store_url)
    await _walk(d, receiver, kazoo.publish)


async def test_walk_rabbitmq_postgres(
    daemons: DaemonFactory, pg_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """RabbitMQ + PostgreSQL: the same walk against the production store."""
    d = await daemons(pg_store_url)
    await _walk(d, receiver, kazoo.publish)


async def test_walk_memory_bus(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver
) -> None:
    """memory:// + SQLite: the same walk, events put on the bus through the API."""
    d = await daemons(sqlite_store_url, amqp_url="memory://")

    async def publish(exchange: str, routing_key: str, body: dict[str, Any]) -> None:
        await d.api(
            "POST",
            "/v2/bus/publish",
            {"exchange": exchange, "routing_key": routing_key, "payload": body},
        )

    await _walk(d, receiver, publish)


async def test_two_daemons_share_one_broker(
    daemons: DaemonFactory, pg_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """Two instances: a hook made through one loads in the other within a second, and each
    event is delivered once."""
    first = await daemons(pg_store_url)
    second = await daemons(pg_store_url)
    account = first.master_id
    hook = await first.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {
            "name": "calls",
            "hook": "channel_create",
            "uri": receiver.url + "/calls",
        },
    )
    hook_id = hook["data"]["id"]
    await eventually(
        lambda: second.daemon.table.get(hook_id) is not None, timeout=1.0, what="hook loaded"
    )
    for n in range(10):
        await kazoo.publish("callevt", *channel_create(account, f"call-{n}"))
    got = await receiver.wait_for(10)
    await asyncio.sleep(0.5)  # any duplicate would have arrived by now
    call_ids = sorted(dict(parse_qsl(r.body.decode()))["call_id"] for r in receiver.requests)
    assert len(receiver.requests) == 10 and call_ids == sorted(f"call-{n}" for n in range(10))
    assert len(got) == 10
    # with the first instance gone, the hook it created fires from the second
    await first.stop()
    started = asyncio.get_running_loop().time()
    await kazoo.publish("callevt", *channel_create(account, "call-after"))
    await receiver.wait_for(11, timeout=1.0)
    assert asyncio.get_running_loop().time() - started < 1.0
