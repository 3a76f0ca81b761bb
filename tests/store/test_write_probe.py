"""Conformance: the write probe — a heartbeat per instance, and a StoreError whenever the store
can read but not write (a full SQLite file, a read-only PostgreSQL database)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.waiting import eventually
from tests.write_outage import postgres_read_only, sqlite_full
from webhooksd.errors import StoreError
from webhooksd.store import SYSTEM, Store, open_store

from .conftest import PG_URL, query
from .factories import attempt, hook


async def _beats(store_url: str) -> dict[str, int]:
    rows = await query(store_url, "SELECT instance, beat_ms FROM store_heartbeats")
    return {str(instance): int(str(beat)) for instance, beat in rows}


async def test_probe_write_keeps_one_heartbeat_per_instance(store: Store, store_url: str) -> None:
    """Each probe upserts its instance's row with the time; nothing else is left behind."""
    await store.probe_write("node-a")
    await store.probe_write("node-b")
    first = await _beats(store_url)
    await store.probe_write("node-a")
    beats = await _beats(store_url)
    assert sorted(beats) == ["node-a", "node-b"]
    assert beats["node-a"] >= first["node-a"] > 0
    assert beats["node-b"] == first["node-b"]
    assert await query(store_url, "SELECT COUNT(*) FROM attempts") == [(0,)]


async def test_sqlite_full_fails_the_probe_while_reads_and_small_writes_work(
    tmp_path: Path,
) -> None:
    """At its page limit SQLite answers reads, and even an upsert of a small row that fits in
    a page it has: only a write that needs room fails, with SQLite's own SQLITE_FULL. The probe
    asks for room as attempts need it, so it fails then; and it never grows the file."""
    async with open_store(f"sqlite:///{tmp_path}/full.sqlite3") as store:
        await store.create_hook(hook("h1", "a1"))
        await store.probe_write("node-a")
        async with sqlite_full(store):
            with pytest.raises(StoreError, match="database or disk is full"):
                await store.probe_write("node-a")
            assert await store.get_hook("h1") is not None
            await store.ping()
            await store.set_setting(SYSTEM, "small", 1)  # why a heartbeat alone is not enough
            with pytest.raises(StoreError, match="database or disk is full"):
                # attempts as a busy daemon writes them: a batch of 100 with payloads
                await store.add_attempts(
                    [
                        attempt("a1", "h1", t, attempt_id=f"x{t}", payload={"p": "x" * 1000})
                        for t in range(100)
                    ]
                )
        await store.probe_write("node-a")
        assert await store.list_attempts("a1", created_from_ms=0, created_to_ms=10**6) == []


@pytest.fixture(name="own_pg_url")
async def _own_pg_url() -> AsyncIterator[str]:
    """A PostgreSQL database of this test alone (a setting of the database is changed)."""
    name = f"webhooksd_probe_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _probe_error(store: Store) -> str:
    try:
        await store.probe_write("node-a")
    except StoreError as exc:
        return str(exc)
    return ""


@pytest.mark.integration
async def test_postgres_read_only_fails_the_probe_while_reads_work(own_pg_url: str) -> None:
    """A read-only PostgreSQL database fails the probe (and every write) with the server's
    own error while reads go on; once writable again the probe passes."""
    async with open_store(own_pg_url) as store:
        await store.create_hook(hook("h1", "a1"))
        await store.probe_write("node-a")
        async with postgres_read_only(own_pg_url):
            # the pool finds its ended sessions (a first error says so) and reconnects under
            # the new setting
            await eventually(lambda: _refused(store), timeout=10, what="the probe refused")
            assert await store.get_hook("h1") is not None
            await store.ping()
            with pytest.raises(StoreError, match="read-only transaction"):
                await store.add_attempts([attempt("a1", "h1", 1)])
        await eventually(lambda: _passes(store), timeout=10, what="the probe passing again")


async def _refused(store: Store) -> bool:
    return "read-only transaction" in await _probe_error(store)


async def _passes(store: Store) -> bool:
    return await _probe_error(store) == ""
