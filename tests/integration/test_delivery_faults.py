"""Issue-level guarantees on the real RabbitMQ: retries, auto-disable, SIGKILL loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import aio_pika
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

pytestmark = pytest.mark.integration


async def test_receiver_500_disables_hook_and_reenable_brings_it_back(
    daemons: DaemonFactory, pg_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """Six failures in the window disable the hook: it lists with disable_reason,
    webhook_disabled is on the bus, later events are not sent; bulk re-enable restores it."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        notices = await channel.declare_queue(exclusive=True, auto_delete=True)
        exchange = await channel.get_exchange("notifications", ensure=False)
        await notices.bind(exchange, "notifications.webhook.disabled")
        # The breaker defers a failing endpoint's next attempt by its cooldown: the cooldown must
        # stay well inside the failure window or the sixth failure lands after the first expired.
        d = await daemons(pg_store_url, attempt_failure_expiry_ms=8000, breaker_cooldown_ms=300)
        account = d.master_id
        hook = await d.api(
            "PUT",
            f"/v2/accounts/{account}/webhooks",
            {"name": "failing", "hook": "channel_create", "uri": receiver.url + "/x", "retries": 0},
        )
        hook_id = hook["data"]["id"]
        for _ in range(250):  # the config listener loads it
            if d.daemon.table.get(hook_id) is not None:
                break
            await asyncio.sleep(0.02)
        receiver.status = 500
        for n in range(6):
            await kazoo.publish("callevt", *channel_create(account, f"f{n}"))
        await receiver.wait_for(6)
        listed: dict[str, Any] = {}
        for _ in range(150):  # the disabler checks every expiry/4 = 2 s
            listing = await d.api("GET", f"/v2/accounts/{account}/webhooks")
            listed = next(h for h in listing["data"] if h["id"] == hook_id)
            if not listed["enabled"]:
                break
            await asyncio.sleep(0.1)
        assert listed["enabled"] is False
        assert listed["disable_reason"] == "too many failed attempts"
        message = await notices.get(timeout=5)
        body = orjson.loads(message.body)
        assert body["Event-Name"] == "webhook_disabled" and body["Hook-ID"] == hook_id
        await message.ack()

        await kazoo.publish("callevt", *channel_create(account, "while-off"))
        await asyncio.sleep(0.5)
        assert len(receiver.requests) == 6
        receiver.status = 200
        await d.api("PATCH", f"/v2/accounts/{account}/webhooks", {"re-enable": True})
        for _ in range(50):
            if d.daemon.table.get(hook_id) is not None:
                break
            await asyncio.sleep(0.05)
        await kazoo.publish("callevt", *channel_create(account, "back-on"))
        # the endpoint's breaker opened after six 500s in a row, so this first attempt may
        # wait in the retry queue until the breaker's cool-down (2 s here) has passed
        got = await receiver.wait_for(7, timeout=15)
        assert b"call_id=back-on" in got[-1].body


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "webhooksd"), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("daemon not ready")


