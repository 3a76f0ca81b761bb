"""PostgreSQL only: the attempts table's daily partitions (migration 6), made ahead of need,
dropped by retention, and read through partition pruning and index scans."""

from __future__ import annotations

import asyncio
import datetime
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest

from webhooksd.children.retention import Retention
from webhooksd.kazoo.ids import new_time_ordered_id
from webhooksd.records import AttemptRecord
from webhooksd.store import open_store
from webhooksd.store._codec import AttemptQuery, attempts_sql
from webhooksd.store._postgres_sql import numbered
from webhooksd.store._schema import DAY_MS, DEFAULT_PARTITION, MIGRATIONS, pending
from webhooksd.store.postgres import _STATUS_SQL, PostgresStore

from .conftest import PG_URL, with_search_path
from .factories import attempt

pytestmark = pytest.mark.integration

#: a fixed "now" in the middle of a UTC day: 2026-03-10 12:00
NOW = 20_522 * DAY_MS + DAY_MS // 2
TODAY = NOW // DAY_MS


@pytest.fixture(name="schema")
async def fixture_schema() -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A fresh schema and a connection whose search_path is it, dropped after the test."""
    name = f"webhooksd_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
        await conn.execute(f'SET search_path TO "{name}"')
        yield with_search_path(PG_URL, name), conn
    finally:
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        await conn.close()


@pytest.fixture(name="pg")
async def fixture_pg(
    schema: tuple[str, asyncpg.Connection],
) -> AsyncIterator[tuple[PostgresStore, asyncpg.Connection]]:
    url, conn = schema
    async with open_store(url) as store:
        assert isinstance(store, PostgresStore)
        yield store, conn


async def partition_names(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'attempts'::regclass ORDER BY c.relname"
    )
    return [row[0] for row in rows]


async def rows_of(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every attempt row, every column, as the database holds it."""
    return [dict(row) for row in await conn.fetch("SELECT * FROM attempts ORDER BY id")]


async def at_version_5(url: str, conn: asyncpg.Connection) -> None:
    """Put the schema where a store before migration 6 was: the plain attempts table, plus a
    column and index as a later-numbered shared migration before 6 might have added."""
    await conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)"
    )
    for version, statements in pending(
        0, dialect="postgresql", json_type="jsonb", collate=' COLLATE "C"'
    ):
        if version >= 6:
            break
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("INSERT INTO schema_version VALUES ($1, 0)", version)
    # a name no real migration uses, so this holds whatever migrations before 6 add
    await conn.execute("ALTER TABLE attempts ADD COLUMN extra_v5 TEXT")
    await conn.execute("CREATE INDEX attempts_extra_v5 ON attempts (account_id, extra_v5)")


def old_attempts() -> list[AttemptRecord]:
    """Attempts over several days, a year back, at day boundaries, with ties, with and
    without payloads, failures and successes, in two accounts."""
    times = [NOW - 400 * DAY_MS, TODAY * DAY_MS - 1, TODAY * DAY_MS, NOW, NOW, NOW + 1]
    times += [NOW - d * DAY_MS - d for d in range(1, 12)]
    made = []
    for n, created in enumerate(times):
        made.append(
            attempt(
                "a1" if n % 3 else "a2",
                f"h{n % 2}",
                created,
                attempt_id=new_time_ordered_id(created) if n % 4 else f"kazoo-id-{n:02d}",
                failed=bool(n % 2),
                payload={"n": n, "nested": {"x": [1, "two"]}} if n % 5 else None,
            )
        )
    return made


async def pages(store: PostgresStore, account_id: str, *, descending: bool) -> list[list[str]]:
    """Every page of 4 of the account's attempts, by keyset paging."""
    found: list[list[str]] = []
    after: tuple[int, str] | None = None
    while True:
        page = await store.list_attempts(
            account_id,
            created_from_ms=0,
            created_to_ms=NOW + DAY_MS,
            descending=descending,
            after=after,
            limit=4,
        )
        if not page:
            return found
        found.append([a.id for a in page])
        after = (page[-1].created_ms, page[-1].id)


