"""Group commit for attempt records: concurrent deliveries share store transactions.

Each caller still waits until its records are in the store (an event is acked only after its
attempts are recorded), but while one transaction is being written the records of every other
delivery gather, and all of them go in the next one. Under full load batches grow by
themselves. At a moderate rate they would stay at one or two records, each transaction costing
a trip to SQLite's thread or round trips to PostgreSQL, so a writer that finds nothing being
written first waits ``linger_s`` for others to join (``max_batch`` records flush at once). The
wait delays only the ack and the record, never the delivery: the request has been sent by then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from webhooksd.errors import StoreError
from webhooksd.records import AttemptRecord
from webhooksd.store import Store

_Pending = tuple[Sequence[AttemptRecord], "asyncio.Future[None]"]


class AttemptWriter:
    def __init__(self, store: Store, *, linger_s: float = 0.0, max_batch: int = 100) -> None:
        self._store = store
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._pending_records = 0
        #: set while a transaction is being written; resolved when it is done
        self._flushing: asyncio.Future[None] | None = None

    async def write(self, records: Sequence[AttemptRecord]) -> None:
        if not records:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((records, done))
        self._pending_records += len(records)
        while not done.done():
            if self._flushing is not None:
                await asyncio.shield(self._flushing)
            elif self._linger_s > 0 and self._pending_records < self._max_batch:
                # let the deliveries finishing meanwhile join this transaction; whoever wakes
                # first writes them all, and the others find their records done
                await asyncio.sleep(self._linger_s)
                if not done.done() and self._flushing is None:
                    await self._flush_once()
            else:
                await self._flush_once()
        await done

    async def _flush_once(self) -> None:
        """Write everything pending in one transaction. Each flusher writes one batch and
        returns, so no caller keeps flushing for others under sustained load."""
        flushing = self._flushing = asyncio.get_running_loop().create_future()
        batch, self._pending, self._pending_records = self._pending, [], 0
        try:
            await self._store.add_attempts([r for records, _ in batch for r in records])
        except Exception as exc:
            _settle(batch, exc)
        except BaseException:
            # cancelled mid-write: fail the waiters rather than leave them hanging (their
            # messages are requeued and the attempts written again)
            _settle(batch, StoreError("attempt write interrupted"))
            raise
        else:
            _settle(batch, None)
        finally:
            self._flushing = None
            flushing.set_result(None)


def _settle(batch: list[_Pending], exc: BaseException | None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)
