"""Rows to records and back, shared by the SQLite and PostgreSQL stores.

Both drivers hand back rows indexable by position (``sqlite3`` tuples, ``asyncpg.Record``),
and both take JSON as text (SQLite ``TEXT``, PostgreSQL ``jsonb`` parameters), so the column
order below is the one contract between the SQL in each store and this module.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, NoReturn, Protocol, TypeVar

import orjson

from webhooksd.errors import Conflict, NotFound
from webhooksd.records import Account, AttemptRecord, AttemptSearch, HookActivity, HookDoc

_Stamped = TypeVar("_Stamped", Account, HookDoc)

ACCOUNT_COLUMNS: Final = (
    "id, name, parent_id, tree, realm, is_reseller, enabled, doc, created_ms, modified_ms, revision"
)
HOOK_COLUMNS: Final = "id, account_id, doc, disabled_reason, created_ms, modified_ms, revision"
ATTEMPT_COLUMNS: Final = (
    "id, account_id, hook_id, event_id, created_ms, result, counts_as_failure, doc, payload"
)
#: what an attempt is inserted with: its columns and ``call_id``, which only searches read
#: (the record holds it in ``doc``)
ATTEMPT_INSERT_COLUMNS: Final = f"{ATTEMPT_COLUMNS}, call_id"


class Row(Protocol):
    """What both drivers' rows offer: positional access."""

    def __getitem__(self, index: int, /) -> Any: ...


def _default(value: object) -> object:
    # records type their documents as Mapping; orjson serialises only dict natively
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=_default).decode()


