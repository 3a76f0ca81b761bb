"""The disabler (Kazoo ``webhooks_disabler``): switch off hooks whose server keeps failing.

Every ``attempt_failure_expiry_ms / 4`` it counts each hook's failed attempts inside the window
— from the store, so the count spans every instance — and disables each hook with at least
``attempt_failure_count`` of them: ``enabled: false``, the reason kept (shown by the API as
``disable_reason``), ``webhook_disabled`` published on ``notifications``, every instance's
table told through a ``doc_edited`` notice, and the account's own alerts handed to the alerts
child (:mod:`webhooksd.children.alerts`, which sends them without holding up this pass).
Both settings can be overridden per account.
Several instances may run the check at once: the store's revision check lets one of them win.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import orjson
import structlog

from webhooksd.bus import Bus
from webhooksd.config import Settings
from webhooksd.errors import BusError, Conflict, StoreError
from webhooksd.kazoo.docchanges import publish_hook_change
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import AUTO_DISABLE_REASON, FailureCount, Hook, HookDoc
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import SYSTEM, Store

log = structlog.get_logger(__name__)

COUNT_KEY = "attempt_failure_count"
EXPIRY_KEY = "attempt_failure_expiry_ms"


class DisableAlerts(Protocol):
    """Protocol: told of each hook this instance disabled (the alerts child); must not block."""

    def disabled(self, hook: HookDoc, reason: str, failures: int) -> None: ...


class Disabler:
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        bus: Bus,
        metrics: Metrics,
        unload: Callable[[str], object] = lambda hook_id: None,
        alerts: DisableAlerts | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._bus = bus
        self._metrics = metrics
        #: drops a hook from this instance's table (``HookTable.remove``)
        self._unload = unload
        self._alerts = alerts

    async def __call__(self, handle: ChildHandle) -> None:
        handle.ready()
        if self._settings.disable_disabler:
            log.info("disabler switched off (disable_disabler)")
            await asyncio.Future()
        while True:
            await asyncio.sleep(await self._period_s())
            try:
                await self.check()
            except (StoreError, BusError) as exc:
                # a store or broker outage skips this pass: crashing would make the supervisor
                # give up within seconds and take the whole daemon down with the store
                log.warning("disabler pass skipped", error=repr(exc))

    async def _period_s(self) -> float:
        try:
            expiry = (await self._system_limits())[1]
        except StoreError:
            expiry = self._settings.attempt_failure_expiry_ms
        return expiry / 4 / 1000

    async def _system_limits(self) -> tuple[int, int]:
        stored = await self._store.get_settings(SYSTEM)
        return (
            _positive_int(stored.get(COUNT_KEY), self._settings.attempt_failure_count),
            _positive_int(stored.get(EXPIRY_KEY), self._settings.attempt_failure_expiry_ms),
        )

    async def check(self) -> list[str]:
        """One pass: disable every hook at or over its threshold; return their ids."""
        threshold, expiry = await self._system_limits()
        now = now_ms()
        disabled: list[str] = []
        accounts: dict[str, tuple[int, int]] = {}
        for failure in await self._store.count_failures(now - expiry):
            limits = accounts.get(failure.account_id)
            if limits is None:
                limits = await self._account_limits(failure.account_id, threshold, expiry)
                accounts[failure.account_id] = limits
            count = await self._count_in_window(failure, limits[1], expiry, now)
            disable = count >= limits[0]
            if disable and await self.disable(failure.hook_id, AUTO_DISABLE_REASON, count):
                disabled.append(failure.hook_id)
        return disabled

    async def _account_limits(
        self, account_id: str, threshold: int, expiry: int
    ) -> tuple[int, int]:
        stored = await self._store.get_settings(account_id)
        return (
            _positive_int(stored.get(COUNT_KEY), threshold),
            _positive_int(stored.get(EXPIRY_KEY), expiry),
        )

    async def _count_in_window(
        self, failure: FailureCount, account_expiry: int, system_expiry: int, now: int
    ) -> int:
        if account_expiry == system_expiry:
            return failure.count
        recount = await self._store.count_failures(
            now - account_expiry, account_id=failure.account_id
        )
        return next((f.count for f in recount if f.hook_id == failure.hook_id), 0)

    async def disable(self, hook_id: str, reason: str, failures: int = 1) -> bool:
        """Disable one hook with ``reason`` (after ``failures`` failed attempts); False if it
        is gone, already off, or another instance changed it first."""
        stored = await self._store.get_hook(hook_id)
        if stored is None or not stored.enabled:
            return False
        try:
            saved = await self._store.update_hook(
                replace(stored, doc={**stored.doc, "enabled": False}, disabled_reason=reason)
            )
        except Conflict:
            return False
        # this instance stops firing it now; the others when the doc_edited notice reaches
        # their config listener (which re-reads the store, so the order does not matter)
        self._unload(saved.id)
        await self._store.flush_failures(saved.account_id, saved.id)
        node = self._settings.node
        await publish_hook_change(
            self._bus, "doc_edited", hook_id=saved.id, account_id=saved.account_id, node=node
        )
        await self._bus.publish(
            "notifications",
            "notifications.webhook.disabled",
            orjson.dumps(webhook_disabled_body(saved.account_id, saved.id, node)),
        )
        self._metrics.hooks_auto_disabled.inc()
        if self._alerts is not None:  # the account's own e-mail and POST, beside Kazoo's
            self._alerts.disabled(saved, reason, failures)
        log.warning("hook disabled", hook_id=saved.id, account_id=saved.account_id, reason=reason)
        return True

    async def disable_gone(self, hook: Hook, reason: str) -> None:
        """The dispatcher's ``on_gone``: a receiver answered 410, so stop at once."""
        await self.disable(hook.id, reason)


def webhook_disabled_body(account_id: str, hook_id: str, node: str) -> dict[str, Any]:
    """Kazoo's ``webhook_disabled`` notification (``kapi_notifications``)."""
    return {
        "Account-ID": account_id,
        "Hook-ID": hook_id,
        "App-Name": "webhooks",
        "App-Version": "4.0.0",
        "Node": node,
        "Event-Category": "notification",
        "Event-Name": "webhook_disabled",
        "Msg-ID": secrets.token_hex(16),
    }


def _positive_int(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default
