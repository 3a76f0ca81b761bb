"""The shared store: PostgreSQL through an asyncpg pool.

Stands in for Kazoo's CouchDB cluster (``accounts``, ``webhooks``, the account MODbs'
attempts, ``system_config``) when many webhooksd instances share the work. Documents are
``jsonb``; every multi-statement operation is one transaction on one pooled connection, and
races between instances are settled by the database (conditional UPDATEs on ``revision``,
``ON CONFLICT``), never by reading and then writing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Final

import asyncpg
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
from webhooksd.store import HOOK_BATCH, _postgres_partitions, _schema
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
    hook_from_row,
    hook_params,
    hooks_by_id,
    loads,
    stamp_new,
)
from webhooksd.store._postgres_sql import MIGRATION_LOCK, affected, numbered, translated, values

#: an account copied from outside replaces the stored one unless that one came from a newer
#: Kazoo revision; the local revision still counts every write (API edits check it)
_MIRROR_UPSERT = (
    f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4,"
    " CASE WHEN EXISTS (SELECT 1 FROM accounts o WHERE lower(o.realm) = lower($5)"
    " AND o.id <> $1) THEN NULL ELSE $5 END, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
    " parent_id = excluded.parent_id, tree = excluded.tree, realm = excluded.realm,"
    " is_reseller = excluded.is_reseller, enabled = excluded.enabled,"
    " doc = excluded.doc, created_ms = excluded.created_ms,"
    " modified_ms = excluded.modified_ms, revision = accounts.revision + 1"
    # the generation of Kazoo's _rev ("743-4867…" → 743; none stored: any copy wins)
    " WHERE COALESCE(NULLIF(split_part(accounts.doc->>'pvt_kazoo_rev', '-', 1), '')::bigint, -1)"
    " <= NULLIF(split_part(excluded.doc->>'pvt_kazoo_rev', '-', 1), '')::bigint"
    " RETURNING realm"
)

#: each attempt column's type, to pass a batch as one array per column
_ATTEMPT_TYPES: Final = {
    "id": "text",
    "account_id": "text",
    "hook_id": "text",
    "event_id": "text",
    "created_ms": "bigint",
    "result": "text",
    "counts_as_failure": "boolean",
    "doc": "jsonb",
    "payload": "jsonb",
    "call_id": "text",
}
#: a batch of attempts as one statement whatever its size: one round trip instead of BEGIN,
#: a bind and execute per row and COMMIT (a statement is atomic by itself), and one SQL text,
#: so asyncpg prepares it once per connection. ``doc`` and ``payload`` go as the JSON text
#: ``attempt_params`` made (no codec is set: asyncpg prefixes jsonb's version byte, no more)
_ADD_ATTEMPTS: Final = (
    f"INSERT INTO attempts ({ATTEMPT_INSERT_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(
        f"${i}::{_ATTEMPT_TYPES[column.strip()]}[]"
        for i, column in enumerate(ATTEMPT_INSERT_COLUMNS.split(","), 1)
    )
    + ")"
)

#: an id made by ``new_time_ordered_id``: 12 hex digits of created_ms, then 20 more
_TIME_ORDERED = re.compile(r"([0-9a-f]{12})[0-9a-f]{20}")

log = structlog.get_logger(__name__)

#: ``resp_status_code`` of an attempt's doc as text (as the search compares it), whether a
#: record holds it as a string (ours, Kazoo's) or a number
_STATUS_SQL = "(doc ->> 'resp_status_code')"


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection's reset on its way back to the pool: nothing to send.

    asyncpg's default sends one more query per use (``pg_advisory_unlock_all``, ``CLOSE
    ALL``, ``UNLISTEN *``, ``RESET ALL``): a round trip on every attempt batch. This store
    leaves no session state behind: its locks are transaction-level
    (``pg_advisory_xact_lock``), its settings ``SET LOCAL``, it opens no cursor outside a
    transaction and listens to nothing. A transaction left open (a caller cancelled inside
    one) is still rolled back: asyncpg does that before calling this.
    """


