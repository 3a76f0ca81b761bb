"""The PostgreSQL attempts table's daily partitions: made ahead of need, dropped when old.

Migration 6 made ``attempts`` a table partitioned by range of ``created_ms`` with one
partition per UTC day and a DEFAULT partition. Here, inside one transaction each:

* :func:`prepare` makes the partitions of today and the next days. A partition is made as a
  plain table, filled with any rows the DEFAULT partition holds for its day (written while no
  partition covered it), then attached: PostgreSQL refuses a new partition whose range the
  DEFAULT partition has rows in, so moving them first is what lets it never fail.
* :func:`drop_before` drops every partition wholly older than a bound, counting its rows
  first, then deletes by row what is older in the partition the bound falls in (and in the
  DEFAULT partition).

Both take one advisory lock per schema, so instances doing it at the same moment take turns
and each finds the other's work done; ``lock_timeout`` bounds how long one waits for the
table lock behind a long query (which would otherwise make every insert wait behind it).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any, Final

from webhooksd.store._schema import DAY_MS, DEFAULT_PARTITION, PARTITION_PREFIX

LOCK: Final = (
    "SELECT pg_advisory_xact_lock("
    "hashtextextended('webhooksd.partitions:' || COALESCE(current_schema(), ''), 0))"
)
#: a partition's DDL waits at most this long for its locks; the next pass tries again
LOCK_TIMEOUT: Final = "SET LOCAL lock_timeout = '5s'"

#: the partitions of ``attempts`` in the current schema and their bounds as text
#: (``FOR VALUES FROM ('…') TO ('…')`` or ``DEFAULT``)
_PARTITIONS: Final = (
    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
    " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'attempts'::regclass"
)
_BOUNDS = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    from_ms: int
    to_ms: int


def day_name(day: int) -> str:
    """``attempts_pYYYYMMDD`` for the UTC day number ``day`` (days since 1970-01-01)."""
    date = datetime.date(1970, 1, 1) + datetime.timedelta(days=day)
    return f"{PARTITION_PREFIX}{date:%Y%m%d}"


async def partitions(conn: Any) -> list[Partition]:
    """The range partitions, oldest first (the DEFAULT partition is not among them)."""
    found = []
    for name, bound in await conn.fetch(_PARTITIONS):
        # no bound: being detached by another instance at this moment (its catalog rows
        # change one by one); it is that instance's to drop
        match = None if bound is None else _BOUNDS.search(bound)
        if match is not None:
            found.append(Partition(name, int(match[1]), int(match[2])))
    return sorted(found, key=lambda p: p.from_ms)


async def prepare(conn: Any, now_ms: int, days_ahead: int) -> list[str]:
    """Make the missing partitions of today and the ``days_ahead`` days after it; return
    their names. ``conn`` must be in a transaction."""
    await conn.execute(LOCK)
    await conn.execute(LOCK_TIMEOUT)
    existing = await partitions(conn)
    today = now_ms // DAY_MS
    made = []
    for day in range(today, today + days_ahead + 1):
        start, end = day * DAY_MS, (day + 1) * DAY_MS
        if any(p.from_ms < end and start < p.to_ms for p in existing):
            continue
        name = day_name(day)
        await conn.execute(
            f'CREATE TABLE "{name}" (LIKE attempts INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
            " INCLUDING STORAGE)"
        )
        await conn.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION}"
            " WHERE created_ms >= $1 AND created_ms < $2 RETURNING *)"
            f' INSERT INTO "{name}" SELECT * FROM moved',
            start,
            end,
        )
        # attaching builds the partition's indexes and checks its rows against the range
        await conn.execute(
            f'ALTER TABLE attempts ATTACH PARTITION "{name}" FOR VALUES FROM ({start}) TO ({end})'
        )
        made.append(name)
    return made


async def droppable(conn: Any, older_than_ms: int) -> list[Partition]:
    """The partitions whose every row is older than ``older_than_ms``."""
    return [p for p in await partitions(conn) if p.to_ms <= older_than_ms]


async def drop(conn: Any, partition: Partition) -> int:
    """Detach and drop one partition; return how many rows it held. ``conn`` must be in a
    transaction."""
    await conn.execute(LOCK)
    await conn.execute(LOCK_TIMEOUT)
    # another instance may have dropped it while this one waited for the lock
    if not any(p.name == partition.name for p in await partitions(conn)):
        return 0
    rows = int(await conn.fetchval(f'SELECT COUNT(*) FROM "{partition.name}"'))
    await conn.execute(f'ALTER TABLE attempts DETACH PARTITION "{partition.name}"')
    await conn.execute(f'DROP TABLE "{partition.name}"')
    return rows
