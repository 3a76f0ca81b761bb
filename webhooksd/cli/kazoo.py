"""``webhooksd kazoo …``: the commands that bring a Kazoo platform's data over."""

from __future__ import annotations

import asyncio
import sys
import time
from contextlib import AsyncExitStack
from typing import TextIO

from webhooksd.bus import Bus, open_bus
from webhooksd.config import Settings
from webhooksd.hooks.contract import discover
from webhooksd.kazoo.couch import Couch
from webhooksd.kazoo.docchanges import DocAction, publish_hook_change
from webhooksd.kazoo.import_hooks import import_hooks
from webhooksd.records import HookDoc
from webhooksd.store import open_store

from .maintenance import write_module_meta

#: notices in flight at once: one confirmed publish at a time costs about 7 ms a hook
ANNOUNCE_BATCH = 100


async def import_hooks_command(
    settings: Settings, couch_url: str | None, out: TextIO = sys.stdout
) -> int:
    """Copy Kazoo's hooks into the store and tell running instances about each one.

    Exit status 0 when the import ran (skipped documents included), 2 when no CouchDB is
    named; an unreachable CouchDB raises :class:`webhooksd.errors.CouchError` (status 1).
    """
    url = couch_url or settings.kazoo_couch_url
    if not url:
        out.write("webhooksd: name Kazoo's CouchDB with --couch-url or kazoo_couch_url\n")
        return 2
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings.store_url))
        bus: Bus | None = None
        if not settings.amqp_url.startswith("memory://"):
            bus = await stack.enter_async_context(
                open_bus(
                    settings.amqp_url,
                    connection_name=f"{settings.node}-cli",
                    queue_type=settings.queue_kind,
                )
            )
        module_meta = await store.list_module_meta()
        if not module_meta:
            # a store no daemon has run on yet knows no hook types: every hook would fail the
            # `hook` enum, so write the definitions first, as the daemon's init would
            await write_module_meta(store, settings, discover())
            module_meta = await store.list_module_meta()
        couch = await stack.enter_async_context(Couch.open(url))

        changed: list[tuple[DocAction, HookDoc]] = []

        async def remember(action: DocAction, hook: HookDoc) -> None:
            changed.append((action, hook))

        report = await import_hooks(
            couch,
            store,
            module_meta=module_meta,
            allow_private=settings.allow_private_targets,
            on_change=remember,
        )
        if bus is not None:
            await _announce(bus, settings.node, changed)
    for line in report.lines():
        out.write(line + "\n")
    out.write(f"done in {time.monotonic() - started:.1f} s\n")
    if bus is None:
        out.write(
            "no shared broker (amqp_url is memory://): restart running instances to load "
            "the imported hooks\n"
        )
    return 0


async def _announce(bus: Bus, node: str, changed: list[tuple[DocAction, HookDoc]]) -> None:
    """Publish the change notices the config listener understands, a batch at a time."""
    for start in range(0, len(changed), ANNOUNCE_BATCH):
        await asyncio.gather(
            *(
                publish_hook_change(
                    bus, action, hook_id=hook.id, account_id=hook.account_id, node=node
                )
                for action, hook in changed[start : start + ANNOUNCE_BATCH]
            )
        )
