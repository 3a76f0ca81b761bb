"""The daemon's :class:`webhooksd.hooks.contract.HookContext`: what hook modules are handed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from webhooksd.hooks import matching
from webhooksd.hooks.contract import AccountInfo, Metadata, ModuleSettings
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.events import Event
from webhooksd.records import Hook
from webhooksd.store import Store

Fire = Callable[
    [Event, Mapping[str, Any], Sequence[Hook], Mapping[str, Any] | None], Awaitable[None]
]


class DaemonHookContext:
    """Binds the hook table, the store and the dispatcher's ``fire`` for hook modules."""

    def __init__(
        self, *, settings: ModuleSettings, table: HookTable, store: Store, fire: Fire
    ) -> None:
        self._settings = settings
        self._table = table
        self._store = store
        self._fire = fire

    @property
    def settings(self) -> ModuleSettings:
        return self._settings

    def account(self, account_id: str) -> AccountInfo | None:
        return self._table.account(account_id)

    def find_hooks(self, hook_event: str, account_id: str | None) -> list[Hook]:
        return matching.find(self._table, hook_event, account_id)

    async def fire(
        self,
        event: Event,
        payload: Mapping[str, Any],
        hooks: Sequence[Hook],
        *,
        v2: Mapping[str, Any] | None = None,
    ) -> None:
        if hooks:
            await self._fire(event, payload, hooks, v2)

    async def init_metadata(self, metadata: Metadata) -> None:
        await self._store.put_module_meta(metadata.id, metadata.to_doc())
