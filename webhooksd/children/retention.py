"""Attempt retention: make room for the coming days' attempts and delete those older than
``attempt_retention_days``, at start and hourly.

Kazoo keeps attempts in monthly databases that are archived after months; here PostgreSQL
keeps them in daily partitions (made ``attempt_partition_days_ahead`` days ahead, dropped
whole when old) and SQLite in one table with a periodic delete.
"""

from __future__ import annotations

import asyncio

import structlog

from webhooksd.errors import StoreError
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import Store

log = structlog.get_logger(__name__)

INTERVAL_S = 3600.0


class Retention:
    def __init__(self, *, store: Store, retention_days: int, days_ahead: int) -> None:
        self._store = store
        self._retention_ms = retention_days * 86_400_000
        self._days_ahead = days_ahead

    async def __call__(self, handle: ChildHandle) -> None:
        handle.ready()
        while True:
            # each on its own: a partition that could not be made (a lock not granted in
            # time) must not keep old ones from being dropped, nor the other way round
            for step in (self.prepare, self.prune):
                try:
                    await step()
                except StoreError as exc:
                    # the store is down: try again next time rather than crash (repeated
                    # crashes would make the supervisor stop the whole daemon)
                    log.warning(
                        "attempt retention step skipped", step=step.__name__, error=repr(exc)
                    )
            await asyncio.sleep(INTERVAL_S)

    async def prepare(self) -> list[str]:
        """Make the coming days' room for attempts (PostgreSQL partitions)."""
        return await self._store.prepare_attempts(now_ms(), self._days_ahead)

    async def prune(self) -> int:
        removed = await self._store.prune_attempts(now_ms() - self._retention_ms)
        if removed:
            log.info("old attempts deleted", count=removed)
        return removed
