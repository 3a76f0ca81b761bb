"""What only one backend has: SQLite's URLs and pragmas, PostgreSQL's jsonb and errors."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import asyncpg
import pytest

from tests.waiting import eventually
from webhooksd.errors import StoreError
from webhooksd.store import open_store
from webhooksd.store.sqlite import SqliteStore, path_from_url

from .conftest import PG_URL, query
from .factories import account, hook


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/w.sqlite3", "var/w.sqlite3"),
        ("sqlite:////srv/w.sqlite3", "/srv/w.sqlite3"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_url_forms(url: str, path: str) -> None:
    """Relative, absolute and in-memory SQLite URLs name the right file."""
    assert path_from_url(url) == path


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/db", "file:///x"])
def test_sqlite_bad_urls(url: str) -> None:
    """A URL without a path is refused as a StoreError."""
    with pytest.raises(StoreError):
        path_from_url(url)


async def test_sqlite_relative_path_from_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative URL is resolved against the current directory, creating its directories."""
    monkeypatch.chdir(tmp_path)
    async with SqliteStore.open("sqlite:///deep/er/w.sqlite3") as store:
        await store.create_hook(hook("h1", "a1"))
    assert (tmp_path / "deep" / "er" / "w.sqlite3").is_file()


async def test_sqlite_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sqlite:///:memory:`` works and leaves no file behind."""
    monkeypatch.chdir(tmp_path)
    async with open_store("sqlite:///:memory:") as store:
        created = await store.create_hook(hook("h1", "a1"))
        assert await store.get_hook("h1") == created
    assert listing(tmp_path) == []


async def test_sqlite_wal_mode(tmp_path: Path) -> None:
    """The SQLite file is in WAL mode, so readers in other processes never block the writer."""
    path = tmp_path / "w.sqlite3"
    async with open_store(f"sqlite:///{path}"):
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_sqlite_unopenable_file(tmp_path: Path) -> None:
    """A path that cannot be a database file is a StoreError, not a crash."""
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError):
        async with open_store(f"sqlite:///{tmp_path / 'dir.sqlite3'}"):
            pass


async def test_postgres_unreachable() -> None:
    """A PostgreSQL server that refuses connections is a StoreError."""
    with pytest.raises(StoreError):
        async with open_store("postgresql://postgres@127.0.0.1:1/none"):
            pass


@pytest.mark.integration
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_postgres_documents_are_jsonb(store_url: str) -> None:
    """PostgreSQL keeps documents as jsonb, so they can be queried in the database."""
    async with open_store(store_url) as store:
        await store.create_hook(hook("h1", "a1", custom_data={"team": "blue"}))
    rows = await query(
        store_url, 'SELECT id FROM hooks WHERE doc @> \'{"custom_data": {"team": "blue"}}\''
    )
    assert rows == [("h1",)]
    types = await query(
        store_url,
        "SELECT DISTINCT data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND column_name IN ('doc', 'meta', 'value')",
    )
    assert types == [("jsonb",)]


@pytest.mark.integration
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_postgres_a_transaction_cancelled_midway_is_rolled_back_before_reuse(
    store_url: str,
) -> None:
    """The pool sends no reset query when a connection comes back (the store leaves no
    session state to reset), but a transaction a cancelled caller left midway is still
    rolled back: its first write is gone, and the next write on that connection (the pool
    hands out the last one returned) is committed, not swallowed by a transaction still
    open."""
    schema = dict(parse_qsl(urlsplit(store_url).query))["search_path"]
    async with open_store(store_url) as store:
        await store.create_account(account("a1"))
        blocker = await asyncpg.connect(PG_URL)
        try:
            await blocker.execute(f'SET search_path TO "{schema}"')
            await blocker.execute("BEGIN")
            await blocker.execute("SELECT 1 FROM accounts WHERE id = 'a1' FOR UPDATE")
            # a2 is written, then the upsert of a1 waits on the row lock
            mirror = [(account("a2"), None), (account("a1", name="renamed"), None)]
            task = asyncio.create_task(store.put_mirrored_accounts(mirror))
            waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))"
            pid = blocker.get_server_pid()
            await eventually(lambda: blocker.fetchval(waiting, pid), what="the upsert waiting")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await blocker.execute("ROLLBACK")
        finally:
            await blocker.close()
        assert await store.get_account("a2") is None
        await store.create_account(account("a3"))
        seen_outside = await query(store_url, "SELECT id, name FROM accounts ORDER BY id")
    assert seen_outside == [("a1", "account a1"), ("a3", "account a3")]


@pytest.mark.integration
async def test_postgres_ping_fails_as_a_store_error_once_the_database_is_gone() -> None:
    """What the listeners probe during an outage: a lost database is a StoreError (which
    requeues the event), never a crash and never a hang."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    from .conftest import PG_URL

    name = f"webhooksd_ping_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
        async with open_store(url) as store:
            await store.ping()
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            with pytest.raises(StoreError):
                await store.ping()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