@pytest.mark.slow
async def test_sigkill_mid_stream_loses_nothing(
    pg_store_url: str, receiver: Receiver, kazoo: KazooPublisher, tag: str
) -> None:
    """N events, a fifth of first attempts failing (so retries wait in RabbitMQ); the daemon
    is SIGKILLed mid-stream and started again: every event arrives, and every duplicate
    carries the webhook-id of the first delivery of its event."""
    total = 300
    port = free_port()
    env = {
        **os.environ,
        "WEBHOOKSD_AMQP_URL": AMQP_URL,
        "WEBHOOKSD_STORE_URL": pg_store_url,
        "WEBHOOKSD_API_LISTEN": f"127.0.0.1:{port}",
        "WEBHOOKSD_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOKSD_SHARED_QUEUE": f"webhooks_shared_listener.{tag}",
        "WEBHOOKSD_RETRY_QUEUE": f"webhooks_retry.{tag}",
        "WEBHOOKSD_RETRY_BASE_DELAY_MS": "300",
        "WEBHOOKSD_LOG_LEVEL": "warning",
        # 60 failing first attempts would (rightly) auto-disable the hook and drop its retries
        "WEBHOOKSD_DISABLE_DISABLER": "true",
    }
    subprocess.run(  # noqa: ASYNC221 - a one-shot CLI call before anything runs
        [str(Path(sys.executable).parent / "webhooksd"), "bootstrap", "--api-key", MASTER_KEY],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc = _start(env)
    try:
        await asyncio.to_thread(_wait_ready, port)
        import aiohttp

        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}/v2"
            async with http.put(base + "/api_auth", json={"data": {"api_key": MASTER_KEY}}) as resp:
                auth = await resp.json()
            token, account = auth["auth_token"], auth["data"]["account_id"]
            async with http.put(
                f"{base}/accounts/{account}/webhooks",
                headers={"X-Auth-Token": token},
                json={
                    "data": {
                        "name": "k",
                        "hook": "channel_create",
                        "uri": receiver.url + "/k",
                        "retries": 4,
                    }
                },
            ) as resp:
                assert resp.status == 201
        # the hook is live once a probe event comes through (the config listener loads it)
        for _ in range(50):
            await kazoo.publish("callevt", *channel_create(account, "probe"))
            await asyncio.sleep(0.2)
            if receiver.requests:
                break
        await asyncio.sleep(0.2)
        receiver.requests.clear()
        fails: set[str] = set()

        def decide(got: Any) -> int:
            # a fifth of the events fail their first attempt, so retries are waiting too
            call = dict(_form(got.body))["call_id"]
            if call.startswith("k") and int(call[1:]) % 5 == 0 and call not in fails:
                fails.add(call)
                return 503
            return 200

        receiver.decide = decide

        for n in range(total):
            await kazoo.publish("callevt", *channel_create(account, f"k{n}"))
            if n == total // 2:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                proc = _start(env)
        await asyncio.to_thread(_wait_ready, port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = {dict(_form(r.body))["call_id"] for r in receiver.requests} - {"probe"}
            if len(seen) >= total:
                break
            await asyncio.sleep(0.2)
        ids: dict[str, set[str]] = defaultdict(set)
        count: dict[str, int] = defaultdict(int)
        for r in receiver.requests:
            call = dict(_form(r.body))["call_id"]
            if call == "probe":
                continue
            ids[call].add(r.headers["webhook-id"])
            count[call] += 1
        lost = total - len(ids)
        duplicated = sum(c - 1 for c in count.values())
        print(f"lost={lost} duplicated={duplicated} total={total} first_failed={len(fails)}")
        missing = sorted({f"k{n}" for n in range(total)} - set(ids))
        assert lost == 0, missing
        assert all(len(v) == 1 for v in ids.values())
    finally:
        proc.kill()
        proc.wait()
        await _delete_queues(tag)


def _form(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode())


async def test_fails_twice_then_succeeds_through_rabbitmq(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """500, 503, then 200: the third attempt delivers, all three with one webhook-id, the
    retries waiting in RabbitMQ; the attempts API shows retries_left 2, 1, 0."""
    d = await daemons(sqlite_store_url)
    account = d.master_id
    hook = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {"name": "flaky", "hook": "channel_create", "uri": receiver.url + "/flaky", "retries": 2},
    )
    hook_id = hook["data"]["id"]
    for _ in range(250):
        if d.daemon.table.get(hook_id) is not None:
            break
        await asyncio.sleep(0.02)
    answers = iter([500, 503, 200])
    receiver.decide = lambda _got: next(answers)
    await kazoo.publish("callevt", *channel_create(account, "flaky-1"))
    got = await receiver.wait_for(3, timeout=15)
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert all(b"call_id=flaky-1" in r.body for r in got)
    attempts: list[dict[str, Any]] = []
    for _ in range(100):
        attempts = (
            await d.api("GET", f"/v2/accounts/{account}/webhooks/{hook_id}/attempts?ascending=true")
        )["data"]
        if len(attempts) == 3:
            break
        await asyncio.sleep(0.05)
    assert [a["retries_left"] for a in attempts] == [2, 1, 0]
    assert [a["result"] for a in attempts] == ["failure", "failure", "success"]
    assert [a.get("resp_status_code") for a in attempts] == ["500", "503", "200"]
