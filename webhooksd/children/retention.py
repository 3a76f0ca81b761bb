"""Attempt retention: delete attempts older than ``attempt_retention_days``, hourly.

Kazoo keeps attempts in monthly databases that are archived after months; a table with a
periodic delete gives the same bound without a database per month.
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
    def __init__(self, *, store: Store, retention_days: int) -> None:
        self._store = store
        self._retention_ms = retention_days * 86_400_000

    async def __call__(self, handle: ChildHandle) -> None:
        handle.ready()
        while True:
            try:
                await self.prune()
            except StoreError as exc:
                # the store is down: try again next time rather than crash (repeated crashes
                # would make the supervisor stop the whole daemon)
                log.warning("attempt pruning skipped", error=repr(exc))
            await asyncio.sleep(INTERVAL_S)

    async def prune(self) -> int:
        removed = await self._store.prune_attempts(now_ms() - self._retention_ms)
        if removed:
            log.info("old attempts deleted", count=removed)
        return removed
