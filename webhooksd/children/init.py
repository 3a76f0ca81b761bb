"""The one-shot ``init`` child (Kazoo ``webhooks_init`` + ``webhooks_util:load_hooks``).

Writes every hook module's metadata to the store (only when it changed), then loads accounts
and enabled hooks into the hook table. Kazoo writes metadata last and can fail to load hooks on
a first boot; here metadata comes first, so every known hook type loads.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from webhooksd.hooks.contract import HookContext, HookModule
from webhooksd.hooks.table import HookTable
from webhooksd.records import ALL_HOOK, Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import Store

log = structlog.get_logger(__name__)


class Init:
    def __init__(
        self,
        *,
        modules: Mapping[str, HookModule],
        ctx: HookContext,
        store: Store,
        table: HookTable,
        metrics: Metrics,
    ) -> None:
        self._modules = modules
        self._ctx = ctx
        self._store = store
        self._table = table
        self._metrics = metrics

    async def __call__(self, handle: ChildHandle) -> None:
        for name, module in self._modules.items():
            await module.init(self._ctx)
            log.debug("hook module initialised", module=name)
        await self.load()
        handle.ready()

    async def load(self) -> None:
        """Load accounts and enabled hooks; hooks of unknown types are skipped with a log."""
        self._table.put_accounts(await self._store.list_accounts())
        known = {*self._modules, ALL_HOOK}
        loaded = skipped = 0
        async for batch in self._store.hook_batches(enabled_only=True):
            for stored in batch:
                hook = Hook.from_doc(stored)
                if hook.hook not in known:
                    skipped += 1
                    log.warning(
                        "hook of unknown type not loaded",
                        hook_id=hook.id,
                        account_id=hook.account_id,
                        hook_event=hook.hook,
                    )
                    continue
                self._table.put(hook)
                loaded += 1
        self._metrics.hooks_loaded.set(len(self._table))
        log.info("hooks loaded", hooks=loaded, skipped=skipped, accounts=self._table.account_count)
