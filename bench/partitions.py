"""PostgreSQL attempts before and after daily partitions (migration 6), at 10 million rows.

``python -m bench.partitions --pg postgresql://…`` (``make bench-partitions``) creates a
private database ``bench_partitions_<random>`` (dropped at the end), and in it:

1. the attempts table as it was before migration 6 (unpartitioned), filled server-side with
   ``--rows`` attempts spread evenly over ``--days`` days up to now, across ``--accounts``
   accounts of 10 hooks each, ids made like the daemon's (created_ms in front);
2. BEFORE: the listing's p50/p99 (the store call the attempts API makes:
   ``PostgresStore.list_attempts`` of a random account over the API's default 31-day window,
   200 rows, newest first; then its next page) and ``get_attempt`` by id, then the retention
   pass of that version (``DELETE … WHERE created_ms < bound``) dropping the older
   ``--prune-days`` days, plus the VACUUM those deleted rows then need;
3. the deleted days are written again, and migration 6 runs (``open_store``), timed;
4. AFTER: the same listing and lookups, then the retention pass now (``prune_attempts``:
   whole partitions dropped).

Results go to ``bench/results/partitions.json``. It needs a few GB of disk for 10M rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.run import percentile
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.store import open_store
from webhooksd.store._codec import AttemptQuery, attempts_sql
from webhooksd.store._postgres_sql import numbered
from webhooksd.store._schema import DAY_MS, pending
from webhooksd.store.postgres import _STATUS_SQL, PostgresStore

RESULTS = Path(__file__).parent / "results" / "partitions.json"
#: the attempts API's default window (``MAX_RANGE`` seconds) and its store page
WINDOW_MS = 2_682_000 * 1000
PAGE = 200
#: attempt rows written per statement while filling (one transaction each)
CHUNK = 1_000_000

#: one attempt per ``g``; $1 = first created_ms, $2 = ms between attempts, $3 = accounts
_FILL = """
INSERT INTO attempts (id, account_id, hook_id, event_id, created_ms, result,
                      counts_as_failure, doc, payload)
SELECT lpad(to_hex(t), 12, '0') || lpad(to_hex(g), 20, '0'),
       md5('account' || (g % $3)), md5('hook' || (g % ($3 * 10))), md5('event' || g), t,
       CASE WHEN g % 10 = 0 THEN 'failure' ELSE 'success' END, FALSE,
       jsonb_build_object('hook_id', md5('hook' || (g % ($3 * 10))), 'try', 1,
           'result', CASE WHEN g % 10 = 0 THEN 'failure' ELSE 'success' END,
           'retries_left', 2, 'duration_ms', g % 700, 'resp_status_code', '200',
           'resp_headers', jsonb_build_object('content-type', 'text/plain'),
           'req_body', '{"call_id":"' || md5('call' || g) || '","event_name":"CHANNEL_CREATE"}',
           'resp_body', 'ok'),
       CASE WHEN g % 10 = 0 THEN jsonb_build_object('call_id', md5('call' || g)) END