def dumps_canonical(value: Any) -> str:
    """JSON with sorted keys, so equal values are equal text (module metadata compares so)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


# -- accounts ------------------------------------------------------------------------------
def account_params(account: Account) -> tuple[Any, ...]:
    """``account`` as parameters in ``ACCOUNT_COLUMNS`` order."""
    return (
        account.id,
        account.name,
        account.parent_id,
        dumps(list(account.tree)),
        account.realm,
        account.is_reseller,
        account.enabled,
        dumps(account.doc),
        account.created_ms,
        account.modified_ms,
        account.revision,
    )


def account_from_row(row: Row) -> Account:
    return Account(
        id=row[0],
        name=row[1],
        parent_id=row[2],
        tree=tuple(loads(row[3])),
        realm=row[4],
        is_reseller=bool(row[5]),
        enabled=bool(row[6]),
        doc=loads(row[7]),
        created_ms=row[8],
        modified_ms=row[9],
        revision=row[10],
    )


def kazoo_generation(account: Account) -> int:
    """The number of the Kazoo ``_rev`` an account was copied from (``pvt_kazoo_rev``)."""
    rev = str(account.doc.get("pvt_kazoo_rev", ""))
    head = rev.split("-", 1)[0]
    return int(head) if head.isdigit() else -1


def ancestor_rows(account: Account) -> list[tuple[str, str]]:
    """``(account_id, ancestor_id)`` for every ancestor in the tree (never the account)."""
    ancestors = dict.fromkeys(a for a in account.tree if a != account.id)
    return [(account.id, ancestor) for ancestor in ancestors]


# -- hooks ---------------------------------------------------------------------------------
def hook_params(hook: HookDoc) -> tuple[Any, ...]:
    """``hook`` as parameters in ``HOOK_COLUMNS`` order, plus ``enabled`` last."""
    return (
        hook.id,
        hook.account_id,
        dumps(hook.doc),
        hook.disabled_reason,
        hook.created_ms,
        hook.modified_ms,
        hook.revision,
        hook.enabled,
    )


async def hooks_by_id(
    fetch: Callable[[str], Awaitable[Sequence[Row]]],
) -> AsyncIterator[list[HookDoc]]:
    """Keyset paging over hooks: ``fetch(after)`` returns the next rows whose id is greater
    than ``after``, in id order; each batch is yielded until one comes back empty."""
    after = ""
    while rows := await fetch(after):
        batch = [hook_from_row(row) for row in rows]
        after = batch[-1].id
        yield batch


def hook_from_row(row: Row) -> HookDoc:
    return HookDoc(
        id=row[0],
        account_id=row[1],
        doc=loads(row[2]),
        disabled_reason=row[3],
        created_ms=row[4],
        modified_ms=row[5],
        revision=row[6],
    )


# -- attempts ------------------------------------------------------------------------------
#: the ``payload`` column of an attempt whose payload is its request body (``doc``'s
#: ``req_body``, the payload's JSON): one copy instead of two, each attempt's largest field.
#: A JSON string, so it is valid ``jsonb`` too, and never a payload (always an object).
PAYLOAD_IN_BODY: Final = '"req_body"'


def _payload_from_body(doc: Mapping[str, Any]) -> Any:
    # the standard parser, not orjson: orjson reads an integer beyond 64 bits as a float, and
    # the payload must come back exactly as it was sent (order, numbers, strings); a row read
    # for a replay or a view is rare, so its speed does not matter
    return json.loads(doc["req_body"])


def attempt_params(attempt: AttemptRecord) -> tuple[Any, ...]:
    """``attempt`` as parameters in ``ATTEMPT_INSERT_COLUMNS`` order."""
    return (
        attempt.id,
        attempt.account_id,
        attempt.hook_id,
        attempt.event_id,
        attempt.created_ms,
        attempt.result,
        attempt.counts_as_failure,
        dumps(attempt.doc),
        (
            None
            if attempt.payload is None
            else PAYLOAD_IN_BODY
            if attempt.payload_in_body
            else dumps(attempt.payload)
        ),
        attempt.call_id,
    )


def attempt_from_row(row: Row) -> AttemptRecord:
    """An attempt from its row; a row written before single copies holds both, and reads as
    it always did."""
    doc = loads(row[7])
    stored = row[8]
    in_body = stored == PAYLOAD_IN_BODY
    return AttemptRecord(
        id=row[0],
        account_id=row[1],
        hook_id=row[2],
        event_id=row[3],
        created_ms=row[4],
        result=row[5],
        counts_as_failure=bool(row[6]),
        doc=doc,
        payload=_payload_from_body(doc) if in_body else None if stored is None else loads(stored),
        payload_in_body=in_body,
    )


# -- stamping ------------------------------------------------------------------------------
def stamp_new(record: _Stamped, now: int) -> _Stamped:
    """A record as first stored: revision 1; created/modified now unless the caller set them
    (an import keeps Kazoo's ``pvt_created``)."""
    created = record.created_ms or now
    modified = record.modified_ms or created
    return replace(record, created_ms=created, modified_ms=modified, revision=1)


def check_revision(kind: str, record_id: str, stored: int | None, given: int) -> NoReturn:
    """Why an ``UPDATE … WHERE revision = given`` changed nothing: NotFound or Conflict."""
    if stored is None:
        raise NotFound(f"{kind} {record_id} does not exist")
    raise Conflict(f"{kind} {record_id} is at revision {stored}, not {given}")


# -- attempt listing -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptQuery:
    """The arguments of ``Store.list_attempts``."""

    account_id: str
    hook_id: str | None
    created_from_ms: int
    created_to_ms: int
    descending: bool
    after: tuple[int, str] | None
    limit: int
    search: AttemptSearch | None = None


def _search_clauses(search: AttemptSearch, status_sql: str) -> tuple[list[str], list[Any]]:
    """``search`` as ``WHERE`` clauses: columns compared, and the response's status code
    read from the doc as text (``status_sql``, the dialect's way), a class as a pattern."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("event_id", search.event_id),
        ("call_id", search.call_id),
        ("result", search.result),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if search.status is not None:
        clauses.append(f"{status_sql} LIKE ?")
        params.append(search.status.lower().replace("x", "_"))
    return clauses, params


def attempts_sql(query: AttemptQuery, *, status_sql: str) -> tuple[str, list[Any]]:
    """``SELECT`` for one page of attempts, with ``?`` placeholders, and its parameters.
    ``status_sql`` is the dialect's expression for ``doc``'s ``resp_status_code`` as text.

    Keyset paging: the page starts strictly after ``query.after`` in the order's direction,
    so a page boundary never repeats or skips a row even when many share ``created_ms``.
    """
    # a search for one call or event reads its own index (account, call or event, time): the
    # window and the order are then on ``+created_ms``, which no index answers, or else
    # SQLite (without statistics) walks the whole window of the account's index instead, to
    # save sorting the few rows the narrow index finds (20,000 rows read for one: 36 ms)
    narrow = query.search is not None and (
        query.search.call_id is not None or query.search.event_id is not None
    )
    window = "+created_ms" if narrow else "created_ms"
    clauses = ["account_id = ?", f"{window} >= ?", f"{window} <= ?"]
    params: list[Any] = [query.account_id, query.created_from_ms, query.created_to_ms]
    if query.hook_id is not None:
        clauses.append("hook_id = ?")
        params.append(query.hook_id)
    if query.search is not None:
        more, values = _search_clauses(query.search, status_sql)
        clauses.extend(more)
        params.extend(values)
    if query.after is not None:
        op = "<" if query.descending else ">"
        clauses.append(f"(created_ms {op} ? OR (created_ms = ? AND id {op} ?))")
        params.extend((query.after[0], query.after[0], query.after[1]))
    order = "DESC" if query.descending else "ASC"
    params.append(max(0, query.limit))
    sql = (
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE {' AND '.join(clauses)}"
        f" ORDER BY {window} {order}, id {order} LIMIT ?"
    )
    return sql, params


# -- hook activity (the health listing) ----------------------------------------------------
#: per hook of one account with attempts since a bound: its newest attempt and its counts, in
#: one range read of the ``attempts_account`` index (a window ranks each hook's attempts once).
#: Parameters: account, since, hour bound, hour bound, recent, recent. SQL both stores run.
ACTIVITY_SQL: Final = """
WITH ranked AS (
    SELECT id, account_id, hook_id, event_id, created_ms, result, counts_as_failure, doc,
        ROW_NUMBER() OVER (PARTITION BY hook_id ORDER BY created_ms DESC, id DESC) AS n
    FROM attempts WHERE account_id = ? AND created_ms >= ?
), totals AS (
    SELECT hook_id,
        COUNT(*) AS day_attempts,
        SUM(CASE WHEN result = 'success' THEN 1 ELSE 0 END) AS day_successes,
        SUM(CASE WHEN created_ms >= ? THEN 1 ELSE 0 END) AS hour_attempts,
        SUM(CASE WHEN created_ms >= ? AND result = 'success' THEN 1 ELSE 0 END) AS hour_successes,
        SUM(CASE WHEN n <= ? THEN 1 ELSE 0 END) AS recent_attempts,
        SUM(CASE WHEN n <= ? AND result <> 'success' THEN 1 ELSE 0 END) AS recent_failures
    FROM ranked GROUP BY hook_id
)
SELECT r.id, r.account_id, r.hook_id, r.event_id, r.created_ms, r.result, r.counts_as_failure,
    r.doc, NULL, t.day_attempts, t.day_successes, t.hour_attempts, t.hour_successes,
    t.recent_attempts, t.recent_failures
FROM ranked r JOIN totals t ON t.hook_id = r.hook_id
WHERE r.n = 1 ORDER BY r.hook_id
"""


def activity_params(account_id: str, since_ms: int, hour_from_ms: int, recent: int) -> list[Any]:
    return [account_id, since_ms, hour_from_ms, hour_from_ms, recent, recent]


def activity_from_row(row: Row) -> HookActivity:
    return HookActivity(
        hook_id=row[2],
        last=attempt_from_row(row),
        day_attempts=int(row[9]),
        day_successes=int(row[10]),
        hour_attempts=int(row[11]),
        hour_successes=int(row[12]),
        recent_attempts=int(row[13]),
        recent_failures=int(row[14]),
    )
