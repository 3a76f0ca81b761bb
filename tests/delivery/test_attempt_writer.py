"""Group commit of attempt records against the real SQLite store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from webhooksd.delivery.attempt_writer import AttemptWriter
from webhooksd.errors import StoreError
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import AttemptRecord
from webhooksd.store import Store, open_store


class CountingStore:
    """The real store, counting its add_attempts transactions (and failing on demand)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.transactions: list[int] = []
        self.fail = False

    async def add_attempts(self, attempts: Sequence[AttemptRecord]) -> None:
        self.transactions.append(len(attempts))
        if self.fail:
            raise StoreError("disk full")
        await self.store.add_attempts(attempts)


@pytest.fixture(name="counting")
async def _counting(tmp_path: Path) -> AsyncIterator[CountingStore]:
    """A SQLite store wrapped to count transactions."""
    async with open_store(f"sqlite:///{tmp_path}/a.sqlite3") as store:
        yield CountingStore(store)


def _record() -> AttemptRecord:
    return AttemptRecord(
        id=uuid.uuid4().hex,
        account_id="a" * 32,
        hook_id="h" * 32,
        event_id="e" * 10,
        created_ms=now_ms(),
        result="success",
        counts_as_failure=False,
        doc={"result": "success"},
    )


async def test_concurrent_writers_share_transactions(counting: CountingStore) -> None:
    """200 concurrent writers need far fewer transactions, and every record is stored."""
    writer = AttemptWriter(counting)  # type: ignore[arg-type]
    await asyncio.gather(*(writer.write([_record()]) for _ in range(200)))
    stored = await counting.store.list_attempts(
        "a" * 32, created_from_ms=0, created_to_ms=2**62, limit=1000
    )
    assert len(stored) == 200 and sum(counting.transactions) == 200
    assert len(counting.transactions) < 20


async def test_a_single_writer_is_written_at_once(counting: CountingStore) -> None:
    """With nothing else pending, one record is one transaction, right away."""
    await AttemptWriter(counting).write([_record()])  # type: ignore[arg-type]
    assert counting.transactions == [1]


async def test_linger_gathers_writers_that_arrive_within_it(counting: CountingStore) -> None:
    """With a linger, writers arriving one after another within it share one transaction
    (without one, each of them would find nothing pending and write alone)."""
    writer = AttemptWriter(counting, linger_s=0.05)  # type: ignore[arg-type]

    async def later(delay: float) -> None:
        await asyncio.sleep(delay)
        await writer.write([_record()])

    await asyncio.gather(*(later(n * 0.005) for n in range(5)))
    assert counting.transactions == [5]
    eager = AttemptWriter(counting)  # type: ignore[arg-type]
    counting.transactions.clear()
    for _ in range(3):
        await eager.write([_record()])
    assert counting.transactions == [1, 1, 1]


async def test_linger_flushes_a_full_batch_at_once(counting: CountingStore) -> None:
    writer = AttemptWriter(counting, linger_s=60, max_batch=3)  # type: ignore[arg-type]
    await asyncio.wait_for(writer.write([_record(), _record(), _record()]), 5)
    assert counting.transactions == [3]


async def test_a_failed_transaction_fails_each_of_its_writers(counting: CountingStore) -> None:
    """A store error reaches every writer whose records were in the failed transaction."""
    counting.fail = True
    writer = AttemptWriter(counting)  # type: ignore[arg-type]
    results = await asyncio.gather(
        *(writer.write([_record()]) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, StoreError) for r in results)