FROM generate_series($4::bigint, $5::bigint) g, LATERAL (SELECT $1 + (g - 1) * $2 AS t) tt
"""


def database_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def old_schema(conn: asyncpg.Connection) -> list[str]:
    """The tables as before migration 6; returns the attempts table's secondary indexes'
    statements, dropped here so the fill writes rows first and builds each index once."""
    await conn.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)"
    )
    indexes = []
    for version, statements in pending(
        0, dialect="postgresql", json_type="jsonb", collate=' COLLATE "C"'
    ):
        if version >= 6:
            break
        for statement in statements:
            if statement.startswith("CREATE INDEX attempts_"):
                indexes.append(statement)
            else:
                await conn.execute(statement)
        await conn.execute("INSERT INTO schema_version VALUES ($1, 0)", version)
    return indexes


async def fill(conn: asyncpg.Connection, first: int, last: int, args: Any, start_ms: int) -> None:
    step = args.days * DAY_MS // args.rows
    for low in range(first, last + 1, CHUNK):
        high = min(last, low + CHUNK - 1)
        await conn.execute(_FILL, start_ms, step, args.accounts, low, high)
        print(f"  rows {low:,} to {high:,} written", flush=True)


async def listing(
    store: PostgresStore, conn: asyncpg.Connection, accounts: list[str], end_ms: int, n: int
) -> dict[str, Any]:
    """p50/p99 of the API's store call for the first page and the next one, and of
    ``get_attempt`` for ids from those pages; and one listing's plan, EXPLAINed on ``conn``."""
    rng = random.Random(7)
    first: list[float] = []
    second: list[float] = []
    ids: list[str] = []
    for _ in range(n):
        account = rng.choice(accounts)
        began = time.perf_counter()
        page = await store.list_attempts(
            account, created_from_ms=end_ms - WINDOW_MS, created_to_ms=end_ms, limit=PAGE
        )
        first.append(time.perf_counter() - began)
        assert page, account
        ids.append(rng.choice(page).id)
        began = time.perf_counter()
        await store.list_attempts(
            account,
            created_from_ms=end_ms - WINDOW_MS,
            created_to_ms=end_ms,
            limit=PAGE,
            after=(page[-1].created_ms, page[-1].id),
        )
        second.append(time.perf_counter() - began)
    lookups: list[float] = []
    for attempt_id in ids:
        began = time.perf_counter()
        assert await store.get_attempt(attempt_id) is not None
        lookups.append(time.perf_counter() - began)
    # an id of another shape (or none stored): no partition to look in first, so all are
    missing: list[float] = []
    for attempt_id in ids:
        began = time.perf_counter()
        assert await store.get_attempt("f" + attempt_id[1:]) is None
        missing.append(time.perf_counter() - began)
    sql, params = attempts_sql(
        AttemptQuery(
            account_id=accounts[0],
            hook_id=None,
            created_from_ms=end_ms - WINDOW_MS,
            created_to_ms=end_ms,
            descending=True,
            after=None,
            limit=PAGE,
        ),
        status_sql=_STATUS_SQL,
    )
    explain = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {numbered(sql)}"
    plan = json.loads(await conn.fetchval(explain, *params))[0]
    times = {
        "planning_ms": round(plan["Planning Time"], 2),
        "execution_ms": round(plan["Execution Time"], 2),
        "top_node": plan["Plan"]["Node Type"],
    }
    return {"one_listing_explained": times} | {
        name: {
            "p50_ms": round(percentile(v, 50) * 1000, 2),
            "p99_ms": round(percentile(v, 99) * 1000, 2),
        }
        for name, v in (
            ("first_page", first),
            ("next_page", second),
            ("get_attempt", lookups),
            ("get_attempt_missing", missing),
        )
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    name = f"bench_partitions_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.pg)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(args.pg, name)
    results: dict[str, Any] = {
        "rows": args.rows,
        "days": args.days,
        "accounts": args.accounts,
        "prune_days": args.prune_days,
        "queries": args.queries,
    }
    try:
        conn = await asyncpg.connect(url)
        try:
            end_ms = now_ms()
            start_ms = end_ms - args.days * DAY_MS
            step = args.days * DAY_MS // args.rows
            accounts = [
                r[0]
                for r in await conn.fetch(
                    "SELECT md5('account' || g) FROM generate_series(0, $1 - 1) g", args.accounts
                )
            ]
            indexes = await old_schema(conn)
            print(f"filling {args.rows:,} rows (unpartitioned)", flush=True)
            began = time.perf_counter()
            await fill(conn, 1, args.rows, args, start_ms)
            for statement in indexes:
                await conn.execute(statement)
            await conn.execute("VACUUM ANALYZE attempts")
            results["fill_s"] = round(time.perf_counter() - began, 1)
            # the table's or, once partitioned, every partition's rows and indexes
            size = (
                "SELECT pg_size_pretty(pg_total_relation_size('attempts') + COALESCE(("
                "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('attempts')"
                " WHERE relid <> 'attempts'::regclass), 0))"
            )
            results["table_size_before"] = await conn.fetchval(size)

            pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                before = PostgresStore(pool)  # no migration: the table as it was before 6
                results["before"] = await listing(before, conn, accounts, end_ms, args.queries)
                print("before:", results["before"], flush=True)
                bound = start_ms + args.prune_days * DAY_MS
                began = time.perf_counter()
                removed = await before.prune_attempts(bound)
                results["before"]["retention_s"] = round(time.perf_counter() - began, 2)
                results["before"]["retention_rows"] = removed
                began = time.perf_counter()
                await conn.execute("VACUUM attempts")
                results["before"]["vacuum_after_retention_s"] = round(
                    time.perf_counter() - began, 2
                )
                print("before retention:", results["before"], flush=True)
            finally:
                await pool.close()

            # the deleted days again, so the migration and AFTER see all the rows
            print("writing the pruned days again", flush=True)
            pruned_rows = (bound - start_ms + step - 1) // step
            await fill(conn, 1, pruned_rows, args, start_ms)
            await conn.execute("VACUUM ANALYZE attempts")
            assert await conn.fetchval("SELECT COUNT(*) FROM attempts") == args.rows

            print("migrating", flush=True)
            began = time.perf_counter()
            store_url = url + (
                f"?plan_cache_mode={args.plan_cache_mode}" if args.plan_cache_mode else ""
            )
            async with open_store(store_url) as store:
                results["migration_s"] = round(time.perf_counter() - began, 1)
                results["migration_s_per_million"] = round(
                    results["migration_s"] / (args.rows / 1e6), 1
                )
                print("migration:", results["migration_s"], "s", flush=True)
                # what autovacuum does to freshly written partitions anyway (the BEFORE table
                # had it too): hint bits and the visibility map set, statistics taken
                began = time.perf_counter()
                await conn.execute("VACUUM ANALYZE attempts")
                results["vacuum_after_migration_s"] = round(time.perf_counter() - began, 1)
                results["table_size_after"] = await conn.fetchval(size)
                assert isinstance(store, PostgresStore)
                results["after"] = await listing(store, conn, accounts, end_ms, args.queries)
                print("after:", results["after"], flush=True)
                began = time.perf_counter()
                removed = await store.prune_attempts(bound)
                results["after"]["retention_s"] = round(time.perf_counter() - began, 2)
                results["after"]["retention_rows"] = removed
                print("after retention:", results["after"], flush=True)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--prune-days", type=int, default=30)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument(
        "--plan-cache-mode", default="", help="AFTER's plan_cache_mode (default: the server's)"
    )
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    print(json.dumps(results, indent=2))
    if not args.no_save:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    cli()