async def test_migration_moves_every_row_and_column(
    schema: tuple[str, asyncpg.Connection],
) -> None:
    """A store at the version before 6 with rows: after migrating, the table is partitioned,
    every row has every field (including a column a migration before 6 added), every index
    is there, and listing and paging give the same answers."""
    url, conn = schema
    await at_version_5(url, conn)
    records = old_attempts()
    async with AsyncExitStack() as stack:
        # the rows go in as the old store wrote them, through the same insert
        sql = (
            "INSERT INTO attempts (id, account_id, hook_id, event_id, created_ms, result,"
            " counts_as_failure, doc, payload, extra_v5) VALUES"
            " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )
        for n, record in enumerate(records):
            payload = None if record.payload is None else json.dumps(record.payload)
            await conn.execute(
                sql,
                record.id,
                record.account_id,
                record.hook_id,
                record.event_id,
                record.created_ms,
                record.result,
                record.counts_as_failure,
                json.dumps(record.doc),
                payload,
                f"extra-{n}" if n % 2 else None,
            )
        before = await rows_of(conn)
        assert len(before) == len(records)
        old_indexes = {
            row[0]
            for row in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'attempts'"
                " AND schemaname = current_schema() AND indexname <> 'attempts_pkey'"
            )
        }
        assert {"attempts_account", "attempts_created", "attempts_extra_v5"} <= old_indexes
        expected = {
            (account, descending): [
                [a.id for a in chunk]
                for chunk in _chunks(
                    sorted(
                        (r for r in records if r.account_id == account),
                        key=lambda r: (r.created_ms, r.id),
                        reverse=descending,
                    ),
                    4,
                )
            ]
            for account in ("a1", "a2")
            for descending in (True, False)
        }
        store = await stack.enter_async_context(open_store(url))
        assert isinstance(store, PostgresStore)
        kind = "SELECT relkind::text FROM pg_class WHERE oid = 'attempts'::regclass"
        assert await conn.fetchval(kind) == "p"
        assert await rows_of(conn) == before
        for record in records:
            assert await store.get_attempt(record.id) == record
        for (account, descending), want in expected.items():
            assert await pages(store, account, descending=descending) == want
        indexes = {
            row[0]
            for row in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'attempts'"
                " AND schemaname = current_schema()"
            )
        }
        assert indexes == {"attempts_pkey", *old_indexes}
        assert "attempts_extra_v5" in indexes
        collation = await conn.fetchval(
            "SELECT collation_name FROM information_schema.columns WHERE table_name = 'attempts'"
            " AND table_schema = current_schema() AND column_name = 'id'"
        )
        assert collation == "C"
        # one partition per day with rows, today and the next days, and the empty DEFAULT
        days = {r.created_ms // DAY_MS for r in records}
        names = set(await partition_names(conn))
        assert DEFAULT_PARTITION in names
        assert await conn.fetchval(f"SELECT COUNT(*) FROM {DEFAULT_PARTITION}") == 0
        assert len(names) >= len(days) + 1
        assert "attempts_unpartitioned" not in {
            row[0] for row in await conn.fetch("SELECT tablename FROM pg_tables")
        }
        versions = [row[0] for row in await conn.fetch("SELECT version FROM schema_version")]
        assert versions == [version for version, _ in MIGRATIONS]
    # reopening runs nothing again
    async with open_store(url):
        assert await rows_of(conn) == before


def _chunks(items: list[AttemptRecord], size: int) -> list[list[AttemptRecord]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def test_prepare_makes_the_coming_days_once(
    pg: tuple[PostgresStore, asyncpg.Connection], schema: tuple[str, asyncpg.Connection]
) -> None:
    """Today's and the next N days' partitions are made, by exactly one of several
    instances preparing at the same moment; preparing again makes nothing."""
    store, conn = pg
    url, _ = schema
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(open_store(url)) for _ in range(3)]
        made = await asyncio.gather(*(s.prepare_attempts(NOW, 3) for s in [store, *stores]))
    names = [name for batch in made for name in batch]
    assert sorted(names) == ["attempts_p20260310", "attempts_p20260311", "attempts_p20260312",
                             "attempts_p20260313"]  # fmt: skip
    assert await store.prepare_attempts(NOW, 3) == []
    assert set(names) <= set(await partition_names(conn))


async def test_retention_child_prepares_from_now(
    pg: tuple[PostgresStore, asyncpg.Connection],
) -> None:
    """The retention child's pass makes today's and its configured days ahead."""
    store, conn = pg
    # taken first: if the day turns meanwhile, the pass makes one day more, never one less
    today = datetime.datetime.now(datetime.UTC).date()
    await Retention(store=store, retention_days=35, days_ahead=30).prepare()
    names = set(await partition_names(conn))
    for ahead in (0, 8, 30):
        assert f"attempts_p{today + datetime.timedelta(days=ahead):%Y%m%d}" in names
    assert f"attempts_p{today + datetime.timedelta(days=32):%Y%m%d}" not in names


async def test_rows_in_the_default_partition_move_to_their_day(
    pg: tuple[PostgresStore, asyncpg.Connection],
) -> None:
    """An attempt written for a day no partition covered lands in the DEFAULT partition
    (the insert does not fail); making that day's partition moves it there."""
    store, conn = pg
    await store.prepare_attempts(NOW, 1)
    later = NOW + 5 * DAY_MS
    stray = attempt("a1", "h1", later, attempt_id=new_time_ordered_id(later))
    kept = attempt("a1", "h1", NOW)
    await store.add_attempts([stray, kept])
    where = "SELECT tableoid::regclass::text FROM attempts WHERE id = $1"
    assert await conn.fetchval(where, stray.id) == DEFAULT_PARTITION
    made = await store.prepare_attempts(NOW, 6)
    assert "attempts_p20260315" in made
    assert await conn.fetchval(where, stray.id) == "attempts_p20260315"
    assert await conn.fetchval(f"SELECT COUNT(*) FROM {DEFAULT_PARTITION}") == 0
    assert await store.get_attempt(stray.id) == stray
    assert await store.get_attempt(kept.id) == kept


async def test_retention_drops_old_days_and_trims_the_boundary_day(
    pg: tuple[PostgresStore, asyncpg.Connection], schema: tuple[str, asyncpg.Connection]
) -> None:
    """Partitions wholly older than the bound are dropped; in the day the bound falls in
    only older rows go; newer ones stay; the count is every row removed, counted once even
    when two instances prune at the same moment."""
    store, conn = pg
    url, _ = schema
    for back in range(10, 0, -1):
        await store.prepare_attempts(NOW - back * DAY_MS, 0)
    records = [attempt("a1", "h1", NOW - back * DAY_MS + k) for back in range(10) for k in (0, 1)]
    ancient = attempt("a1", "h1", 5)  # before any partition: in the DEFAULT partition
    await store.add_attempts([*records, ancient])
    bound = NOW - 5 * DAY_MS + 1  # in the day 5 back: drops its first attempt, keeps its second
    async with open_store(url) as other:
        removed = await asyncio.gather(store.prune_attempts(bound), other.prune_attempts(bound))
    older = [r for r in [*records, ancient] if r.created_ms < bound]
    assert sum(removed) == len(older) == 10
    left = await store.list_attempts("a1", created_from_ms=0, created_to_ms=NOW + DAY_MS, limit=99)
    assert sorted(a.id for a in left) == sorted(r.id for r in records if r.created_ms >= bound)
    names = await partition_names(conn)
    assert "attempts_p20260304" not in names  # 6 days back: dropped whole
    assert "attempts_p20260305" in names  # the boundary day: trimmed
    assert await store.prune_attempts(bound) == 0


async def test_listing_is_pruned_to_its_days_and_read_by_index(
    pg: tuple[PostgresStore, asyncpg.Connection],
) -> None:
    """With 30 days of 4,000 attempts across 200 accounts and fresh statistics, a listing of
    one account over two days reads only those days' partitions, each by its account index
    (no Seq Scan), with the parameters planned in (custom plan) or bound at run time
    (generic plan: pruned when it runs)."""
    store, conn = pg
    for back in range(30, -1, -1):
        await store.prepare_attempts(NOW - back * DAY_MS, 0)
    await conn.execute(
        "INSERT INTO attempts (id, account_id, hook_id, event_id, created_ms, result,"
        " counts_as_failure, doc, payload)"
        " SELECT lpad(to_hex(g), 32, '0'), 'acct' || (g % 200), 'hook' || (g % 1000), 'e' || g,"
        f" {NOW} - (g::bigint * 648000) % ({30 * DAY_MS}), 'success', FALSE,"
        """ '{"result": "success"}', NULL FROM generate_series(1, 120000) g"""
    )
    await conn.execute("ANALYZE attempts")
    sql, params = attempts_sql(
        AttemptQuery(
            account_id="acct7",
            hook_id=None,
            created_from_ms=NOW - 2 * DAY_MS,
            created_to_ms=NOW,
            descending=True,
            after=None,
            limit=50,
        ),
        status_sql=_STATUS_SQL,
    )
    days = {f"attempts_p{d}" for d in ("20260308", "20260309", "20260310")}
    for mode in ("force_custom_plan", "force_generic_plan"):
        await conn.execute(f"SET plan_cache_mode = {mode}")
        plan = await conn.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {numbered(sql)}", *params, column=0
        )
        nodes = list(_nodes(json.loads(plan)[0]["Plan"]))
        kinds = {node["Node Type"] for node in nodes}
        assert "Seq Scan" not in kinds, (mode, kinds)
        scanned = {node["Relation Name"] for node in nodes if "Relation Name" in node}
        assert scanned and scanned <= days, (mode, scanned)
        # a bitmap heap scan is driven by its bitmap index scan: both read by index
        reads = {node["Node Type"] for node in nodes if "Relation Name" in node}
        assert reads <= {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}, (mode, reads)
        # by an index that leads with the account: the listing's own (account, time, id), or,
        # on a table this small, the search's (account, event, time) that the planner may
        # find cheaper for a bitmap
        used = {node["Index Name"] for node in nodes if "Index Name" in node}
        assert used and all(
            any(name.startswith(f"{day}_account_id_") for day in days) for name in used
        ), (mode, used)
    await conn.execute("RESET plan_cache_mode")
    found = await store.list_attempts(
        "acct7", created_from_ms=NOW - 2 * DAY_MS, created_to_ms=NOW, limit=50
    )
    assert found and all(NOW - 2 * DAY_MS <= a.created_ms <= NOW for a in found)


def _nodes(plan: dict[str, Any]) -> Any:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def test_get_attempt_by_any_id(pg: tuple[PostgresStore, asyncpg.Connection]) -> None:
    """Found by id whether it is the daemon's (time in front), another's, or looks like the
    daemon's but its time is not its created_ms (then every partition is looked in)."""
    store, _ = pg
    await store.prepare_attempts(NOW, 1)
    own = attempt("a1", "h1", NOW, attempt_id=new_time_ordered_id(NOW))
    other = attempt("a1", "h1", NOW, attempt_id="2a1b" * 8)
    lookalike = attempt("a1", "h1", NOW - 3, attempt_id=new_time_ordered_id(NOW))
    await store.add_attempts([own, other, lookalike])
    for record in (own, other, lookalike):
        assert await store.get_attempt(record.id) == record
    assert await store.get_attempt(new_time_ordered_id(NOW)) is None
