"""Conformance: delivery attempts, their paging, failure counting and retention."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from webhooksd.errors import Conflict
from webhooksd.records import AttemptRecord, AttemptSearch, FailureCount
from webhooksd.store import Store, open_store
from webhooksd.store._codec import PAYLOAD_IN_BODY, AttemptQuery, attempts_sql
from webhooksd.store.sqlite import path_from_url

from .conftest import query
from .factories import attempt


def keys(attempts: list[AttemptRecord]) -> list[tuple[int, str]]:
    return [(a.created_ms, a.id) for a in attempts]


@pytest.fixture(name="ties")
async def fixture_ties(store: Store) -> list[AttemptRecord]:
    """Nine attempts of account a1 (hooks h1/h2) with several sharing created_ms, plus noise."""
    rows = [
        attempt("a1", "h1" if n % 2 else "h2", created, attempt_id=f"t{n}")
        for n, created in enumerate((100, 200, 200, 200, 300, 300, 400, 500, 500))
    ]
    rows.append(attempt("a2", "h1", 300, attempt_id="other-account"))
    await store.add_attempts(rows)
    return sorted(rows[:-1], key=lambda a: (a.created_ms, a.id))


async def test_add_and_get_round_trip(store: Store) -> None:
    """Attempts read back equal, with and without a payload."""
    with_payload = attempt("a1", "h1", 1000, failed=True, payload={"call_id": "c", "n": [1.5]})
    without = attempt("a1", "h1", 1001)
    await store.add_attempts([with_payload, without])
    assert await store.get_attempt(with_payload.id) == with_payload
    assert await store.get_attempt(without.id) == without
    assert await store.get_attempt("nope") is None
    await store.add_attempts([])


async def test_a_large_mixed_batch_round_trips(store: Store) -> None:
    """One batch of many attempts, some with a payload and a call id and some with neither,
    failures and successes, several sharing a created_ms, reads back field for field (the
    PostgreSQL store passes a batch as one array per column: a column out of step with the
    others would put one row's value in another's), and searches by call id find them."""
    rows = [
        attempt(
            "a1",
            f"h{n % 3}",
            5000 + n // 4,
            failed=n % 5 == 0,
            payload=None if n % 2 else {"n": n, "name": 'caf\u00e9 "q"', "deep": [{"x": None}]},
            **({"call_id": f"call-{n}"} if n % 3 == 0 else {}),
        )
        for n in range(150)
    ]
    await store.add_attempts(rows)
    for row in rows:
        assert await store.get_attempt(row.id) == row
    listed = await store.list_attempts("a1", created_from_ms=0, created_to_ms=10_000, limit=200)
    assert sorted(listed, key=lambda a: a.id) == sorted(rows, key=lambda a: a.id)
    found = await store.list_attempts(
        "a1",
        created_from_ms=0,
        created_to_ms=10_000,
        search=AttemptSearch(call_id="call-9"),
    )
    assert found == [rows[9]]


async def test_duplicate_attempt_rolls_back_batch(store: Store) -> None:
    """A batch with a duplicate attempt is a Conflict and writes none of its rows. The
    duplicate has the same created_ms, as any written twice does: PostgreSQL's partitioned
    table can only hold ids unique per created_ms (its key must contain the partition key),
    and the daemon's ids begin with their created_ms."""
    await store.add_attempts([attempt("a1", "h1", 1, attempt_id="dup")])
    fresh = attempt("a1", "h1", 2, attempt_id="fresh")
    with pytest.raises(Conflict):
        await store.add_attempts([fresh, attempt("a1", "h1", 1, attempt_id="dup")])
    assert await store.get_attempt("fresh") is None


async def test_list_orders_both_ways(store: Store, ties: list[AttemptRecord]) -> None:
    """Listing orders by (created_ms, id), descending by default, and stays in the account."""
    ascending = await store.list_attempts(
        "a1", created_from_ms=0, created_to_ms=10_000, limit=100, descending=False
    )
    assert keys(ascending) == keys(ties)
    default = await store.list_attempts("a1", created_from_ms=0, created_to_ms=10_000, limit=100)
    assert keys(default) == keys(ties)[::-1]
    assert await store.list_attempts("a3", created_from_ms=0, created_to_ms=10_000) == []


