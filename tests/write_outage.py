"""A store that reads but cannot write, made with real parts and undone afterwards.

- SQLite: ``PRAGMA max_page_count`` lowered to the file's size on the store's own connection
  (the limit is per connection), so every write that needs a new page fails with SQLite's own
  ``SQLITE_FULL`` ("database or disk is full") while every read works — a full disk as the
  store sees it.
- PostgreSQL: ``default_transaction_read_only`` switched on for the test's own database (what
  managed PostgreSQL services do when its storage fills up), then that database's sessions
  ended so the store's pool reconnects under it. Only that database is touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg

from tests.conftest import PG_URL
from webhooksd.store import Store
from webhooksd.store.sqlite import SqliteStore

#: SQLite's own limit, the default of ``max_page_count``
_SQLITE_MAX_PAGES = 4294967294


async def _sqlite_limit(store: SqliteStore, pages: int | None) -> int:
    """Set the store connection's page limit (None: the file's size now); returns it."""
    # the store's connection and lock: the limit is a setting of that connection alone
    async with store._read() as conn:
        if pages is None:
            async with conn.execute("PRAGMA page_count") as cursor:
                row = await cursor.fetchone()
            assert row is not None
            pages = int(row[0])
        async with conn.execute(f"PRAGMA max_page_count = {pages}") as cursor:
            row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


@asynccontextmanager
async def sqlite_full(store: Store) -> AsyncIterator[None]:
    """The SQLite store is full until the block ends."""
    assert isinstance(store, SqliteStore)
    await _sqlite_limit(store, None)
    try:
        yield
    finally:
        await _sqlite_limit(store, _SQLITE_MAX_PAGES)


async def _end_sessions(admin: asyncpg.Connection, database: str) -> None:
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )


@asynccontextmanager
async def postgres_read_only(store_url: str) -> AsyncIterator[None]:
    """The test's own PostgreSQL database (named by ``store_url``) accepts no write until the
    block ends; its open sessions are ended at the start and at the end."""
    database = urlsplit(store_url).path.lstrip("/")
    assert database.startswith("webhooksd_"), f"not a test database: {database!r}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        await _end_sessions(admin, database)
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
            await _end_sessions(admin, database)
    finally:
        await admin.close()


@asynccontextmanager
async def write_outage(store: Store, store_url: str) -> AsyncIterator[None]:
    """The store named by ``store_url`` reads but cannot write until the block ends."""
    outage = sqlite_full(store) if store_url.startswith("sqlite") else postgres_read_only(store_url)
    async with outage:
        yield
