"""Fixtures of the fault tests: a fresh PostgreSQL database, daemons as subprocesses, receivers,
and a Kazoo publisher — all on the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import pytest

from tests.conftest import AMQP_URL, PG_URL
from tests.faults.rig import (
    MASTER_KEY,
    Api,
    Cleanup,
    DaemonProc,
    Decide,
    Kazoo,
    Receiver,
    StartReceiver,
    bin_path,
    delay_buckets,
    env_flag,
    free_port,
)
from tests.waiting import eventually

#: the largest retry delay the tests allow (bounds the delay buckets deleted at teardown)
MAX_DELAY_MS = 60_000


@pytest.fixture(name="disruptive")
def _disruptive() -> None:
    """Skips a test that stops a shared service unless it may (it runs alone); request it
    first, so that nothing is set up for a skipped test."""
    if not (env_flag("WEBHOOKSD_FAULTS_DISRUPTIVE") or env_flag("CI")):
        pytest.skip("stops a shared service: set WEBHOOKSD_FAULTS_DISRUPTIVE=1 (or CI) to run")


class Rig:
    """Starts daemons of one test on one database and one pair of queues."""

    def __init__(self, tag: str, store_url: str, logs: Path, http: aiohttp.ClientSession):
        self.tag = tag
        self.store_url = store_url
        self.logs = logs
        self.http = http
        self.shared_queue = f"webhooks_shared_listener.faults.{tag}"
        self.retry_queue = f"webhooks_retry.faults.{tag}"
        self.daemons: list[DaemonProc] = []

    def env(self, **settings: Any) -> dict[str, str]:
        """The daemon's environment: this test's services and queues, then ``settings``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKSD_")}
        values: dict[str, Any] = {
            "amqp_url": AMQP_URL,
            "store_url": self.store_url,
            "api_listen": f"127.0.0.1:{free_port()}",
            "allow_private_targets": "true",
            "shared_queue": self.shared_queue,
            "retry_queue": self.retry_queue,
            "retry_base_delay_ms": 200,
            "retry_max_delay_ms": MAX_DELAY_MS,
            "node_name": f"faults-{self.tag}-{len(self.daemons)}",
            "drain_timeout_s": 5,
            "log_level": "info",
            "log_format": "json",
            **settings,
        }
        env.update({f"WEBHOOKSD_{k.upper()}": str(v) for k, v in values.items()})
        return env

    async def bootstrap(self) -> None:
        """``webhooksd bootstrap --api-key``: the master account, before any daemon runs."""
        proc = await asyncio.create_subprocess_exec(
            bin_path("webhooksd"),
            "bootstrap",
            "--api-key",
            MASTER_KEY,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, out.decode(errors="replace")

    async def start(self, **settings: Any) -> DaemonProc:
        """Start a daemon and wait until it is ready."""
        daemon = DaemonProc(self.env(**settings), self.logs / f"daemon-{len(self.daemons)}.log")
        self.daemons.append(daemon)
        daemon.start()
        await daemon.wait_ready()
        return daemon

    async def api(self, daemon: DaemonProc) -> Api:
        api = Api(self.http, daemon.base)
        await api.login()
        return api

    async def close(self) -> None:
        for daemon in self.daemons:
            daemon.kill()
        await Cleanup(
            AMQP_URL,
            [self.shared_queue, self.retry_queue, *delay_buckets(self.retry_queue, MAX_DELAY_MS)],
        ).run()


@pytest.fixture(name="tag")
def _tag() -> str:
    """A unique suffix for this test's queues and database."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(name="store_url")
async def _store_url(tag: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    name = f"webhooksd_faults_{tag}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield PG_URL.rsplit("/", 1)[0] + "/" + name

    async def connect() -> asyncpg.Connection | None:
        try:
            return await asyncpg.connect(PG_URL)
        except (OSError, asyncpg.PostgresError):
            return None

    # PostgreSQL may just be coming back from a fault test: try for a while
    admin = await eventually(connect, timeout=30, what="PostgreSQL back, to drop the database")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(name="rig")
async def _rig(tag: str, store_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    """This test's daemons (bootstrapped; SIGKILLed at teardown) and their durable queues."""
    async with aiohttp.ClientSession() as http:
        rig = Rig(tag, store_url, tmp_path, http)
        try:
            await rig.bootstrap()
            yield rig
        finally:
            await rig.close()


@pytest.fixture(name="receivers")
async def _receivers() -> AsyncIterator[StartReceiver]:
    """Starts loopback receivers (``decide`` picks each answer); stops them all at the end."""
    started: list[Receiver] = []

    async def start(decide: Decide | None = None, sleep_s: float = 0.0) -> Receiver:
        receiver = Receiver(decide, sleep_s)
        await receiver.start()
        started.append(receiver)
        return receiver

    try:
        yield start
    finally:
        for receiver in started:
            await receiver.stop()


@pytest.fixture(name="kazoo")
async def _kazoo() -> AsyncIterator[Kazoo]:
    """Kazoo's publisher on a robust connection with publisher confirms (a mandatory publish
    that no queue takes raises, so that :meth:`Kazoo.publish` repeats it)."""
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        yield Kazoo(await connection.channel(on_return_raises=True))