async def test_time_bounds_are_inclusive(store: Store, ties: list[AttemptRecord]) -> None:
    """Both bounds are inclusive."""
    found = await store.list_attempts("a1", created_from_ms=200, created_to_ms=400, limit=100)
    assert sorted({a.created_ms for a in found}) == [200, 300, 400]
    assert len(found) == 6
    single = await store.list_attempts("a1", created_from_ms=100, created_to_ms=100)
    assert [a.id for a in single] == ["t0"]


async def test_hook_filter(store: Store, ties: list[AttemptRecord]) -> None:
    """hook_id narrows the listing to one hook of the account."""
    found = await store.list_attempts(
        "a1", hook_id="h1", created_from_ms=0, created_to_ms=10_000, limit=100
    )
    assert keys(found) == keys([a for a in ties if a.hook_id == "h1"])[::-1]


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("limit", [1, 2, 4])
async def test_keyset_paging_visits_each_once(
    store: Store, ties: list[AttemptRecord], descending: bool, limit: int
) -> None:
    """Paging with ``after`` walks every row once, in order, even across created_ms ties."""
    seen: list[AttemptRecord] = []
    after: tuple[int, str] | None = None
    for _ in range(20):
        page = await store.list_attempts(
            "a1",
            created_from_ms=0,
            created_to_ms=10_000,
            descending=descending,
            after=after,
            limit=limit,
        )
        assert len(page) <= limit
        if not page:
            break
        seen.extend(page)
        after = (page[-1].created_ms, page[-1].id)
    expected = keys(ties)[::-1] if descending else keys(ties)
    assert keys(seen) == expected


async def test_after_is_exclusive(store: Store, ties: list[AttemptRecord]) -> None:
    """The row named by ``after`` is not repeated and ties after it are kept."""
    found = await store.list_attempts(
        "a1", created_from_ms=0, created_to_ms=10_000, descending=False, after=(200, "t1")
    )
    assert keys(found)[:2] == [(200, "t2"), (200, "t3")]
    back = await store.list_attempts(
        "a1", created_from_ms=0, created_to_ms=10_000, after=(200, "t3")
    )
    assert keys(back) == [(200, "t2"), (200, "t1"), (100, "t0")]


async def test_limit_zero_is_empty(store: Store, ties: list[AttemptRecord]) -> None:
    """A zero limit returns nothing rather than everything."""
    assert await store.list_attempts("a1", created_from_ms=0, created_to_ms=10_000, limit=0) == []


@pytest.fixture(name="searched")
async def fixture_searched(store: Store) -> list[AttemptRecord]:
    """Attempts of account a1 with calls, events and status codes to search, and of a2 the
    same call and event (which a1 must never see)."""
    rows = [
        attempt("a1", "h1", 100, attempt_id="s0", event_id="e1", call_id="c1"),
        attempt(
            "a1",
            "h1",
            200,
            attempt_id="s1",
            event_id="e1",
            call_id="c1",
            failed=True,
            resp_status_code="503",
        ),
        attempt(
            "a1",
            "h2",
            300,
            attempt_id="s2",
            event_id="e2",
            call_id="c2",
            failed=True,
            resp_status_code="404",
        ),
        # another tool may have written the code as a number
        attempt("a1", "h2", 400, attempt_id="s3", event_id="e2", failed=True, resp_status_code=500),
        attempt("a1", "h1", 500, attempt_id="s4", event_id="e3", resp_status_code="200"),
        attempt("a2", "h9", 250, attempt_id="x0", event_id="e1", call_id="c1", failed=True),
    ]
    await store.add_attempts(rows)
    return rows


async def search_ids(store: Store, account_id: str = "a1", **search: str) -> list[str]:
    found = await store.list_attempts(
        account_id,
        created_from_ms=0,
        created_to_ms=10_000,
        descending=False,
        limit=100,
        search=AttemptSearch(**search),  # type: ignore[arg-type]
    )
    return [a.id for a in found]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ({"event_id": "e1"}, ["s0", "s1"]),
        ({"call_id": "c1"}, ["s0", "s1"]),
        ({"call_id": "c2"}, ["s2"]),
        ({"status": "503"}, ["s1"]),
        ({"status": "5xx"}, ["s1", "s3"]),
        ({"status": "4XX"}, ["s2"]),
        ({"status": "2xx"}, ["s4"]),
        ({"result": "failure"}, ["s1", "s2", "s3"]),
        ({"result": "success", "event_id": "e1"}, ["s0"]),
        ({"event_id": "e2", "status": "5xx"}, ["s3"]),
        ({"call_id": "nope"}, []),
        ({}, ["s0", "s1", "s2", "s3", "s4"]),
    ],
)
async def test_search(
    store: Store, searched: list[AttemptRecord], search: dict[str, str], expected: list[str]
) -> None:
    """Each search field narrows the account's attempts; fields combine; another account's
    attempts of the same call and event never appear."""
    assert await search_ids(store, **search) == expected


