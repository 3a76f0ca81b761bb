"""Re-enabling auto-disabled hooks (Kazoo ``webhooks_util:reenable/2``).

Only hooks the disabler switched off (``enabled: false`` with a disable reason) come back; a
hook switched off by hand stays off. Each re-enabled hook's failures stop counting, and every
instance hears of it through a ``doc_edited`` notice.
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from webhooksd.bus import Bus
from webhooksd.errors import Conflict
from webhooksd.kazoo.docchanges import publish_hook_change
from webhooksd.records import HookDoc
from webhooksd.store import Store

log = structlog.get_logger(__name__)


async def enable_hook_doc(store: Store, stored: HookDoc) -> HookDoc:
    """Switch one hook on and clear its disable reason (``kzd_webhooks:enable/1``)."""
    doc = {**stored.doc, "enabled": True}
    return await store.update_hook(replace(stored, doc=doc, disabled_reason=None))


async def reenable_account(store: Store, bus: Bus, account_id: str, *, node: str) -> list[str]:
    """Re-enable the auto-disabled hooks of one account; return their ids."""
    enabled: list[str] = []
    for stored in await store.list_hooks(account_id):
        if not stored.is_auto_disabled:
            continue
        try:
            saved = await enable_hook_doc(store, stored)
        except Conflict:  # edited meanwhile: re-read once, it may no longer be auto-disabled
            fresh = await store.get_hook(stored.id)
            if fresh is None or not fresh.is_auto_disabled:
                continue
            saved = await enable_hook_doc(store, fresh)
        await store.flush_failures(account_id, saved.id)
        await publish_hook_change(
            bus, "doc_edited", hook_id=saved.id, account_id=account_id, node=node
        )
        enabled.append(saved.id)
    if enabled:
        log.info("hooks re-enabled", account_id=account_id, count=len(enabled))
    return enabled


async def reenable(
    store: Store, bus: Bus, account_id: str, *, descendants: bool, node: str
) -> list[str]:
    """Re-enable the auto-disabled hooks of an account, and of its descendants if asked."""
    accounts = [account_id]
    if descendants:
        accounts.extend(a.id for a in await store.list_descendants(account_id))
    enabled: list[str] = []
    for each in accounts:
        enabled.extend(await reenable_account(store, bus, each, node=node))
    return enabled
