"""Group commit for attempt records: concurrent deliveries share store transactions.

Each caller still waits until its records are in the store (an event is acked only after its
attempts are recorded), but while one transaction is being written the records of every other
delivery gather, and all of them go in the next one. With no load a record is written at once;
under load batches grow by themselves — no timer, no added latency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from webhooksd.errors import StoreError
from webhooksd.records import AttemptRecord
from webhooksd.store import Store

_Pending = tuple[Sequence[AttemptRecord], "asyncio.Future[None]"]


class AttemptWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[_Pending] = []
        #: set while a transaction is being written; resolved when it is done
        self._flushing: asyncio.Future[None] | None = None

    async def write(self, records: Sequence[AttemptRecord]) -> None:
        if not records:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((records, done))
        while not done.done():
            if self._flushing is None:
                await self._flush_once()
            else:
                await asyncio.shield(self._flushing)
        await done

    async def _flush_once(self) -> None:
        """Write everything pending in one transaction. Each flusher writes one batch and
        returns, so no caller keeps flushing for others under sustained load."""
        flushing = self._flushing = asyncio.get_running_loop().create_future()
        batch, self._pending = self._pending, []
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