async def test_search_keeps_to_the_account_and_hook(
    store: Store, searched: list[AttemptRecord]
) -> None:
    """The other account finds its own attempt of the call; hook_id still narrows."""
    assert await search_ids(store, "a2", call_id="c1") == ["x0"]
    found = await store.list_attempts(
        "a1",
        hook_id="h2",
        created_from_ms=0,
        created_to_ms=10_000,
        search=AttemptSearch(result="failure"),
    )
    assert [a.id for a in found] == ["s3", "s2"]


async def test_search_pages_with_after(store: Store, searched: list[AttemptRecord]) -> None:
    """Keyset paging walks a search's matches once each."""
    seen: list[str] = []
    after: tuple[int, str] | None = None
    while page := await store.list_attempts(
        "a1",
        created_from_ms=0,
        created_to_ms=10_000,
        after=after,
        limit=1,
        search=AttemptSearch(result="failure"),
    ):
        seen.extend(a.id for a in page)
        after = (page[-1].created_ms, page[-1].id)
    assert seen == ["s3", "s2", "s1"]


async def test_call_id_round_trips(store: Store, searched: list[AttemptRecord]) -> None:
    """The call id is the record's (held in its doc) and reads back."""
    stored = await store.get_attempt("s0")
    assert stored is not None and stored.call_id == "c1"
    assert stored == searched[0]


async def test_count_failures_window(store: Store) -> None:
    """Only counting failures strictly after since_ms are counted, per (account, hook)."""
    await store.add_attempts(
        [
            attempt("a1", "h1", 100, failed=True),  # on the boundary: outside the window
            attempt("a1", "h1", 101, failed=True),
            attempt("a1", "h1", 150, failed=True),
            attempt("a1", "h1", 160),  # a success never counts
            attempt("a1", "h2", 200, failed=True),
            attempt("a2", "h9", 300, failed=True),
        ]
    )
    assert await store.count_failures(100) == [
        FailureCount(account_id="a1", hook_id="h1", count=2),
        FailureCount(account_id="a1", hook_id="h2", count=1),
        FailureCount(account_id="a2", hook_id="h9", count=1),
    ]
    assert await store.count_failures(99, account_id="a1") == [
        FailureCount(account_id="a1", hook_id="h1", count=3),
        FailureCount(account_id="a1", hook_id="h2", count=1),
    ]
    assert await store.count_failures(300) == []


async def test_flush_one_hook_then_account(store: Store) -> None:
    """Flushing stops failures counting for one hook, then for every hook of the account."""
    await store.add_attempts(
        [
            attempt("a1", "h1", 10, failed=True),
            attempt("a1", "h1", 20, failed=True),
            attempt("a1", "h2", 30, failed=True),
            attempt("a1", "h2", 40),
            attempt("a2", "h3", 50, failed=True),
        ]
    )
    assert await store.flush_failures("a1", "h1") == 2
    assert await store.flush_failures("a1", "h1") == 0
    assert [f.hook_id for f in await store.count_failures(0)] == ["h2", "h3"]
    assert await store.flush_failures("a1") == 1
    assert await store.count_failures(0) == [FailureCount(account_id="a2", hook_id="h3", count=1)]
    # the attempts themselves stay, and their result is still a failure
    listed = await store.list_attempts("a1", created_from_ms=0, created_to_ms=100, limit=10)
    assert len(listed) == 4
    assert [a.counts_as_failure for a in listed] == [False] * 4
    assert sum(a.result == "failure" for a in listed) == 3


async def test_prune_is_strictly_older(store: Store) -> None:
    """Pruning deletes attempts created before the cut-off, keeping the one on it."""
    await store.add_attempts(
        [attempt("a1", "h1", t, attempt_id=f"p{t}") for t in (10, 20, 30, 40)]
        + [attempt("a2", "h2", 5, attempt_id="p5")]
    )
    assert await store.prune_attempts(30) == 3
    assert await store.get_attempt("p30") is not None
    assert await store.get_attempt("p20") is None
    assert await store.get_attempt("p5") is None
    assert await store.prune_attempts(30) == 0


