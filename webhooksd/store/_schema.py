"""The store's tables, as numbered migrations shared by the SQLite and PostgreSQL stores.

Kazoo keeps these in CouchDB: accounts in ``accounts``, hooks in ``webhooks`` (one document
each), attempts in each account's MODb (``webhooks_attempts`` view), module metadata as
``webhooks_*`` documents of the master account and settings in ``system_config/webhooks``.
Here they are tables with the fields the daemon queries on pulled out into columns.

Each migration is a tuple of DDL statements; ``{json}`` is the dialect's JSON column type
(``TEXT`` for SQLite, ``jsonb`` for PostgreSQL) and ``{collate}`` the collation clause of
id columns (PostgreSQL sorts ids bytewise with ``COLLATE "C"``, as SQLite always does, so
both stores order and page alike whatever the database's locale). A migration that only one
dialect needs is an :class:`Only`: the other records its version and runs nothing, so both
stores keep one numbering. A migration is never edited once released: a change is a new,
higher-numbered migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class Only:
    """Statements of a migration that one dialect runs and the other skips."""

    dialect: Dialect
    statements: tuple[str, ...]


#: the unique index on realms; a write it refuses is :class:`webhooksd.errors.RealmTaken`
REALM_INDEX: Final = "accounts_realm_unique"
#: the accounts that have a realm (an empty one names nothing)
REALM_SET: Final = "realm IS NOT NULL AND realm <> ''"
#: logged when an account copied from Kazoo has a realm another account already holds: the
#: copy is stored without it (Kazoo itself refuses a duplicate realm, so this is rare)
REALM_DROPPED: Final = "realm already taken by another account; account stored without it"

#: the PostgreSQL attempts table is partitioned by day of ``created_ms`` (Unix milliseconds,
#: UTC days): partition ``attempts_pYYYYMMDD`` holds ``[day start, next day start)``, and
#: ``attempts_default`` catches a row no partition covers yet, so an insert never fails
PARTITION_PREFIX: Final = "attempts_p"
DEFAULT_PARTITION: Final = "attempts_default"
DAY_MS: Final = 86_400_000
#: days after today the migration itself creates partitions for; the retention child then
#: keeps ``attempt_partition_days_ahead`` days ready
MIGRATION_DAYS_AHEAD: Final = 7

#: PostgreSQL migration 6: the unpartitioned attempts table becomes a partitioned one, in the
#: migration's transaction (all or nothing: a crash midway leaves the old table as it was).
#: The new table is made LIKE the old, so it has every column the old one has at this point
#: (whatever earlier migrations added), and every secondary index is re-made from the old
#: table's own definitions. The primary key must contain the partition key: (id, created_ms).
#: Rows are loaded before the indexes are built (one sort per index and partition instead of
#: a B-tree insert per row). Partitions are made for each day that has rows (found by a skip
#: scan of ``attempts_created``, one index probe per such day) and for today and the next
#: ``MIGRATION_DAYS_AHEAD`` days.
_PARTITION_ATTEMPTS = f"""
DO $migrate$
DECLARE
    schema_name text;
    index_defs text[];
    index_def text;
    day bigint;
    today bigint := floor(extract(epoch FROM clock_timestamp()) * 1000 / {DAY_MS})::bigint;
