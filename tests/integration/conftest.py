"""Run real daemons in-process against real RabbitMQ / PostgreSQL / SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import orjson
import pytest

from tests.conftest import AMQP_URL, PG_URL
from webhooksd.accounts import bootstrap_master
from webhooksd.config import Settings, load
from webhooksd.runtime.daemon import Daemon, build

MASTER_KEY = "ab" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningDaemon:
    """A daemon running in this event loop, with an HTTP session on its API."""

    daemon: Daemon
    base: str
    http: aiohttp.ClientSession
    task: asyncio.Task[None] | None = None
    token: str = ""
    master_id: str = ""

    async def stop(self) -> None:
        """Stop the supervisor as SIGTERM would (children drain and stop)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def api(self, method: str, path: str, data: Any = None, **kw: Any) -> Any:
        body = orjson.dumps({"data": data}) if data is not None else None
        headers = {"X-Auth-Token": self.token, "Content-Type": "application/json"}
        async with self.http.request(
            method, self.base + path, data=body, headers=headers, **kw
        ) as resp:
            payload = await resp.json(content_type=None)
            assert resp.status < 400, (resp.status, payload)
            return payload

    async def login(self, api_key: str = MASTER_KEY) -> None:
        resp = await self.api("PUT", "/v2/api_auth", {"api_key": api_key})
        self.token, self.master_id = resp["auth_token"], resp["data"]["account_id"]


def settings_for(store_url: str, amqp_url: str, tag: str, **extra: Any) -> Settings:
    defaults: dict[str, Any] = {
        "store_url": store_url,
        "amqp_url": amqp_url,
        "api_listen": f"127.0.0.1:{free_port()}",
        "allow_private_targets": True,
        "shared_queue": f"webhooks_shared_listener.{tag}",
        "retry_queue": f"webhooks_retry.{tag}",
        "node_name": f"test-{uuid.uuid4().hex[:6]}",
        "drain_timeout_s": 5,
        "retry_base_delay_ms": 200,
    }
    return load(environ={}).replace(**{**defaults, **extra})


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[RunningDaemon]:
    async with build(settings) as daemon:
        await bootstrap_master(daemon.store, api_key=MASTER_KEY)
        task = asyncio.create_task(daemon.supervisor.run())
        try:
            await asyncio.wait_for(daemon.supervisor.all_started.wait(), 20)
            async with aiohttp.ClientSession() as http:
                runner = RunningDaemon(daemon, f"http://127.0.0.1:{settings.api_port}", http, task)
                await runner.login()
                yield runner
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


DaemonFactory = Callable[..., Awaitable[RunningDaemon]]


@pytest.fixture(name="tag")
def _tag() -> str:
    """A unique suffix for this test's queues and database."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(name="pg_store_url")
async def _pg_store_url(tag: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    name = f"webhooksd_it_{tag}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(name="sqlite_store_url")
def _sqlite_store_url(tmp_path: Path) -> str:
    """A SQLite file for this test."""
    return f"sqlite:///{tmp_path}/webhooksd.sqlite3"


@pytest.fixture(name="daemons")
async def _daemons(tag: str) -> AsyncIterator[DaemonFactory]:
    """Start daemons in this loop; stop them and delete this test's durable queues after."""
    stack = AsyncExitStack()
    started: list[Settings] = []

    async def start(store_url: str, amqp_url: str = AMQP_URL, **extra: Any) -> RunningDaemon:
        settings = settings_for(store_url, amqp_url, tag, **extra)
        started.append(settings)
        return await stack.enter_async_context(running(settings))

    try:
        yield start
    finally:
        await stack.aclose()
        if any(s.amqp_url.startswith("amqp") for s in started):
            await _delete_queues(tag)


async def _delete_queues(tag: str) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        for name in (f"webhooks_shared_listener.{tag}", f"webhooks_retry.{tag}"):
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.queue_delete(name, if_unused=False, if_empty=False)


@pytest.fixture(name="kazoo")
async def _kazoo() -> AsyncIterator[KazooPublisher]:
    """Publishes as Kazoo does: straight onto its exchanges with aio-pika."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        yield KazooPublisher(channel)


class KazooPublisher:
    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self._channel = channel

    async def publish(self, exchange: str, routing_key: str, body: dict[str, Any]) -> None:
        ex = await self._channel.get_exchange(exchange, ensure=False)
        await ex.publish(
            aio_pika.Message(orjson.dumps(body), content_type="application/json"),
            routing_key=routing_key,
        )
