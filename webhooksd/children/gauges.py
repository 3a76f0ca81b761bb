"""The ``gauges`` child: samples what only the broker knows (queue depths) for ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from webhooksd.bus import DEAD_LETTER, Bus
from webhooksd.hooks.table import HookTable
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle

log = structlog.get_logger(__name__)


class Gauges:
    def __init__(
        self,
        *,
        bus: Bus,
        metrics: Metrics,
        table: HookTable,
        queues: Sequence[str],
        interval_s: float = 15.0,
    ) -> None:
        self._bus = bus
        self._metrics = metrics
        self._table = table
        self._queues = (*queues, DEAD_LETTER)
        self._interval_s = interval_s

    async def __call__(self, handle: ChildHandle) -> None:
        handle.ready()
        while True:
            await self.sample()
            await asyncio.sleep(self._interval_s)

    async def sample(self) -> None:
        self._metrics.hooks_loaded.set(len(self._table))
        for queue in self._queues:
            depth = await self._bus.queue_depth(queue)
            if depth is not None:
                self._metrics.queue_depth.labels(queue=queue).set(depth)
