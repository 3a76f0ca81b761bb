"""Fixtures every test package may use: a real loopback HTTP receiver and service URLs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import settings
from multidict import CIMultiDict

from tests.couch import CouchServer
from tests.loopback import serving

# Property tests draw new examples on every run, so one could turn a clean CI run red by chance
# (one did: a float tie). CI runs the same fixed examples each time; a developer's run keeps
# exploring (an example it finds is pinned with ``@example`` or a parametrized test).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

AMQP_URL = os.environ.get("WEBHOOKSD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_URL = os.environ.get("WEBHOOKSD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class Receiver:
    """A real aiohttp server on 127.0.0.1 that records requests and answers ``status``."""

    url: str = ""
    status: int = 200
    #: when set, decides each answer from the request (else ``status``)
    decide: Callable[[Received], int] | None = None
    requests: list[Received] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``count`` requests arrived; return them all."""
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.requests) >= count), timeout
            )
        return list(self.requests)


@pytest.fixture(name="couch_server")
async def _couch_server(tmp_path: Path) -> AsyncIterator[CouchServer]:
    """A fresh pouchdb-server (in memory) for this test, stopped afterwards."""
    server = CouchServer(tmp_path / "pouchdb")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(name="receiver")
async def _receiver() -> AsyncIterator[Receiver]:
    """A loopback HTTP receiver recording every request (status settable per test)."""
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        got = Received(
            request.method, request.path, request.query_string, CIMultiDict(request.headers), body
        )
        async with state.arrived:
            state.requests.append(got)
            state.arrived.notify_all()
        status = state.decide(got) if state.decide is not None else state.status
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        state.url = url
        yield state
