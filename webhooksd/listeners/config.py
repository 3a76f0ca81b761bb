"""The config listener (Kazoo ``webhooks_listener``): keeps this instance's hook table in step.

Each instance has its own auto-delete queue, so every instance hears every change. Notices
carry no document: the hook or account is re-read from the store, so a late or duplicated
notice cannot install stale data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from webhooksd.bus import Bus, Message, QueueSpec
from webhooksd.hooks.contract import Binding
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.docchanges import ACCOUNTS_DB, ALL_ACCOUNTS, WEBHOOKS_DB
from webhooksd.kazoo.events import decode
from webhooksd.listeners.base import QueueListener
from webhooksd.records import Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store

log = structlog.get_logger(__name__)

BINDINGS = (
    Binding("configuration", f"*.{WEBHOOKS_DB}.webhook.*"),
    Binding("configuration", "doc_deleted.*.account.*"),
    # not in Kazoo: new and edited accounts, so sub-account events find their tree at once
    Binding("configuration", f"*.{ACCOUNTS_DB}.account.*"),
)


class ConfigListener(QueueListener):
    name = "config_listener"

    def __init__(
        self,
        *,
        bus: Bus,
        metrics: Metrics,
        store: Store,
        table: HookTable,
        known_hooks: set[str],
        drain_timeout_s: float,
        on_account_change: Callable[[str], None] = lambda account_id: None,
    ) -> None:
        super().__init__(bus=bus, metrics=metrics, prefetch=50, drain_timeout_s=drain_timeout_s)
        self._store = store
        self._table = table
        self._known = known_hooks
        self._on_account_change = on_account_change

    def queue_spec(self) -> QueueSpec:
        return QueueSpec(exclusive=True, auto_delete=True)

    def bindings(self) -> Sequence[Binding]:
        return BINDINGS

    async def process(self, message: Message) -> None:
        event = decode(message)
        body = event.body
        doc_type, doc_id = body.get("Type"), body.get("ID")
        if not isinstance(doc_id, str):
            return
        if doc_type == "webhook" and body.get("Database") == WEBHOOKS_DB:
            await self._hook_changed(event.name, doc_id)
        elif doc_type == "account":
            await self._account_changed(event.name, body.get("Account-ID") or doc_id, doc_id)
        self._metrics.hooks_loaded.set(len(self._table))

    async def _hook_changed(self, action: str, hook_id: str) -> None:
        stored = None if action == "doc_deleted" else await self._store.get_hook(hook_id)
        if stored is None or not stored.enabled:
            if self._table.remove(hook_id) is not None:
                log.info("hook unloaded", hook_id=hook_id, action=action)
        else:
            hook = Hook.from_doc(stored)
            if self._table.account(hook.account_id) is None:
                # created by another process (CLI) whose notice we could not hear
                account = await self._store.get_account(hook.account_id)
                if account is not None:
                    self._table.put_account(account)
            if hook.hook in self._known:
                self._table.put(hook)
                log.info("hook loaded", hook_id=hook_id, account_id=hook.account_id, action=action)
        if action == "doc_edited" and stored is not None:
            # as Kazoo: an edited hook starts counting failures afresh
            await self._store.flush_failures(stored.account_id, hook_id)

    async def _account_changed(self, action: str, account_id: object, doc_id: str) -> None:
        target = account_id if isinstance(account_id, str) else doc_id
        if doc_id == ALL_ACCOUNTS and action != "doc_deleted":
            everyone = await self._store.list_accounts()
            self._table.put_accounts(everyone)
            for each in everyone:
                self._on_account_change(each.id)
            log.info("accounts reloaded", accounts=len(everyone))
            return
        self._on_account_change(target)
        if action == "doc_deleted":
            removed = self._table.remove_account(target)
            log.info("account unloaded", account_id=target, hooks=len(removed))
            return
        account = await self._store.get_account(doc_id)
        if account is not None:
            self._table.put_account(account)
