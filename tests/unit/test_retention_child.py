"""The retention child: each pass makes the coming days' room and prunes, each on its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.store.factories import attempt
from tests.waiting import eventually
from webhooksd.children.retention import Retention
from webhooksd.errors import StoreError
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store.sqlite import SqliteStore


class CannotPrepare(SqliteStore):
    """A real SQLite store whose partition step fails, as a lock not granted in time does."""

    async def prepare_attempts(self, now_ms: int, days_ahead: int) -> list[str]:
        raise StoreError("lock timeout")


async def test_a_failing_prepare_does_not_stop_pruning(tmp_path: Path) -> None:
    """The pass still deletes old attempts when making partitions fails, and keeps going."""
    async with CannotPrepare.open(f"sqlite:///{tmp_path / 's.sqlite3'}") as store:
        old = attempt("a1", "h1", now_ms() - 40 * 86_400_000)
        new = attempt("a1", "h1", now_ms())
        await store.add_attempts([old, new])
        handle = ChildHandle("retention")
        task = asyncio.create_task(Retention(store=store, retention_days=35, days_ahead=7)(handle))
        try:

            async def pruned() -> bool:
                return await store.get_attempt(old.id) is None

            await eventually(pruned)
            assert not task.done()
            assert await store.get_attempt(new.id) == new
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
