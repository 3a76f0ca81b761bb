"""The embedded store: SQLite through aiosqlite.

Stands in for Kazoo's CouchDB databases (``accounts``, ``webhooks``, the account MODbs'
attempts, ``system_config``) on one machine. One connection in autocommit mode; every
operation holds one asyncio.Lock, so no two coroutines ever interleave statements of a
transaction, and writes run as ``BEGIN IMMEDIATE`` so other processes on the same file wait
(``busy_timeout``) instead of failing half-way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiosqlite
import structlog

from webhooksd.errors import Conflict, NotFound, StoreError
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import (
    Account,
    AttemptRecord,
    AttemptSearch,
    FailureCount,
    HookActivity,
    HookDoc,
)
from webhooksd.store import HOOK_BATCH, _schema
from webhooksd.store._codec import (
    ACCOUNT_COLUMNS,
    ACTIVITY_SQL,
    ATTEMPT_COLUMNS,
    ATTEMPT_INSERT_COLUMNS,
    HOOK_COLUMNS,
    AttemptQuery,
    account_from_row,
    account_params,
    activity_from_row,
    activity_params,
    ancestor_rows,
    attempt_from_row,
    attempt_params,
    attempts_sql,
    check_revision,
    dumps,
    dumps_canonical,
    hook_from_row,
    hook_params,
    hooks_by_id,
    kazoo_generation,
    loads,
    stamp_new,
)
from webhooksd.store._sqlite_sql import fetch_all, one, rowcount, translated

#: an account copied from outside replaces the stored one unless that one came from a newer
#: Kazoo revision; the local revision still counts every write (API edits check it)
_MIRROR_UPSERT = (
    f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4,"
    " CASE WHEN EXISTS (SELECT 1 FROM accounts o WHERE lower(o.realm) = lower(?5)"
    " AND o.id <> ?1) THEN NULL ELSE ?5 END, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
    " parent_id = excluded.parent_id, tree = excluded.tree, realm = excluded.realm,"
    " is_reseller = excluded.is_reseller, enabled = excluded.enabled,"
    " doc = excluded.doc, created_ms = excluded.created_ms,"
    " modified_ms = excluded.modified_ms, revision = accounts.revision + 1"
    # the generation of Kazoo's _rev ("743-4867…" → 743; none stored: any copy wins)
    " WHERE COALESCE(CAST(json_extract(accounts.doc, '$.pvt_kazoo_rev') AS INTEGER), -1)"
    " <= CAST(json_extract(excluded.doc, '$.pvt_kazoo_rev') AS INTEGER)"
)

log = structlog.get_logger(__name__)

#: ``resp_status_code`` of an attempt's doc as text (as the search compares it), whether a
#: record holds it as a string (ours, Kazoo's) or a number
_STATUS_SQL = "CAST(json_extract(doc, '$.resp_status_code') AS TEXT)"

_PREFIX = "sqlite:///"
_BUSY_TIMEOUT_MS = 10_000

#: the room the write probe takes: a batch of attempts with their payloads
_PROBE_ROOM_BYTES = 64 * 1024
_PROBE_ROOM_SQL = (
    f"INSERT INTO attempts ({ATTEMPT_COLUMNS})"
    " VALUES ('~write-probe', '', '', '', 0, 'probe', 0, '{}', zeroblob(?))"
)
#: rows one multi-row INSERT takes (10 parameters each, SQLite allows 32,766); a larger
#: batch is written as a transaction of single-row inserts
_ATTEMPTS_PER_STATEMENT = 1_000
_ATTEMPT_ROW = f"({', '.join('?' * 10)})"


def _attempts_insert(rows: int) -> str:
    """``INSERT`` of ``rows`` attempts (sqlite3 caches the prepared statement of each text)."""
    return (
        f"INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) VALUES {', '.join([_ATTEMPT_ROW] * rows)}"
    )


_HEARTBEAT_SQL = (
    "INSERT INTO store_heartbeats (instance, beat_ms) VALUES (?, ?)"
    " ON CONFLICT (instance) DO UPDATE SET beat_ms = excluded.beat_ms"
)


def path_from_url(url: str) -> str:
    """``sqlite:///rel/path`` → ``rel/path``, ``sqlite:////abs`` → ``/abs``, or ``:memory:``."""
    if not url.startswith(_PREFIX) or len(url) == len(_PREFIX):
        raise StoreError(f"not a SQLite URL (sqlite:///path or sqlite:///:memory:): {url!r}")
    return url[len(_PREFIX) :]