BEGIN
    -- already partitioned (a store whose version rows were lost): nothing to do
    IF (SELECT relkind FROM pg_class WHERE oid = 'attempts'::regclass) = 'p' THEN
        RETURN;
    END IF;
    SELECT n.nspname INTO STRICT schema_name FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = 'attempts'::regclass;
    -- the old table's secondary indexes, as statements that name the table "attempts"
    SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY i.indexrelid), '{{}}')
        INTO index_defs FROM pg_index i
        WHERE i.indrelid = 'attempts'::regclass AND NOT i.indisprimary;
    ALTER TABLE attempts RENAME TO attempts_unpartitioned;
    EXECUTE format(
        'CREATE TABLE %I.attempts (LIKE %I.attempts_unpartitioned INCLUDING DEFAULTS'
        ' INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)'
        ' PARTITION BY RANGE (created_ms)', schema_name, schema_name);
    EXECUTE format('CREATE TABLE %I.{DEFAULT_PARTITION} PARTITION OF %I.attempts DEFAULT',
        schema_name, schema_name);
    FOR day IN
        WITH RECURSIVE days(d) AS (
            SELECT floor(min(created_ms)::numeric / {DAY_MS})::bigint FROM attempts_unpartitioned
            UNION ALL
            SELECT (SELECT floor(min(created_ms)::numeric / {DAY_MS})::bigint
                    FROM attempts_unpartitioned WHERE created_ms >= (days.d + 1) * {DAY_MS})
            FROM days WHERE days.d IS NOT NULL
        )
        SELECT d FROM days WHERE d IS NOT NULL
        UNION
        SELECT generate_series(today, today + {MIGRATION_DAYS_AHEAD})
    LOOP
        EXECUTE format(
            'CREATE TABLE %I.%I PARTITION OF %I.attempts FOR VALUES FROM (%s) TO (%s)',
            schema_name, '{PARTITION_PREFIX}' || to_char(
                to_timestamp(day * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD'),
            schema_name, day * {DAY_MS}, (day + 1) * {DAY_MS});
    END LOOP;
    INSERT INTO attempts SELECT * FROM attempts_unpartitioned;
    DROP TABLE attempts_unpartitioned;
    ALTER TABLE attempts ADD PRIMARY KEY (id, created_ms);
    FOREACH index_def IN ARRAY index_defs LOOP
        EXECUTE index_def;
    END LOOP;
END
$migrate$"""

#: (version, statements), applied in ascending order; each version exactly once
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...] | Only], ...]] = (
    (
        1,
        (
            """CREATE TABLE accounts (
                id TEXT{collate} PRIMARY KEY,
                name TEXT NOT NULL,
                parent_id TEXT,
                tree {json} NOT NULL,
                realm TEXT,
                is_reseller BOOLEAN NOT NULL,
                enabled BOOLEAN NOT NULL,
                doc {json} NOT NULL,
                created_ms BIGINT NOT NULL,
                modified_ms BIGINT NOT NULL,
                revision INTEGER NOT NULL
            )""",
            "CREATE INDEX accounts_parent ON accounts (parent_id)",
            "CREATE INDEX accounts_realm ON accounts (realm)",
            # one row per (account, ancestor) so descendants are an index read, not a scan
            """CREATE TABLE account_ancestors (
                account_id TEXT NOT NULL,
                ancestor_id TEXT NOT NULL,
                PRIMARY KEY (ancestor_id, account_id)
            )""",
            "CREATE INDEX account_ancestors_account ON account_ancestors (account_id)",
            """CREATE TABLE api_keys (
                key_hash TEXT PRIMARY KEY,
                account_id TEXT NOT NULL UNIQUE
            )""",
            """CREATE TABLE hooks (
                id TEXT{collate} PRIMARY KEY,
                account_id TEXT NOT NULL,
                doc {json} NOT NULL,
                disabled_reason TEXT,
                enabled BOOLEAN NOT NULL,
                created_ms BIGINT NOT NULL,
                modified_ms BIGINT NOT NULL,
                revision INTEGER NOT NULL
            )""",
            "CREATE INDEX hooks_account ON hooks (account_id, id)",
            """CREATE TABLE attempts (
                id TEXT{collate} PRIMARY KEY,
                account_id TEXT NOT NULL,
                hook_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                result TEXT NOT NULL,
                counts_as_failure BOOLEAN NOT NULL,
                doc {json} NOT NULL,
                payload {json}
            )""",
            "CREATE INDEX attempts_account ON attempts (account_id, created_ms, id)",
            "CREATE INDEX attempts_hook ON attempts (hook_id, created_ms, id)",
            "CREATE INDEX attempts_created ON attempts (created_ms)",
            # partial indexes stay small: only failures that still count are in them
            """CREATE INDEX attempts_failures_since ON attempts (created_ms)
                WHERE counts_as_failure""",
            """CREATE INDEX attempts_failures_hook ON attempts (account_id, hook_id)
                WHERE counts_as_failure""",
            "CREATE TABLE module_meta (id TEXT{collate} PRIMARY KEY, meta {json} NOT NULL)",
            """CREATE TABLE settings (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                value {json} NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
        ),
    ),
    (
        2,
        (
            # Kazoo lets accounts share an API key (its own fixtures do; api_auth then takes
            # the account that sorts first): one key row per account, found by key hash
            """CREATE TABLE api_keys_v2 (
                account_id TEXT{collate} PRIMARY KEY,
                key_hash TEXT NOT NULL
            )""",
            "INSERT INTO api_keys_v2 (account_id, key_hash) SELECT account_id, key_hash"
            " FROM api_keys",
            "DROP TABLE api_keys",
            "ALTER TABLE api_keys_v2 RENAME TO api_keys",
            "CREATE INDEX api_keys_hash ON api_keys (key_hash, account_id)",
        ),
    ),
    (
        3,
        (
            # the write probe's row, one per instance: when each last proved it could write
            """CREATE TABLE store_heartbeats (
                instance TEXT{collate} PRIMARY KEY,
                beat_ms BIGINT NOT NULL
            )""",
        ),
    ),
    (
        4,
        (
            # a realm names one account (case-insensitively, as Kazoo lower-cases realms): an
            # older store may hold duplicates, of which the first created keeps the realm
            f"""UPDATE accounts SET realm = NULL WHERE {REALM_SET} AND EXISTS (
                SELECT 1 FROM accounts o WHERE lower(o.realm) = lower(accounts.realm)
                AND (o.created_ms < accounts.created_ms
                     OR (o.created_ms = accounts.created_ms AND o.id < accounts.id)))""",
            f"CREATE UNIQUE INDEX {REALM_INDEX} ON accounts (lower(realm)) WHERE {REALM_SET}",
        ),
    ),
    (
        5,
        (
            # the request log's search: the call an attempt delivered an event of (null in
            # attempts recorded before, and for events of no call), and lookups by call and by
            # event within one account, newest first
            "ALTER TABLE attempts ADD COLUMN call_id TEXT",
            """CREATE INDEX attempts_account_call ON attempts (account_id, call_id, created_ms)
                WHERE call_id IS NOT NULL""",
            "CREATE INDEX attempts_account_event ON attempts (account_id, event_id, created_ms)",
        ),
    ),
    # attempts in daily partitions, so retention drops whole days (SQLite deletes rows)
    (6, Only("postgresql", (_PARTITION_ATTEMPTS,))),
)

#: created before the migrations run, so it cannot itself be a migration
SCHEMA_VERSION_TABLE: Final = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_ms BIGINT NOT NULL
)"""


def pending(
    current: int, *, dialect: Dialect, json_type: str, collate: str
) -> list[tuple[int, list[str]]]:
    """The migrations after ``current``, in order, rendered for one dialect (a migration for
    the other dialect only comes with no statements: its version is still recorded)."""
    rendered: list[tuple[int, list[str]]] = []
    for version, migration in MIGRATIONS:
        if version <= current:
            continue
        if isinstance(migration, Only):
            # dialect-only statements are written for that dialect: no placeholders
            mine = migration.dialect == dialect
            rendered.append((version, list(migration.statements) if mine else []))
        else:
            rendered.append(
                (version, [s.format(json=json_type, collate=collate) for s in migration])
            )
    return rendered


def latest() -> int:
    """The version a fully migrated store is at."""
    return MIGRATIONS[-1][0]
