"""More faults on the real broker: malformed messages, and two instances with one killed."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qsl

import aio_pika
import aiohttp
import orjson
import pytest

from tests.conftest import AMQP_URL, Receiver
from tests.integration.conftest import (
    MASTER_KEY,
    DaemonFactory,
    KazooPublisher,
    _delete_queues,
    free_port,
)
from tests.integration.kazoo_events import channel_create
from tests.integration.test_delivery_faults import _start, _wait_ready

pytestmark = pytest.mark.integration

MALFORMED: list[tuple[bytes, dict[str, str]]] = [
    (b"not json at all", {}),
    (b"[1, 2, 3]", {}),
    (orjson.dumps({"Event-Name": "CHANNEL_CREATE"}), {}),
    (orjson.dumps({"Event-Category": 7, "Event-Name": ["x"]}), {}),
    (b"{" + b" " * (5 * 1024 * 1024) + b"}", {}),
    (b"this is not gzip", {"content_encoding": "gzip"}),
    (gzip.compress(b"[]"), {"content_encoding": "gzip"}),
]


async def test_malformed_messages_are_dead_lettered_and_counted(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """Each malformed message lands in webhooksd.dead_letter and in /metrics; the daemon stays
    ready and delivers the next good event."""
    d = await daemons(sqlite_store_url)
    account = d.master_id
    hook = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {"name": "ok", "hook": "channel_create", "uri": receiver.url + "/ok"},
    )
    for _ in range(250):
        if d.daemon.table.get(hook["data"]["id"]) is not None:
            break
        await asyncio.sleep(0.02)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(exclusive=True, auto_delete=True)
        await dead.bind(await channel.get_exchange("webhooksd.dead_letter", ensure=False), "")
        callevt = await channel.get_exchange("callevt", ensure=False)
        mark = f"bad-{account}"
        for n, (body, props) in enumerate(MALFORMED):
            await callevt.publish(
                aio_pika.Message(body, **props), routing_key=f"call.CHANNEL_CREATE.{mark}-{n}"
            )
        await kazoo.publish("callevt", *channel_create(account, "good-after"))
        await receiver.wait_for(1, timeout=10)
        dead_bodies: list[bytes] = []
        for _ in range(100):
            message = await dead.get(fail=False)
            if message is None:
                if len(dead_bodies) == len(MALFORMED):
                    break
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            # the dead-letter exchange is shared: count only this test's messages
            if mark in (message.routing_key or ""):
                dead_bodies.append(message.body)
    async with aiohttp.ClientSession() as http:
        async with http.get(d.base + "/readyz") as resp:
            assert resp.status == 200
        async with http.get(d.base + "/metrics") as resp:
            metrics = await resp.text()
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("webhooksd_events_dead_lettered_total")
    )
    print(f"malformed={len(MALFORMED)} dead_lettered={len(dead_bodies)} counted={counted:g}")
    assert sorted(dead_bodies) == sorted(body for body, _ in MALFORMED)
    assert counted == len(MALFORMED)
    assert b"call_id=good-after" in receiver.requests[0].body


@pytest.mark.slow
async def test_two_instances_one_killed_the_other_finishes(
    pg_store_url: str, receiver: Receiver, kazoo: KazooPublisher, tag: str
) -> None:
    """Two instances share the queue; one is SIGKILLed mid-stream and never comes back; the
    survivor delivers every event."""
    total = 300
    ports = [free_port(), free_port()]
    base_env = {
        **os.environ,
        "WEBHOOKSD_AMQP_URL": AMQP_URL,
        "WEBHOOKSD_STORE_URL": pg_store_url,
        "WEBHOOKSD_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOKSD_SHARED_QUEUE": f"webhooks_shared_listener.{tag}",
        "WEBHOOKSD_RETRY_QUEUE": f"webhooks_retry.{tag}",
        "WEBHOOKSD_LOG_LEVEL": "warning",
        "WEBHOOKSD_RETRY_BASE_DELAY_MS": "300",
    }
    subprocess.run(  # noqa: ASYNC221 - a one-shot CLI call before anything runs
        [str(Path(sys.executable).parent / "webhooksd"), "bootstrap", "--api-key", MASTER_KEY],
        env=base_env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    procs = [_start({**base_env, "WEBHOOKSD_API_LISTEN": f"127.0.0.1:{p}"}) for p in ports]
    try:
        for port in ports:
            await asyncio.to_thread(_wait_ready, port)
        async with aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{ports[1]}/v2"
            async with http.put(api + "/api_auth", json={"data": {"api_key": MASTER_KEY}}) as resp:
                auth = await resp.json()
            account = auth["data"]["account_id"]
            async with http.put(
                f"{api}/accounts/{account}/webhooks",
                headers={"X-Auth-Token": auth["auth_token"]},
                json={
                    "data": {"name": "two", "hook": "channel_create", "uri": receiver.url + "/two"}
                },
            ) as resp:
                assert resp.status == 201
        for _ in range(50):  # both tables hold the hook once a probe gets through
            await kazoo.publish("callevt", *channel_create(account, "probe"))
            await asyncio.sleep(0.2)
            if receiver.requests:
                break
        await asyncio.sleep(1.0)
        receiver.requests.clear()
        for n in range(total):
            await kazoo.publish("callevt", *channel_create(account, f"t{n}"))
            if n == total // 3:
                procs[0].send_signal(signal.SIGKILL)
        seen: dict[str, set[str]] = defaultdict(set)
        for _ in range(300):
            seen.clear()
            for r in receiver.requests:
                call = dict(parse_qsl(r.body.decode()))["call_id"]
                if call != "probe":
                    seen[call].add(r.headers["webhook-id"])
            if len(seen) >= total:
                break
            await asyncio.sleep(0.2)
        lost = total - len(seen)
        duplicated = sum(
            1 for r in receiver.requests if dict(parse_qsl(r.body.decode()))["call_id"] != "probe"
        ) - len(seen)
        print(f"lost={lost} duplicated={duplicated} total={total}")
        assert lost == 0 and all(len(ids) == 1 for ids in seen.values())
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        await _delete_queues(tag)


async def test_receiver_down_then_back_and_a_hung_receiver_blocks_nobody(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """One hook's receiver is down (connection refused) for a few seconds and comes back: its
    events arrive through retries. Another hook's receiver never answers: its attempts time
    out while a third hook's events keep arriving at once."""
    from aiohttp import web

    d = await daemons(
        sqlite_store_url,
        retry_base_delay_ms=1000,
        request_timeout_ms=1000,
        breaker_cooldown_ms=2000,
    )
    account = d.master_id
    port = free_port()
    down_url = f"http://127.0.0.1:{port}"
    hung: list[int] = []

    async def hang(request: web.Request) -> web.Response:
        hung.append(1)
        await asyncio.sleep(30)
        return web.Response()

    hung_app = web.Application()
    hung_app.router.add_route("*", "/{tail:.*}", hang)
    hung_runner = web.AppRunner(hung_app, access_log=None, shutdown_timeout=0.1)
    await hung_runner.setup()
    hung_port = free_port()
    await web.TCPSite(hung_runner, "127.0.0.1", hung_port).start()
    hooks = {}
    for name, uri in (
        ("down", down_url + "/down"),
        ("hung", f"http://127.0.0.1:{hung_port}/h"),
        ("fine", receiver.url + "/fine"),
    ):
        made = await d.api(
            "PUT",
            f"/v2/accounts/{account}/webhooks",
            {"name": name, "hook": "channel_create", "uri": uri, "retries": 4},
        )
        hooks[name] = made["data"]["id"]
    for _ in range(250):
        if all(d.daemon.table.get(h) is not None for h in hooks.values()):
            break
        await asyncio.sleep(0.02)
    total = 20
    started = asyncio.get_running_loop().time()
    for n in range(total):
        await kazoo.publish("callevt", *channel_create(account, f"d{n}"))
    await receiver.wait_for(total, timeout=10)
    fine_s = asyncio.get_running_loop().time() - started
    # the down receiver comes back a few seconds later, inside the retry schedule
    await asyncio.sleep(3)
    down_got: list[str] = []

    async def collect(request: web.Request) -> web.Response:
        down_got.append(dict(parse_qsl((await request.read()).decode()))["call_id"])
        return web.Response()

    back = web.Application()
    back.router.add_route("*", "/{tail:.*}", collect)
    back_runner = web.AppRunner(back, access_log=None)
    await back_runner.setup()
    await web.TCPSite(back_runner, "127.0.0.1", port).start()
    try:
        for _ in range(300):
            if len(set(down_got)) >= total:
                break
            await asyncio.sleep(0.1)
    finally:
        await back_runner.cleanup()
        await hung_runner.cleanup()
    attempts = await d.api("GET", f"/v2/accounts/{account}/webhooks/{hooks['hung']}/attempts")
    timeouts = [a for a in attempts["data"] if a.get("client_error") == "timeout"]
    lost = total - len(set(down_got))
    print(
        f"down: lost={lost} total={total}; fine delivered in {fine_s:.2f}s; "
        f"hung timeouts={len(timeouts)}"
    )
    assert lost == 0
    assert fine_s < 5 and hung and timeouts
