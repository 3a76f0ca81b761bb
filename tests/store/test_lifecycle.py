"""Conformance: opening, migrating and reopening a store, on every backend."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from webhooksd.records import AttemptSearch
from webhooksd.store import Store, open_store
from webhooksd.store._schema import MIGRATIONS, REALM_INDEX, latest

from .conftest import query
from .factories import account, attempt, hook

TABLES = {
    "accounts",
    "account_ancestors",
    "api_keys",
    "hooks",
    "attempts",
    "module_meta",
    "settings",
    "schema_version",
}


async def versions(url: str) -> list[int]:
    return [int(str(row[0])) for row in await query(url, "SELECT version FROM schema_version")]


async def test_open_creates_schema(store: Store, store_url: str) -> None:
    """A fresh store has every table and records each migration once."""
    assert await versions(store_url) == [v for v, _ in MIGRATIONS]
    assert max(await versions(store_url)) == latest()
    for table in TABLES:
        assert await query(store_url, f"SELECT COUNT(*) FROM {table}") is not None


async def test_reopen_keeps_data_and_migrates_once(store_url: str) -> None:
    """Opening an existing store again re-runs no migration and keeps every record."""
    async with open_store(store_url) as first:
        created = await first.create_account(account("a1"), api_key_hash="k")
        stored_hook = await first.create_hook(hook("h1", "a1"))
    async with open_store(store_url) as second:
        assert await second.get_account("a1") == created
        assert await second.account_by_api_key("k") == created
        assert await second.list_hooks("a1") == [stored_hook]
    assert await versions(store_url) == [v for v, _ in MIGRATIONS]


async def test_concurrent_first_opens_migrate_once(store_url: str) -> None:
    """Several instances opening one empty store at the same moment all start, migrating once."""
    async with AsyncExitStack() as stack:
        stores = await asyncio.gather(
            *(stack.enter_async_context(open_store(store_url)) for _ in range(4))
        )
        await stores[0].create_hook(hook("h1", "a1"))
        for other in stores[1:]:
            assert [h.id for h in await other.list_all_hooks(enabled_only=False)] == ["h1"]
    assert await versions(store_url) == [v for v, _ in MIGRATIONS]


#: what undoes migration 5 (the attempts' call_id and the search's indexes)
UNDO_CALL_ID = (
    "DROP INDEX attempts_account_call",
    "DROP INDEX attempts_account_event",
    "ALTER TABLE attempts DROP COLUMN call_id",
)


async def test_shared_key_migration_keeps_keys(store_url: str) -> None:
    """A store made before migration 2 (one account per key hash) keeps its keys after it."""
    async with open_store(store_url) as first:
        created = await first.create_account(account("a1"), api_key_hash="k")
    # put the store back as migration 1 left it: the old api_keys table, nothing after
    # version 1 recorded, and the later migrations' tables gone
    for sql in (
        "DROP TABLE api_keys",
        "CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, account_id TEXT NOT NULL UNIQUE)",
        "INSERT INTO api_keys (key_hash, account_id) VALUES ('k', 'a1')",
        "DROP TABLE store_heartbeats",
        f"DROP INDEX {REALM_INDEX}",
        *UNDO_CALL_ID,
        "DELETE FROM schema_version WHERE version >= 2",
    ):
        await query(store_url, sql)
    async with open_store(store_url) as second:
        assert await second.account_by_api_key("k") == created
        mirrored = account("a0", doc={"pvt_kazoo_rev": "1-a"})
        assert await second.put_mirrored_accounts([(mirrored, "k")]) == ["a0"]
        assert (await second.account_by_api_key("k") or created).id == "a0"
    assert await versions(store_url) == [v for v, _ in MIGRATIONS]


async def test_unique_realm_migration_keeps_the_first(store_url: str) -> None:
    """A store made before migration 4 may hold one realm (in any case) on several accounts:
    the first created keeps it, the others lose it, and the index then refuses duplicates."""
    async with open_store(store_url) as first:
        for account_id, created_ms in (("b2", 20), ("b1", 20), ("b0", 30)):
            await first.create_account(account(account_id, created_ms=created_ms))
    # the index was made by migration 4; without it the store is as before
    await query(store_url, f"DROP INDEX {REALM_INDEX}")
    for sql in UNDO_CALL_ID:
        await query(store_url, sql)
    await query(store_url, "DELETE FROM schema_version WHERE version >= 4")
    for account_id, realm in (("b1", "X.SIP"), ("b2", "x.sip"), ("b0", "x.Sip")):
        await query(store_url, f"UPDATE accounts SET realm = '{realm}' WHERE id = '{account_id}'")
    async with open_store(store_url) as second:
        realms = {a.id: a.realm for a in await second.list_accounts()}
    assert realms == {"b0": None, "b1": "X.SIP", "b2": None}
    assert await versions(store_url) == [v for v, _ in MIGRATIONS]


async def test_call_id_migration_keeps_old_attempts(store_url: str) -> None:
    """Attempts recorded before migration 5 keep reading back and have no call id (the search
    by call cannot find them); attempts recorded after it are found by call."""
    async with open_store(store_url) as first:
        await first.add_attempts([attempt("a1", "h1", 100, attempt_id="old", call_id="c1")])
    for sql in UNDO_CALL_ID:
        await query(store_url, sql)
    await query(store_url, "DELETE FROM schema_version WHERE version >= 5")
    async with open_store(store_url) as second:
        assert await query(store_url, "SELECT call_id FROM attempts") == [(None,)]
        await second.add_attempts([attempt("a1", "h1", 200, attempt_id="new", call_id="c1")])
        found = await second.list_attempts(
            "a1", created_from_ms=0, created_to_ms=1000, search=AttemptSearch(call_id="c1")
        )
        assert [a.id for a in found] == ["new"]
        old = await second.get_attempt("old")
        assert old is not None and old.doc["call_id"] == "c1"
    assert await versions(store_url) == [v for v, _ in MIGRATIONS]