class PostgresStore:
    """:class:`webhooksd.store.Store` on a PostgreSQL database (or schema: ``search_path``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[PostgresStore]:
        """Connect a pool to ``url``, migrate the schema, and close the pool on exit.

        Query parameters of ``url`` other than libpq's are server settings, so
        ``?search_path=tenant`` puts the tables in schema ``tenant``.
        """
        try:
            with translated():
                pool = await asyncpg.create_pool(url, min_size=1, max_size=10, reset=_keep_session)
        except ValueError as exc:  # asyncpg's answer to a malformed DSN
            raise StoreError(f"postgresql: {exc}") from exc
        try:
            store = cls(pool)
            await store._migrate()
            yield store
        finally:
            await pool.close()

    async def _migrate(self) -> None:
        # DDL is transactional in PostgreSQL; the advisory lock makes a second instance
        # starting at the same moment wait, then find nothing left to do
        async with self._tx() as conn:
            await conn.execute(MIGRATION_LOCK)
            await conn.execute(_schema.SCHEMA_VERSION_TABLE)
            current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            for version, statements in _schema.pending(
                current, dialect="postgresql", json_type="jsonb", collate=' COLLATE "C"'
            ):
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version VALUES ($1, $2)", version, now_ms())
                log.info("store migrated", backend="postgresql", version=version)
        if current > _schema.latest():
            log.warning("store schema is newer than this daemon", version=current)

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        with translated():
            async with self._pool.acquire() as conn:
                yield conn

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Any]:
        with translated():
            async with self._pool.acquire() as conn, conn.transaction():
                yield conn

    # -- accounts --------------------------------------------------------------------------
    async def create_account(self, account: Account, api_key_hash: str | None = None) -> Account:
        stored = stamp_new(account, now_ms())
        async with self._tx() as conn:
            status = await conn.execute(
                f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ({values(11)})"
                " ON CONFLICT (id) DO NOTHING",
                *account_params(stored),
            )
            if not affected(status):
                raise Conflict(f"account {account.id} exists")
            await self._put_ancestors(conn, stored)
            if api_key_hash is not None:
                await self._put_api_key(conn, stored.id, api_key_hash)
        return stored

    async def get_account(self, account_id: str) -> Account | None:
        found = await self._accounts_where("id = $1", (account_id,))
        return found[0] if found else None

    async def update_account(self, account: Account) -> Account:
        params = account_params(replace(account, modified_ms=now_ms()))
        async with self._tx() as conn:
            row = await conn.fetchrow(
                "UPDATE accounts SET name = $1, parent_id = $2, tree = $3, realm = $4,"
                " is_reseller = $5, enabled = $6, doc = $7, modified_ms = $8,"
                " revision = revision + 1 WHERE id = $9 AND revision = $10"
                f" RETURNING {ACCOUNT_COLUMNS}",
                *params[1:8],
                params[9],
                account.id,
                account.revision,
            )
            if row is None:
                sql = "SELECT revision FROM accounts WHERE id = $1"
                revision = await conn.fetchval(sql, account.id)
                check_revision("account", account.id, revision, account.revision)
            stored = account_from_row(row)
            await self._put_ancestors(conn, stored)
        return stored

    async def delete_account(self, account_id: str) -> bool:
        async with self._tx() as conn:
            status = await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)
            for sql in (
                "DELETE FROM account_ancestors WHERE account_id = $1",
                "DELETE FROM api_keys WHERE account_id = $1",
                "DELETE FROM settings WHERE scope = $1",
                "DELETE FROM hooks WHERE account_id = $1",
            ):
                await conn.execute(sql, account_id)
        return affected(status) > 0

    async def list_accounts(self) -> list[Account]:
        return await self._accounts_where("TRUE", ())

    async def count_accounts(self) -> int:
        async with self._conn() as conn:
            return int(await conn.fetchval("SELECT COUNT(*) FROM accounts"))

    async def list_children(self, account_id: str) -> list[Account]:
        return await self._accounts_where("parent_id = $1", (account_id,))

    async def list_descendants(self, account_id: str) -> list[Account]:
        where = "id IN (SELECT account_id FROM account_ancestors WHERE ancestor_id = $1)"
        return await self._accounts_where(where, (account_id,))

    async def set_api_key(self, account_id: str, api_key_hash: str) -> None:
        async with self._tx() as conn:
            # FOR UPDATE: a concurrent delete_account cannot slip in before the key is written
            sql = "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE"
            if await conn.fetchval(sql, account_id) is None:
                raise NotFound(f"account {account_id} does not exist")
            await self._put_api_key(conn, account_id, api_key_hash)

    async def account_by_api_key(self, api_key_hash: str) -> Account | None:
        where = (
            "id = (SELECT account_id FROM api_keys WHERE key_hash = $1 ORDER BY account_id LIMIT 1)"
        )
        found = await self._accounts_where(where, (api_key_hash,))
        return found[0] if found else None

    async def put_mirrored_accounts(
        self, accounts: Sequence[tuple[Account, str | None]]
    ) -> list[str]:
        now = now_ms()
        written: list[str] = []
        async with self._tx() as conn:
            for account, key_hash in accounts:
                stored = replace(
                    account,
                    created_ms=account.created_ms or now,
                    modified_ms=account.modified_ms or now,
                )
                row = await conn.fetchrow(_MIRROR_UPSERT, *account_params(stored))
                if row is None:
                    continue
                if account.realm and row["realm"] is None:
                    log.warning(_schema.REALM_DROPPED, account_id=account.id, realm=account.realm)
                await self._put_ancestors(conn, stored)
                await conn.execute("DELETE FROM api_keys WHERE account_id = $1", account.id)
                if key_hash is not None:
                    await conn.execute(
                        "INSERT INTO api_keys (key_hash, account_id) VALUES ($1, $2)",
                        key_hash,
                        account.id,
                    )
                written.append(account.id)
        return written

    async def _accounts_where(self, where: str, params: Sequence[Any]) -> list[Account]:
        async with self._conn() as conn:
            sql = f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {where} ORDER BY id"
            return [account_from_row(row) for row in await conn.fetch(sql, *params)]

    @staticmethod
    async def _put_ancestors(conn: Any, account: Account) -> None:
        await conn.execute("DELETE FROM account_ancestors WHERE account_id = $1", account.id)
        await conn.executemany(
            "INSERT INTO account_ancestors (account_id, ancestor_id) VALUES ($1, $2)",
            ancestor_rows(account),
        )

    @staticmethod
    async def _put_api_key(conn: Any, account_id: str, key_hash: str) -> None:
        sql = "SELECT 1 FROM api_keys WHERE key_hash = $1 AND account_id <> $2"
        if await conn.fetchval(sql, key_hash, account_id) is not None:
            raise Conflict("that API key belongs to another account")
        await conn.execute("DELETE FROM api_keys WHERE account_id = $1", account_id)
        sql = "INSERT INTO api_keys (key_hash, account_id) VALUES ($1, $2)"
        await conn.execute(sql, key_hash, account_id)

    # -- hooks -----------------------------------------------------------------------------
    async def create_hook(self, hook: HookDoc) -> HookDoc:
        stored = stamp_new(hook, now_ms())
        async with self._conn() as conn:
            status = await conn.execute(
                f"INSERT INTO hooks ({HOOK_COLUMNS}, enabled) VALUES ({values(8)})"
                " ON CONFLICT (id) DO NOTHING",
                *hook_params(stored),
            )
        if not affected(status):
            raise Conflict(f"hook {hook.id} exists")
        return stored

    async def get_hook(self, hook_id: str) -> HookDoc | None:
        async with self._conn() as conn:
            sql = f"SELECT {HOOK_COLUMNS} FROM hooks WHERE id = $1"
            row = await conn.fetchrow(sql, hook_id)
        return None if row is None else hook_from_row(row)

    async def update_hook(self, hook: HookDoc) -> HookDoc:
        params = hook_params(replace(hook, modified_ms=now_ms()))
        async with self._tx() as conn:
            row = await conn.fetchrow(
                "UPDATE hooks SET account_id = $1, doc = $2, disabled_reason = $3, enabled = $4,"
                " modified_ms = $5, revision = revision + 1 WHERE id = $6 AND revision = $7"
                f" RETURNING {HOOK_COLUMNS}",
                *params[1:4],
                params[7],
                params[5],
                hook.id,
                hook.revision,
            )
            if row is None:
                revision = await conn.fetchval("SELECT revision FROM hooks WHERE id = $1", hook.id)
                check_revision("hook", hook.id, revision, hook.revision)
        return hook_from_row(row)

    async def delete_hook(self, hook_id: str) -> HookDoc | None:
        async with self._conn() as conn:
            sql = f"DELETE FROM hooks WHERE id = $1 RETURNING {HOOK_COLUMNS}"
            row = await conn.fetchrow(sql, hook_id)
        return None if row is None else hook_from_row(row)

    async def list_hooks(self, account_id: str) -> list[HookDoc]:
        sql = f"SELECT {HOOK_COLUMNS} FROM hooks WHERE account_id = $1 ORDER BY id"
        async with self._conn() as conn:
            return [hook_from_row(row) for row in await conn.fetch(sql, account_id)]

    async def list_all_hooks(self, *, enabled_only: bool) -> list[HookDoc]:
        """Every hook (or every enabled one), in no particular order: sorting 100k rows
        would cost start-up time for a caller that files them into a table anyway."""
        where = " WHERE enabled" if enabled_only else ""
        async with self._conn() as conn:
            rows = await conn.fetch(f"SELECT {HOOK_COLUMNS} FROM hooks{where}")
        return [hook_from_row(row) for row in rows]

    async def hook_batches(
        self, *, enabled_only: bool, size: int = HOOK_BATCH
    ) -> AsyncIterator[list[HookDoc]]:
        enabled = " AND enabled" if enabled_only else ""
        sql = f"SELECT {HOOK_COLUMNS} FROM hooks WHERE id > $1{enabled} ORDER BY id LIMIT $2"

        async def fetch(after: str) -> list[Any]:
            async with self._conn() as conn:
                return list(await conn.fetch(sql, after, size))

        async for batch in hooks_by_id(fetch):
            yield batch

    async def delete_account_hooks(self, account_id: str) -> list[str]:
        async with self._conn() as conn:
            sql = "DELETE FROM hooks WHERE account_id = $1 RETURNING id"
            rows = await conn.fetch(sql, account_id)
        return sorted(row[0] for row in rows)

    # -- attempts --------------------------------------------------------------------------
    async def add_attempts(self, attempts: Sequence[AttemptRecord]) -> None:
        if not attempts:
            return
        # rows to columns: one array parameter per column
        columns = zip(*(attempt_params(attempt) for attempt in attempts), strict=True)
        async with self._conn() as conn:
            await conn.execute(_ADD_ATTEMPTS, *columns)

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
        async with self._conn() as conn:
            return [attempt_from_row(row) for row in await conn.fetch(numbered(sql), *params)]

    async def get_attempt(self, attempt_id: str) -> AttemptRecord | None:
        # ids the daemon makes begin with their created_ms: looking there first reads one
        # partition's primary key; any other id (an imported one) is looked for in them all
        hinted = _TIME_ORDERED.fullmatch(attempt_id)
        async with self._conn() as conn:
            row = None
            if hinted is not None:
                sql = f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = $1 AND created_ms = $2"
                row = await conn.fetchrow(sql, attempt_id, int(hinted[1], 16))
            if row is None:
                sql = f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = $1"
                row = await conn.fetchrow(sql, attempt_id)
        return None if row is None else attempt_from_row(row)

    async def count_failures(
        self, since_ms: int, *, account_id: str | None = None
    ) -> list[FailureCount]:
        sql = (
            "SELECT account_id, hook_id, COUNT(*) FROM attempts"
            " WHERE counts_as_failure AND created_ms > $1"
            " AND ($2::text IS NULL OR account_id = $2)"
            " GROUP BY account_id, hook_id ORDER BY account_id, hook_id"
        )
        async with self._conn() as conn:
            rows = await conn.fetch(sql, since_ms, account_id)
        return [FailureCount(account_id=r[0], hook_id=r[1], count=r[2]) for r in rows]

    async def hook_activity(
        self, account_id: str, *, since_ms: int, hour_from_ms: int, recent: int
    ) -> list[HookActivity]:
        params = activity_params(account_id, since_ms, hour_from_ms, recent)
        async with self._conn() as conn:
            rows = await conn.fetch(numbered(ACTIVITY_SQL), *params)
        return [activity_from_row(row) for row in rows]

    async def flush_failures(self, account_id: str, hook_id: str | None = None) -> int:
        sql = (
            "UPDATE attempts SET counts_as_failure = FALSE"
            " WHERE counts_as_failure AND account_id = $1"
            " AND ($2::text IS NULL OR hook_id = $2)"
        )
        async with self._conn() as conn:
            return affected(await conn.execute(sql, account_id, hook_id))

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def probe_write(self, instance: str) -> None:
        # every change PostgreSQL commits goes through its WAL first, so one small committed
        # upsert fails whenever attempts would: a full disk, a read-only database or session
        sql = (
            "INSERT INTO store_heartbeats (instance, beat_ms) VALUES ($1, $2)"
            " ON CONFLICT (instance) DO UPDATE SET beat_ms = excluded.beat_ms"
        )
        async with self._tx() as conn:
            await conn.execute(sql, instance, now_ms())

    async def prepare_attempts(self, now_ms: int, days_ahead: int) -> list[str]:
        async with self._tx() as conn:
            made = await _postgres_partitions.prepare(conn, now_ms, days_ahead)
        if made:
            log.info("attempt partitions created", partitions=made)
        return made

    async def prune_attempts(self, older_than_ms: int) -> int:
        # whole days go as whole partitions, one short transaction each (the table lock a
        # drop takes is held for no longer than that); only the day the bound falls in, and
        # the DEFAULT partition, lose rows one by one
        async with self._conn() as conn:
            old = await _postgres_partitions.droppable(conn, older_than_ms)
        removed = 0
        for partition in old:
            async with self._tx() as conn:
                removed += await _postgres_partitions.drop(conn, partition)
            log.info("attempt partition dropped", partition=partition.name)
        async with self._conn() as conn:
            sql = "DELETE FROM attempts WHERE created_ms < $1"
            return removed + affected(await conn.execute(sql, older_than_ms))

    # -- hook-module metadata --------------------------------------------------------------
    async def list_module_meta(self) -> dict[str, dict[str, Any]]:
        async with self._conn() as conn:
            rows = await conn.fetch("SELECT id, meta FROM module_meta ORDER BY id")
        return {row[0]: loads(row[1]) for row in rows}

    async def put_module_meta(self, module_id: str, meta: Mapping[str, Any]) -> bool:
        # jsonb equality ignores key order, so "unchanged" is decided by the database
        sql = (
            "INSERT INTO module_meta (id, meta) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
            " SET meta = excluded.meta WHERE module_meta.meta IS DISTINCT FROM excluded.meta"
        )
        async with self._conn() as conn:
            return affected(await conn.execute(sql, module_id, dumps(meta))) > 0

    async def delete_module_meta(self, module_id: str) -> bool:
        async with self._conn() as conn:
            status = await conn.execute("DELETE FROM module_meta WHERE id = $1", module_id)
        return affected(status) > 0

    # -- settings --------------------------------------------------------------------------
    async def get_settings(self, scope: str) -> dict[str, Any]:
        async with self._conn() as conn:
            sql = "SELECT key, value FROM settings WHERE scope = $1 ORDER BY key"
            rows = await conn.fetch(sql, scope)
        return {row[0]: loads(row[1]) for row in rows}

    async def set_setting(self, scope: str, key: str, value: Any) -> None:
        sql = (
            "INSERT INTO settings (scope, key, value) VALUES ($1, $2, $3)"
            " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value"
        )
        async with self._conn() as conn:
            await conn.execute(sql, scope, key, dumps(value))

    async def setdefault_setting(self, scope: str, key: str, value: Any) -> Any:
        insert = (
            "INSERT INTO settings (scope, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        )
        select = "SELECT value FROM settings WHERE scope = $1 AND key = $2"
        async with self._conn() as conn:
            await conn.execute(insert, scope, key, dumps(value))
            # a separate statement, so its snapshot sees a row another instance committed
            # while our insert waited on it (one statement would not, under READ COMMITTED)
            stored = await conn.fetchval(select, scope, key)
        if stored is None:  # only if someone deleted it between the two statements
            raise StoreError(f"setting {scope}/{key} vanished")
        return loads(stored)

    async def take_setting(self, scope: str, key: str) -> Any:
        sql = "DELETE FROM settings WHERE scope = $1 AND key = $2 RETURNING value"
        async with self._conn() as conn:
            stored = await conn.fetchval(sql, scope, key)
        return None if stored is None else loads(stored)
