"""The ``store_probe`` child: can the store write now? (Kazoo has no such check: a CouchDB
that cannot write fails each save on its own.)

A store can fail only its writes — a full disk, a read-only database — while every read still
works, so a read (``Store.ping``) says nothing about whether an attempt can be recorded. This
writes the instance's heartbeat through ``Store.probe_write`` every few seconds, and whenever a
listener asks before it handles a message during an outage. ``/readyz`` shows the last answer
as its ``store`` check.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from webhooksd.errors import StoreError
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import Store

log = structlog.get_logger(__name__)

#: how often the heartbeat is written while nothing else asks
INTERVAL_S = 2.0


class StoreProbe:
    def __init__(self, *, store: Store, instance: str, interval_s: float = INTERVAL_S) -> None:
        self._store = store
        self._instance = instance
        self._interval_s = interval_s
        #: the last probe's answer; the store has just been opened and migrated (written)
        self._writable = True

    @property
    def writable(self) -> bool:
        return self._writable

    async def check(self) -> None:
        """Write the heartbeat; raises :class:`StoreError` when the store cannot write."""
        try:
            await self._store.probe_write(self._instance)
        except StoreError as exc:
            if self._writable:  # logged when it starts failing, not on every probe
                log.error("store cannot write", instance=self._instance, error=repr(exc))
            self._writable = False
            raise
        if not self._writable:
            log.info("store writes again", instance=self._instance)
        self._writable = True

    async def __call__(self, handle: ChildHandle) -> None:
        handle.ready()
        while True:
            # logged by check; the answer is in ``writable`` for /readyz
            with contextlib.suppress(StoreError):
                await self.check()
            await asyncio.sleep(self._interval_s)
