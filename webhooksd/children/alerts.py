"""The alerts child: tells an account when the server disabled one of its hooks, and when a
hook disabled that way delivers again (first success after it was re-enabled).

The disabler and the dispatcher hand it what happened without waiting (:meth:`Alerts.disabled`,
:meth:`Alerts.delivered`: a set lookup on the delivery path); this child writes what must be
shared, rate-limits (:mod:`webhooksd.alerts.throttle`) and sends each alert to the account's
addresses (SMTP) and alert URL (a signed POST through the hooks' sender), each tried at most
``alert_attempts`` times. A failure is logged at warning once per account, channel and
interval.

Several instances: a hook is disabled by one instance (the store's revision check), which
alerts and leaves a recovery marker in the store (``alert_recovery:<hook id>`` of the system
settings). Every instance reads the markers into a set; the first instance to deliver to the
hook afterwards takes the marker (:meth:`Store.take_setting`: exactly one succeeds) and sends
the recovery alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from webhooksd.alerts.account import SETTINGS_KEY, AccountAlerts
from webhooksd.alerts.events import DISABLED, RECOVERED, Alert
from webhooksd.alerts.mail import Mailer, compose
from webhooksd.alerts.post import alert_request
from webhooksd.alerts.throttle import Throttle
from webhooksd.bounded import BoundedCache
from webhooksd.config import Settings
from webhooksd.delivery.outcome import Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.errors import StoreError
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import Hook, HookDoc
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import SYSTEM, Store

log = structlog.get_logger(__name__)

#: how long stopping waits for alert sends in flight to end
STOP_TIMEOUT_S = 5.0

MARKER_PREFIX = "alert_recovery:"
#: how often the recovery markers other instances wrote are read
REFRESH_S = 10.0
#: alerts waiting to be handled at most (a burst past it is dropped, and logged)
QUEUE_SIZE = 10_000
#: alerts being sent at once
CONCURRENCY = 10


class Poster(Protocol):
    """Protocol: send one request (the hooks' ``Sender``)."""

    async def send(self, request: OutboundRequest) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class _Disabled:
    alert: Alert


@dataclass(frozen=True, slots=True)
class _Delivered:
    hook_id: str
    account_id: str
    hook_name: str
    at_ms: int


def marker_key(hook_id: str) -> str:
    return MARKER_PREFIX + hook_id


class Alerts:
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        poster: Poster,
        mailer: Mailer,
        refresh_s: float = REFRESH_S,
        retry_base_s: float = 1.0,
    ) -> None:
        self._settings = settings
        self._store = store
        self._poster = poster
        self._mailer = mailer
        self._refresh_s = refresh_s
        self._retry_base_s = retry_base_s
        self._queue: asyncio.Queue[_Disabled | _Delivered] = asyncio.Queue(QUEUE_SIZE)
        self._throttle = Throttle(settings.alert_interval_s)
        #: hooks with a recovery marker in the store (as last read, plus this instance's)
        self._pending: set[str] = set()
        #: hooks disabled here whose marker is not written yet (a refresh must keep them)
        self._marking: set[str] = set()
        #: markers whose hook was looked up once (a deleted hook's marker is dropped)
        self._checked: BoundedCache[str, bool] = BoundedCache(100_000)
        self._logged_failure: BoundedCache[tuple[str, str], float] = BoundedCache(10_000)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._sending: set[asyncio.Task[None]] = set()

    # -- what the disabler and the dispatcher call (never blocking) -------------------------
    def disabled(self, hook: HookDoc, reason: str, failures: int) -> None:
        """The server switched ``hook`` off (this instance won the write)."""
        self._pending.add(hook.id)
        self._marking.add(hook.id)
        alert = Alert(
            type=DISABLED,
            account_id=hook.account_id,
            hook_id=hook.id,
            hook_name=str(hook.doc.get("name", "")),
            reason=reason,
            failures=failures,
            at_ms=now_ms(),
        )
        self._put(_Disabled(alert))

    def delivered(self, hook: Hook) -> None:
        """An event reached ``hook``: if the server had disabled it, it has recovered."""
        if hook.id in self._pending:
            self._pending.discard(hook.id)
            self._put(_Delivered(hook.id, hook.account_id, hook.name, now_ms()))

    def awaiting_recovery(self, hook_id: str) -> bool:
        """Whether a delivery to the hook would be its recovery, as far as this instance knows."""
        return hook_id in self._pending

    def _put(self, item: _Disabled | _Delivered) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("alert dropped: too many waiting", hook_id=item_hook(item))

    # -- the child -------------------------------------------------------------------------
    async def __call__(self, handle: ChildHandle) -> None:
        refresher = asyncio.create_task(self._refresh_loop())
        handle.ready()
        try:
            while True:
                timeout = self._throttle.next_due_s()
                item = None
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that arrives as the get completes, and the child never stops
                with contextlib.suppress(TimeoutError):  # a held alert is due
                    async with asyncio.timeout(timeout):
                        item = await self._queue.get()
                if item is not None:
                    await self._handle(item)
                for alert in self._throttle.due():
                    self._spawn(alert)
        finally:
            refresher.cancel()
            for task in (refresher, *self._sending):
                task.cancel()
            # bounded: a send stuck in its client must not hold the daemon's shutdown
            stopping = [refresher, *self._sending]
            _, stuck = await asyncio.wait(stopping, timeout=STOP_TIMEOUT_S)
            if stuck:
                log.warning("alert sends did not stop in time", count=len(stuck))

    async def _handle(self, item: _Disabled | _Delivered) -> None:
        if isinstance(item, _Disabled):
            await self._mark(item.alert)
            alert: Alert | None = item.alert
        else:
            alert = await self._claim(item)
        if alert is not None:
            offered = self._throttle.offer(alert)
            if offered is None:
                log.info("alert held by the rate limit", hook_id=alert.hook_id, type=alert.type)
            else:
                self._spawn(offered)

    async def _mark(self, alert: Alert) -> None:
        marker = {
            "account_id": alert.account_id,
            "hook_name": alert.hook_name,
            "reason": alert.reason,
            "failures": alert.failures,
            "disabled_at_ms": alert.at_ms,
        }
        try:
            await self._store.set_setting(SYSTEM, marker_key(alert.hook_id), marker)
        except StoreError as exc:
            # the disable alert still goes out; only the recovery one will be missing
            log.warning("recovery marker not written", hook_id=alert.hook_id, error=repr(exc))
        finally:
            self._marking.discard(alert.hook_id)

    async def _claim(self, item: _Delivered) -> Alert | None:
        try:
            stored = await self._store.get_hook(item.hook_id)
            if stored is not None and not stored.enabled:
                # an attempt that was in flight when the hook was disabled, or an instance
                # that has not unloaded it yet: not a recovery, the hook is still off
                self._pending.add(item.hook_id)
                return None
            marker = await self._store.take_setting(SYSTEM, marker_key(item.hook_id))
        except StoreError as exc:
            self._pending.add(item.hook_id)  # the next delivery tries again
            log.warning("recovery marker not read", hook_id=item.hook_id, error=repr(exc))
            return None
        if not isinstance(marker, dict) or stored is None:  # taken first by another instance,
            return None  # or the hook is deleted (its marker is dropped with it)
        return Alert(
            type=RECOVERED,
            account_id=item.account_id,
            hook_id=item.hook_id,
            hook_name=item.hook_name or str(marker.get("hook_name", "")),
            reason=str(marker.get("reason", "")),
            failures=_int(marker.get("failures")),
            at_ms=item.at_ms,
            disabled_at_ms=_int(marker.get("disabled_at_ms")) or None,
        )

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except StoreError as exc:
                log.warning("recovery markers not read", error=repr(exc))
            await asyncio.sleep(self._refresh_s)

    async def refresh(self) -> None:
        """Read every instance's recovery markers; drop those of deleted hooks."""
        before = set(self._pending)
        stored = await self._store.get_settings(SYSTEM)
        ids = {k.removeprefix(MARKER_PREFIX) for k in stored if k.startswith(MARKER_PREFIX)}
        # gone from the store since: another instance took it (or it was dropped)
        self._pending -= before - ids - self._marking
        self._pending |= ids
        for hook_id in ids:
            if self._checked.get(hook_id):
                continue
            self._checked.put(hook_id, True)
            if await self._store.get_hook(hook_id) is None:
                await self._store.take_setting(SYSTEM, marker_key(hook_id))
                self._pending.discard(hook_id)

    # -- sending ---------------------------------------------------------------------------
    def _spawn(self, alert: Alert) -> None:
        task = asyncio.create_task(self._send(alert), name=f"alert {alert.id}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, alert: Alert) -> None:
        with structlog.contextvars.bound_contextvars(
            account_id=alert.account_id, hook_id=alert.hook_id
        ):
            try:
                await self._send_now(alert)
            except Exception:
                # a task of its own: nothing would ever see the error otherwise
                log.exception("alert failed", type=alert.type)

    async def _send_now(self, alert: Alert) -> None:
        async with self._slots:
            try:
                stored = await self._store.get_settings(alert.account_id)
            except StoreError as exc:
                self._failed(alert, "settings", repr(exc))
                return
            where = AccountAlerts.from_stored(stored.get(SETTINGS_KEY))
            jobs = []
            if where.emails and self._mailer.configured:
                jobs.append(self._mail(alert, where.emails))
            if where.url:
                jobs.append(self._post(alert, where.url, where.secret))
            if not jobs:
                log.debug("alert not sent: the account names nowhere", type=alert.type)
            await asyncio.gather(*jobs)

    async def _mail(self, alert: Alert, to: Sequence[str]) -> None:
        message = compose(alert, sender=self._settings.smtp_from, to=to)
        error = ""
        for attempt in range(1, self._settings.alert_attempts + 1):
            result = await self._mailer.send(message)
            if result.ok:
                log.info("alert e-mailed", type=alert.type, recipients=len(to))
                return
            error = result.error
            if not result.retryable:
                break
            await self._backoff(attempt)
        self._failed(alert, "email", error)

    async def _post(self, alert: Alert, url: str, secret: str | None) -> None:
        error = ""
        for attempt in range(1, self._settings.alert_attempts + 1):
            request = alert_request(alert, url=url, secret=secret, timestamp=int(time.time()))
            outcome = await self._poster.send(request)
            if outcome.ok:
                log.info("alert posted", type=alert.type, status=outcome.status)
                return
            error = outcome.client_error or f"HTTP {outcome.status}"
            if outcome.kind != "retryable":
                break
            await self._backoff(attempt)
        self._failed(alert, "post", error)

    async def _backoff(self, attempt: int) -> None:
        if attempt < self._settings.alert_attempts:
            await asyncio.sleep(self._retry_base_s * 2 ** (attempt - 1))

    def _failed(self, alert: Alert, channel: str, error: str) -> None:
        """Warn once per account, channel and interval; the rest at debug."""
        key = (alert.account_id, channel)
        now = time.monotonic()
        last = self._logged_failure.get(key)
        if last is not None and now - last < self._settings.alert_interval_s:
            log.debug("alert not sent", channel=channel, type=alert.type, error=error)
            return
        self._logged_failure.put(key, now)
        log.warning("alert not sent", channel=channel, type=alert.type, error=error)


def item_hook(item: _Disabled | _Delivered) -> str:
    return item.alert.hook_id if isinstance(item, _Disabled) else item.hook_id


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