def _prepare_file(path: str) -> None:
    """Create the file's directory; refuse a directory here, because aiosqlite's worker thread
    dies noisily when its open fails."""
    if Path(path).is_dir():
        raise StoreError(f"sqlite path {path!r} is a directory")
    Path(path).parent.mkdir(parents=True, exist_ok=True)


class SqliteStore:
    """:class:`webhooksd.store.Store` on one SQLite file (or ``:memory:``)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[SqliteStore]:
        """Open (creating the file and its directory), migrate, and close on exit."""
        path = path_from_url(url)
        if path != ":memory:":
            _prepare_file(path)
        with translated():
            conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            store = cls(conn)
            await store._start()
            yield store
        finally:
            await conn.close()

    async def _start(self) -> None:
        async with self._read() as conn:
            await conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        # switching to WAL needs an exclusive lock, and SQLite answers "locked" at once (no
        # busy wait) when several processes race to do it on a new file: try a few times
        for pause in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 0):
            try:
                async with self._read() as conn:
                    await conn.execute("PRAGMA journal_mode = WAL")
                    await conn.execute("PRAGMA synchronous = NORMAL")
                break
            except StoreError:
                if not pause:
                    raise
                await asyncio.sleep(pause)
        async with self._write() as conn:
            await conn.execute(_schema.SCHEMA_VERSION_TABLE)
            row = await one(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version")
            current = row[0] if row else 0
            for version, statements in _schema.pending(
                current, dialect="sqlite", json_type="TEXT", collate=""
            ):
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, now_ms()))
                log.info("store migrated", backend="sqlite", version=version)
        if current > _schema.latest():
            log.warning("store schema is newer than this daemon", version=current)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            with translated():
                yield self._conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            with translated():
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    await self._conn.execute("COMMIT")
                finally:
                    # whatever escaped the body (Conflict, cancellation) undoes the transaction
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")

    # -- accounts --------------------------------------------------------------------------
    async def create_account(self, account: Account, api_key_hash: str | None = None) -> Account:
        stored = stamp_new(account, now_ms())
        async with self._write() as conn:
            inserted = await rowcount(
                conn,
                f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ({', '.join('?' * 11)})"
                " ON CONFLICT (id) DO NOTHING",
                account_params(stored),
            )
            if not inserted:
                raise Conflict(f"account {account.id} exists")
            await self._put_ancestors(conn, stored)
            if api_key_hash is not None:
                await self._put_api_key(conn, stored.id, api_key_hash)
        return stored

    async def get_account(self, account_id: str) -> Account | None:
        async with self._read() as conn:
            sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"
            row = await one(conn, sql, (account_id,))
        return None if row is None else account_from_row(row)

    async def update_account(self, account: Account) -> Account:
        async with self._write() as conn:
            params = account_params(replace(account, modified_ms=now_ms()))
            row = await one(
                conn,
                "UPDATE accounts SET name = ?, parent_id = ?, tree = ?, realm = ?,"
                " is_reseller = ?, enabled = ?, doc = ?, modified_ms = ?,"
                " revision = revision + 1 WHERE id = ? AND revision = ?"
                f" RETURNING {ACCOUNT_COLUMNS}",
                (*params[1:8], params[9], account.id, account.revision),
            )
            if row is None:
                sql = "SELECT revision FROM accounts WHERE id = ?"
                found = await one(conn, sql, (account.id,))
                revision = None if found is None else found[0]
                check_revision("account", account.id, revision, account.revision)
            stored = account_from_row(row)
            await self._put_ancestors(conn, stored)
        return stored

    async def delete_account(self, account_id: str) -> bool:
        async with self._write() as conn:
            existed = await rowcount(conn, "DELETE FROM accounts WHERE id = ?", (account_id,))
            for sql in (
                "DELETE FROM account_ancestors WHERE account_id = ?",
                "DELETE FROM api_keys WHERE account_id = ?",
                "DELETE FROM settings WHERE scope = ?",
                "DELETE FROM hooks WHERE account_id = ?",
            ):
                await conn.execute(sql, (account_id,))
        return existed > 0

    async def list_accounts(self) -> list[Account]:
        return await self._accounts_where("1 = 1", ())

    async def count_accounts(self) -> int:
        async with self._read() as conn:
            row = await one(conn, "SELECT COUNT(*) FROM accounts")
        return int(row[0]) if row else 0

    async def list_children(self, account_id: str) -> list[Account]:
        return await self._accounts_where("parent_id = ?", (account_id,))

    async def list_descendants(self, account_id: str) -> list[Account]:
        where = "id IN (SELECT account_id FROM account_ancestors WHERE ancestor_id = ?)"
        return await self._accounts_where(where, (account_id,))

    async def set_api_key(self, account_id: str, api_key_hash: str) -> None:
        async with self._write() as conn:
            if await one(conn, "SELECT 1 FROM accounts WHERE id = ?", (account_id,)) is None:
                raise NotFound(f"account {account_id} does not exist")
            await self._put_api_key(conn, account_id, api_key_hash)

    async def account_by_api_key(self, api_key_hash: str) -> Account | None:
        where = (
            "id = (SELECT account_id FROM api_keys WHERE key_hash = ? ORDER BY account_id LIMIT 1)"
        )
        found = await self._accounts_where(where, (api_key_hash,))
        return found[0] if found else None

    async def _log_dropped_realms(
        self, conn: aiosqlite.Connection, accounts: Sequence[Account]
    ) -> None:
        for start in range(0, len(accounts), 500):
            chunk = {account.id: account for account in accounts[start : start + 500]}
            sql = (
                "SELECT id FROM accounts WHERE realm IS NULL"
                f" AND id IN ({', '.join('?' * len(chunk))})"
            )
            for row in await fetch_all(conn, sql, list(chunk)):
                realm = chunk[row[0]].realm
                log.warning(_schema.REALM_DROPPED, account_id=row[0], realm=realm)

    async def put_mirrored_accounts(
        self, accounts: Sequence[tuple[Account, str | None]]
    ) -> list[str]:
        now = now_ms()
        async with self._write() as conn:
            # the stored revisions first, then every write as one executemany: a statement
            # per row costs a thread hop each, which made 10,000 accounts take seconds
            stored: dict[str, int] = {}
            ids = [account.id for account, _ in accounts]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                sql = (
                    "SELECT id, COALESCE(CAST(json_extract(doc, '$.pvt_kazoo_rev') AS INTEGER),"
                    f" -1) FROM accounts WHERE id IN ({', '.join('?' * len(chunk))})"
                )
                stored.update((row[0], row[1]) for row in await fetch_all(conn, sql, chunk))
            fresh = [
                (
                    replace(
                        account,
                        created_ms=account.created_ms or now,
                        modified_ms=account.modified_ms or now,
                    ),
                    key_hash,
                )
                for account, key_hash in accounts
                if stored.get(account.id, -1) <= kazoo_generation(account)
            ]
            written = [(account.id,) for account, _ in fresh]
            await conn.executemany(_MIRROR_UPSERT, [account_params(a) for a, _ in fresh])
            await self._log_dropped_realms(conn, [a for a, _ in fresh if a.realm])
            await conn.executemany("DELETE FROM account_ancestors WHERE account_id = ?", written)
            await conn.executemany(
                "INSERT INTO account_ancestors (account_id, ancestor_id) VALUES (?, ?)",
                [row for account, _ in fresh for row in ancestor_rows(account)],
            )
            await conn.executemany("DELETE FROM api_keys WHERE account_id = ?", written)
            await conn.executemany(
                "INSERT INTO api_keys (key_hash, account_id) VALUES (?, ?)",
                [(key, account.id) for account, key in fresh if key is not None],
            )
        return [account.id for account, _ in fresh]

    async def _accounts_where(self, where: str, params: Sequence[Any]) -> list[Account]:
        async with self._read() as conn:
            sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {where} ORDER BY id"
            return [account_from_row(row) for row in await fetch_all(conn, sql, params)]

    @staticmethod
    async def _put_ancestors(conn: aiosqlite.Connection, account: Account) -> None:
        await conn.execute("DELETE FROM account_ancestors WHERE account_id = ?", (account.id,))
        await conn.executemany(
            "INSERT INTO account_ancestors (account_id, ancestor_id) VALUES (?, ?)",
            ancestor_rows(account),
        )

    @staticmethod
    async def _put_api_key(conn: aiosqlite.Connection, account_id: str, key_hash: str) -> None:
        sql = "SELECT 1 FROM api_keys WHERE key_hash = ? AND account_id <> ?"
        if await one(conn, sql, (key_hash, account_id)) is not None:
            raise Conflict("that API key belongs to another account")
        await conn.execute("DELETE FROM api_keys WHERE account_id = ?", (account_id,))
        sql = "INSERT INTO api_keys (key_hash, account_id) VALUES (?, ?)"
        await conn.execute(sql, (key_hash, account_id))

    # -- hooks -----------------------------------------------------------------------------
    async def create_hook(self, hook: HookDoc) -> HookDoc:
        stored = stamp_new(hook, now_ms())
        async with self._write() as conn:
            inserted = await rowcount(
                conn,
                f"INSERT INTO hooks ({HOOK_COLUMNS}, enabled) VALUES ({', '.join('?' * 8)})"
                " ON CONFLICT (id) DO NOTHING",
                hook_params(stored),
            )
        if not inserted:
            raise Conflict(f"hook {hook.id} exists")
        return stored

    async def get_hook(self, hook_id: str) -> HookDoc | None:
        async with self._read() as conn:
            row = await one(conn, f"SELECT {HOOK_COLUMNS} FROM hooks WHERE id = ?", (hook_id,))
        return None if row is None else hook_from_row(row)

    async def update_hook(self, hook: HookDoc) -> HookDoc:
        params = hook_params(replace(hook, modified_ms=now_ms()))
        async with self._write() as conn:
            row = await one(
                conn,
                "UPDATE hooks SET account_id = ?, doc = ?, disabled_reason = ?, enabled = ?,"
                " modified_ms = ?, revision = revision + 1 WHERE id = ? AND revision = ?"
                f" RETURNING {HOOK_COLUMNS}",
                (*params[1:4], params[7], params[5], hook.id, hook.revision),
            )
            if row is None:
                found = await one(conn, "SELECT revision FROM hooks WHERE id = ?", (hook.id,))
                check_revision("hook", hook.id, None if found is None else found[0], hook.revision)
        return hook_from_row(row)

    async def delete_hook(self, hook_id: str) -> HookDoc | None:
        async with self._write() as conn:
            sql = f"DELETE FROM hooks WHERE id = ? RETURNING {HOOK_COLUMNS}"
            row = await one(conn, sql, (hook_id,))
        return None if row is None else hook_from_row(row)

    async def list_hooks(self, account_id: str) -> list[HookDoc]:
        sql = f"SELECT {HOOK_COLUMNS} FROM hooks WHERE account_id = ? ORDER BY id"
        async with self._read() as conn:
            return [hook_from_row(row) for row in await fetch_all(conn, sql, (account_id,))]

    async def list_all_hooks(self, *, enabled_only: bool) -> list[HookDoc]:
        """Every hook (or every enabled one), in no particular order: sorting 100k rows
        would cost start-up time for a caller that files them into a table anyway."""
        where = " WHERE enabled" if enabled_only else ""
        async with self._read() as conn:
            rows = await fetch_all(conn, f"SELECT {HOOK_COLUMNS} FROM hooks{where}")
            return [hook_from_row(row) for row in rows]

    async def hook_batches(
        self, *, enabled_only: bool, size: int = HOOK_BATCH
    ) -> AsyncIterator[list[HookDoc]]:
        enabled = " AND enabled" if enabled_only else ""
        sql = f"SELECT {HOOK_COLUMNS} FROM hooks WHERE id > ?{enabled} ORDER BY id LIMIT ?"

        async def fetch(after: str) -> list[Any]:
            async with self._read() as conn:
                return list(await fetch_all(conn, sql, (after, size)))

        async for batch in hooks_by_id(fetch):
            yield batch

    async def delete_account_hooks(self, account_id: str) -> list[str]:
        async with self._write() as conn:
            sql = "DELETE FROM hooks WHERE account_id = ? RETURNING id"
            rows = await fetch_all(conn, sql, (account_id,))
        return sorted(row[0] for row in rows)

    # -- attempts --------------------------------------------------------------------------
    async def add_attempts(self, attempts: Sequence[AttemptRecord]) -> None:
        if not attempts:
            return
        if len(attempts) > _ATTEMPTS_PER_STATEMENT:
            async with self._write() as conn:
                await conn.executemany(_attempts_insert(1), [attempt_params(a) for a in attempts])
            return
        # One statement is one transaction in autocommit mode, atomic as BEGIN … COMMIT is,
        # and one trip to SQLite's thread instead of three (BEGIN, the rows, COMMIT). It
        # takes the write lock when it starts (busy_timeout waits for other processes): with
        # no read before the write, BEGIN IMMEDIATE would gain nothing.
        params = [value for attempt in attempts for value in attempt_params(attempt)]
        async with self._read() as conn:
            await conn.execute(_attempts_insert(len(attempts)), params)

    async def list_attempts(
        self,
        account_id: str,
        *,
        hook_id: str | None = None,
        created_from_ms: int,
        created_to_ms: int,
        descending: bool = True,
        after: tuple[int, str] | None = None,
        limit: int = 50,
        search: AttemptSearch | None = None,
    ) -> list[AttemptRecord]:
        sql, params = attempts_sql(
            AttemptQuery(
                account_id=account_id,
                hook_id=hook_id,
                created_from_ms=created_from_ms,
                created_to_ms=created_to_ms,
                descending=descending,
                after=after,
                limit=limit,
                search=search,
            ),
            status_sql=_STATUS_SQL,
        )
        async with self._read() as conn:
            return [attempt_from_row(row) for row in await fetch_all(conn, sql, params)]

    async def get_attempt(self, attempt_id: str) -> AttemptRecord | None:
        sql = f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = ?"
        async with self._read() as conn:
            row = await one(conn, sql, (attempt_id,))
        return None if row is None else attempt_from_row(row)

    async def count_failures(
        self, since_ms: int, *, account_id: str | None = None
    ) -> list[FailureCount]:
        where, params = "counts_as_failure AND created_ms > ?", list[Any]([since_ms])
        if account_id is not None:
            where += " AND account_id = ?"
            params.append(account_id)
        sql = (
            f"SELECT account_id, hook_id, COUNT(*) FROM attempts WHERE {where}"
            " GROUP BY account_id, hook_id ORDER BY account_id, hook_id"
        )
        async with self._read() as conn:
            rows = await fetch_all(conn, sql, params)
        return [FailureCount(account_id=r[0], hook_id=r[1], count=r[2]) for r in rows]

    async def hook_activity(
        self, account_id: str, *, since_ms: int, hour_from_ms: int, recent: int
    ) -> list[HookActivity]:
        params = activity_params(account_id, since_ms, hour_from_ms, recent)
        async with self._read() as conn:
            rows = await fetch_all(conn, ACTIVITY_SQL, params)
        return [activity_from_row(row) for row in rows]

    async def flush_failures(self, account_id: str, hook_id: str | None = None) -> int:
        where, params = "counts_as_failure AND account_id = ?", [account_id]
        if hook_id is not None:
            where += " AND hook_id = ?"
            params.append(hook_id)
        async with self._write() as conn:
            sql = f"UPDATE attempts SET counts_as_failure = 0 WHERE {where}"
            return await rowcount(conn, sql, params)

    async def ping(self) -> None:
        async with self._read() as conn:
            await one(conn, "SELECT 1", ())

    async def probe_write(self, instance: str) -> None:
        async with self._write() as conn:
            # Updating a small row rewrites a page SQLite already has, so it succeeds on a
            # full database (or one at max_page_count) where new attempts fail: take room for
            # an attempt in the attempts table itself, then give it back. Nothing of it is
            # committed, so the probe never grows the file.
            await conn.execute("SAVEPOINT probe_room")
            await conn.execute(_PROBE_ROOM_SQL, (_PROBE_ROOM_BYTES,))
            await conn.execute("ROLLBACK TO probe_room")
            await conn.execute("RELEASE probe_room")
            await conn.execute(_HEARTBEAT_SQL, (instance, now_ms()))

    async def prepare_attempts(self, now_ms: int, days_ahead: int) -> list[str]:
        # one table: retention deletes rows, which SQLite does in place at this scale
        return []

    async def prune_attempts(self, older_than_ms: int) -> int:
        async with self._write() as conn:
            sql = "DELETE FROM attempts WHERE created_ms < ?"
            return await rowcount(conn, sql, (older_than_ms,))

    # -- hook-module metadata --------------------------------------------------------------
    async def list_module_meta(self) -> dict[str, dict[str, Any]]:
        async with self._read() as conn:
            rows = await fetch_all(conn, "SELECT id, meta FROM module_meta ORDER BY id")
        return {row[0]: loads(row[1]) for row in rows}

    async def put_module_meta(self, module_id: str, meta: Mapping[str, Any]) -> bool:
        # canonical JSON makes "unchanged" a text comparison the upsert can do itself
        sql = (
            "INSERT INTO module_meta (id, meta) VALUES (?, ?) ON CONFLICT (id) DO UPDATE"
            " SET meta = excluded.meta WHERE module_meta.meta IS NOT excluded.meta"
        )
        async with self._write() as conn:
            return await rowcount(conn, sql, (module_id, dumps_canonical(meta))) > 0

    async def delete_module_meta(self, module_id: str) -> bool:
        async with self._write() as conn:
            sql = "DELETE FROM module_meta WHERE id = ?"
            return await rowcount(conn, sql, (module_id,)) > 0

    # -- settings --------------------------------------------------------------------------
    async def get_settings(self, scope: str) -> dict[str, Any]:
        async with self._read() as conn:
            sql = "SELECT key, value FROM settings WHERE scope = ? ORDER BY key"
            rows = await fetch_all(conn, sql, (scope,))
        return {row[0]: loads(row[1]) for row in rows}

    async def set_setting(self, scope: str, key: str, value: Any) -> None:
        sql = (
            "INSERT INTO settings (scope, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value"
        )
        async with self._write() as conn:
            await conn.execute(sql, (scope, key, dumps(value)))

    async def setdefault_setting(self, scope: str, key: str, value: Any) -> Any:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO settings (scope, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (scope, key, dumps(value)),
            )
            sql = "SELECT value FROM settings WHERE scope = ? AND key = ?"
            row = await one(conn, sql, (scope, key))
        if row is None:  # only if another process deleted it between the two statements
            raise StoreError(f"setting {scope}/{key} vanished")
        return loads(row[0])

    async def take_setting(self, scope: str, key: str) -> Any:
        sql = "DELETE FROM settings WHERE scope = ? AND key = ? RETURNING value"
        async with self._write() as conn:
            row = await one(conn, sql, (scope, key))
        return None if row is None else loads(row[0])