async def test_ping_answers_while_the_database_is_reachable(store: Store) -> None:
    await store.ping()  # raises StoreError otherwise (the disruptive fault test stops it)


@pytest.mark.parametrize(
    ("search", "index"),
    [
        (AttemptSearch(call_id="c1"), "attempts_account_call"),
        (AttemptSearch(event_id="e1", result="failure"), "attempts_account_event"),
    ],
)
async def test_a_search_by_call_or_event_reads_its_index(
    tmp_path: Path, search: AttemptSearch, index: str
) -> None:
    """SQLite (which has no statistics) would walk the account's whole window in its index to
    save a sort; a search for one call or event reads that call's or event's index instead
    (with 200,000 attempts: 36 ms a search before, 0.06 ms after)."""
    url = f"sqlite:///{tmp_path / 'plan.sqlite3'}"
    async with open_store(url):
        pass
    query = AttemptQuery(
        account_id="a1",
        hook_id=None,
        created_from_ms=0,
        created_to_ms=10_000,
        descending=True,
        after=(5_000, "x"),
        limit=50,
        search=search,
    )
    sql, params = attempts_sql(query, status_sql="''")
    with sqlite3.connect(path_from_url(url)) as db:
        plan = " ".join(str(row) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert f"USING INDEX {index} " in plan, plan


async def test_a_single_copy_is_stored_once_and_reads_back(store: Store, store_url: str) -> None:
    """An attempt whose payload is its request body stores the marker in ``payload`` and
    reads back the same record, payload parsed from the body in its own key order; a row
    with both copies (every row written before) reads as it did."""
    payload = {"z": 1, "a": {"y": 1.5, "b": [18446744073709551616, "é"]}, "call_id": "c"}
    body = '{\n  "z" : 1,\n  "a" : {\n    "y" : 1.5,\n    "b" : [\n      18446744073709551616,\n      "é"\n    ]\n  },\n  "call_id" : "c"\n}'  # noqa: E501
    single = replace(
        attempt("a1", "h1", 1000, payload=payload, req_body=body, call_id="c"),
        payload_in_body=True,
    )
    # orjson cannot write an integer beyond 64 bits: a two-copy row never held one
    both = replace(
        single,
        id="both",
        payload={**payload, "a": {"y": 1.5, "b": [1, "é"]}},
        payload_in_body=False,
    )
    await store.add_attempts([single, both])
    rows = await query(store_url, "SELECT id, payload FROM attempts ORDER BY id")
    stored = dict((str(row[0]), row[1]) for row in rows)
    assert stored[single.id] == PAYLOAD_IN_BODY
    assert stored["both"] is not None and stored["both"] != PAYLOAD_IN_BODY
    assert await store.get_attempt(both.id) == both
    read = await store.get_attempt(single.id)
    assert read == single and read.payload is not None
    # the body's order (a two-copy row on PostgreSQL has jsonb's: shortest keys first)
    assert list(read.payload) == ["z", "a", "call_id"] and list(read.payload["a"]) == ["y", "b"]
    assert read.payload["a"]["b"][0] == 2**64  # not a float: the standard parser reads it
    listed = await store.list_attempts("a1", created_from_ms=0, created_to_ms=2000)
    assert sorted(listed, key=lambda a: a.id) == sorted([single, both], key=lambda a: a.id)


async def test_a_batch_in_one_statement_is_all_or_nothing(store: Store) -> None:
    """Batches of every size are written whole (one multi-row statement on SQLite, or a
    transaction when they are larger), and a duplicate anywhere writes none of them."""
    for size in (1, 7, 1001):
        batch = [attempt("a1", "h1", 5000 + n, attempt_id=f"b{size}-{n}") for n in range(size)]
        await store.add_attempts(batch)
        found = await store.list_attempts(
            "a1", created_from_ms=5000, created_to_ms=10_000, limit=2000
        )
        assert {a.id for a in batch} <= {a.id for a in found}
        with pytest.raises(Conflict):
            await store.add_attempts([attempt("a1", "h1", 1, attempt_id=f"new{size}"), batch[-1]])
        assert await store.get_attempt(f"new{size}") is None
