"""The dispatcher (Kazoo ``webhooks_util:fire_hooks/2``, ``fire_hook/2``, ``retry_hook/3``).

For each hook of an event: the hook-document ``modifiers`` checked against the payload,
``custom_data`` merged over it (its ``type`` and ``action`` left out), ``cluster_id`` set, the
hook's filter checked (a hook whose filter does not match is skipped: no attempt), the request
built with the hook's transforms and auth (:mod:`webhooksd.delivery.shaping`) and sent, the
attempt recorded. Hooks are sent concurrently. A retryable failure
with retries left becomes a retry job in the durable delay queue; :meth:`fire` returns only
when every first attempt finished or its retry is confirmed queued, so the caller may ack.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter

from webhooksd.bus import Bus
from webhooksd.config import Settings
from webhooksd.delivery.attempt_writer import AttemptWriter
from webhooksd.delivery.attempts import attempt_record
from webhooksd.delivery.hookauth import HookAuth
from webhooksd.delivery.outcome import Outcome, backoff_ms
from webhooksd.delivery.request import webhook_id
from webhooksd.delivery.retryjob import RetryJob
from webhooksd.delivery.sender import Sender
from webhooksd.delivery.shaping import Prepared, Preparer
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.events import Event
from webhooksd.records import AttemptRecord, Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store

log = structlog.get_logger(__name__)

OnGone = Callable[[Hook, str], Awaitable[None]]
GONE_REASON = "endpoint answered 410 Gone"


def modifiers_pass(modifiers: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> bool:
    """Kazoo's ``maybe_fire_hook/2``: every modifier key absent from the payload, or equal to
    (a member of, for a list) the modifier's value; ``[]`` passes."""
    for key, wanted in (modifiers or {}).items():
        if key not in payload or wanted == []:
            continue
        actual = payload[key]
        if isinstance(wanted, list):
            if actual not in wanted:
                return False
        elif actual != wanted:
            return False
    return True


def merge_payload(hook: Hook, payload: Mapping[str, Any], cluster_id: str) -> dict[str, Any]:
    """``custom_data`` over the payload (without ``type``/``action``), then ``cluster_id``."""
    merged = dict(payload)
    merged.update({k: v for k, v in hook.custom_data.items() if k not in ("type", "action")})
    merged["cluster_id"] = cluster_id
    return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class _Try:
    hook: Hook
    payload: Mapping[str, Any]
    event_id: str
    msg_id: str
    attempt: int
    #: the event's routing key and the hook's event when the delivery began (kept in retries)
    event_key: str = ""
    hook_event: str = ""


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        bus: Bus,
        sender: Sender,
        table: HookTable,
        metrics: Metrics,
        cluster_id: str,
        on_gone: OnGone,
    ) -> None:
        self._settings = settings
        self._store = store
        self._bus = bus
        self._sender = sender
        self._table = table
        self._metrics = metrics
        self._cluster_id = cluster_id
        self._on_gone = on_gone
        self._attempts = AttemptWriter(store, linger_s=settings.attempt_write_linger_ms / 1000)
        self._deliveries: dict[tuple[str, str], Counter] = {}
        # auth pre-requests go through the sender: the same SSRF guard, timeouts and breaker
        self._prepare = Preparer(HookAuth(sender.send))

    # -- the HookContext side ------------------------------------------------------------
    async def fire(self, event: Event, payload: Mapping[str, Any], hooks: Sequence[Hook]) -> None:
        tries: list[_Try] = []
        for hook in hooks:
            if not modifiers_pass(hook.modifiers, payload):
                continue
            merged = merge_payload(hook, payload, self._cluster_id)
            if self._prepare.passes(hook, merged):  # the filter reads the payload as merged
                tries.append(
                    _Try(
                        hook=hook,
                        payload=merged,
                        event_id=event.event_id,
                        msg_id=webhook_id(event.event_key, hook.id),
                        attempt=1,
                        event_key=event.event_key,
                        hook_event=hook.hook,
                    )
                )
        if tries:
            await self._run(tries)

    # -- the retry worker side -----------------------------------------------------------
    async def retry(self, job: bytes) -> None:
        decoded = RetryJob.decode(job)
        hook = self._table.get(decoded.hook_id)
        if hook is None:
            log.info(
                "retry dropped: hook deleted or disabled",
                hook_id=decoded.hook_id,
                account_id=decoded.account_id,
                event_id=decoded.event_id,
            )
            return
        await self._run(
            [
                _Try(
                    hook=hook,
                    payload=decoded.payload,
                    event_id=decoded.event_id,
                    msg_id=decoded.msg_id,
                    attempt=decoded.attempt,
                    event_key=decoded.event_key,
                    hook_event=decoded.hook_event,
                )
            ],
        )

    # -- the API side --------------------------------------------------------------------
    async def send_test(self, hook: Hook, payload: Mapping[str, Any]) -> AttemptRecord:
        """One immediate attempt, always recorded, never retried (the API's test event)."""
        merged = merge_payload(hook, payload, self._cluster_id)
        event_id = hashlib.sha256(f"test:{time.time_ns()}".encode()).hexdigest()[:10]
        return await self._once(
            _Try(
                hook=hook,
                payload=merged,
                event_id=event_id,
                msg_id=f"msg_test_{event_id}",
                attempt=1,
            )
        )

    async def replay(self, attempt: AttemptRecord) -> AttemptRecord:
        """Send an attempt's payload again to the hook as configured now (a new message id:
        a replay is a deliberate resend that a deduplicating receiver must not drop)."""
        stored = await self._store.get_hook(attempt.hook_id)
        if stored is None or attempt.payload is None:
            raise LookupError("the hook or the attempt's payload is gone")
        hook = Hook.from_doc(stored)
        msg_id = (
            "msg_replay_"
            + hashlib.sha256(f"{attempt.id}:{time.time_ns()}".encode()).hexdigest()[:24]
        )
        return await self._once(
            _Try(
                hook=hook,
                payload=attempt.payload,
                event_id=attempt.event_id,
                msg_id=msg_id,
                attempt=1,
            )
        )

    # -- internals -----------------------------------------------------------------------
    async def _once(self, one: _Try) -> AttemptRecord:
        with structlog.contextvars.bound_contextvars(
            account_id=one.hook.account_id, hook_id=one.hook.id, event_id=one.event_id
        ):
            return await self._once_bound(one)

    async def _once_bound(self, one: _Try) -> AttemptRecord:
        prepared = await self._request(one)
        outcome = prepared.failure or await self._sender.send(prepared.request)
        self._prepare.settle(one.hook, outcome)
        self._count(outcome)
        record = attempt_record(
            hook=one.hook,
            request=prepared.recorded,
            outcome=outcome,
            event_id=one.event_id,
            attempt=1,
            retries_left=0,
            payload=one.payload,
        )
        await self._attempts.write([record])
        return record

    async def _request(self, one: _Try) -> Prepared:
        return await self._prepare.prepare(
            one.hook, one.payload, msg_id=one.msg_id, timestamp=int(time.time())
        )

    async def _run(self, tries: Sequence[_Try]) -> None:
        results = await asyncio.gather(*(self._attempt(t) for t in tries))
        records = [r for r, _ in results if r is not None]
        await self._attempts.write(records)
        for (_, later), one in zip(results, tries, strict=True):
            if later is not None:
                await self._schedule(one, *later)

    async def _attempt(self, one: _Try) -> tuple[AttemptRecord | None, tuple[int, int] | None]:
        """Send one attempt; return its record (if it is kept) and, when another attempt is
        due, ``(attempt number, delay ms)``."""
        with structlog.contextvars.bound_contextvars(
            account_id=one.hook.account_id, hook_id=one.hook.id, event_id=one.event_id
        ):
            prepared = await self._request(one)
            request = prepared.request
            wait_s = self._sender.failing_for_s(request)
            if wait_s > 0:
                # the same attempt, later: it neither calls a failing endpoint nor holds a
                # worker while others wait, and it uses up none of the hook's retries
                log.info(
                    "endpoint failing; attempt deferred",
                    endpoint=request.endpoint,
                    attempt=one.attempt,
                    seconds=round(wait_s, 1),
                )
                return None, (one.attempt, int(wait_s * 1000) + random.randint(0, 500))
            outcome = prepared.failure or await self._sender.send(request)
            self._prepare.settle(one.hook, outcome)
            self._count(outcome)
            retries_left = max(0, one.hook.retries + 1 - one.attempt)
            retrying = outcome.kind == "retryable" and retries_left > 0
            record = attempt_record(
                hook=one.hook,
                request=prepared.recorded,
                outcome=outcome,
                event_id=one.event_id,
                attempt=one.attempt,
                retries_left=retries_left,
                payload=one.payload,
                hook_event=one.hook_event or None,
            )
            if outcome.ok:
                log.debug("delivered", status=outcome.status, ms=outcome.duration_ms)
            else:
                log.info(
                    "delivery failed",
                    status=outcome.status,
                    error=outcome.client_error,
                    retrying=retrying,
                    attempt=one.attempt,
                )
            if outcome.kind == "gone":
                await self._gone(one.hook)
            keep = not outcome.ok or self._settings.log_successful_attempts
            later = (one.attempt + 1, self._delay(one.attempt, outcome)) if retrying else None
            return (record if keep else None), later

    async def _gone(self, hook: Hook) -> None:
        try:
            await self._on_gone(hook, GONE_REASON)
        except Exception:
            # the 410 is recorded as a failure either way, so the disabler still sees it;
            # failing the whole event here would resend it to every other hook
            log.exception("disabling a gone hook failed")

    def _delay(self, attempt: int, outcome: Outcome) -> int:
        return backoff_ms(
            attempt,
            base_ms=self._settings.retry_base_delay_ms,
            max_ms=self._settings.retry_max_delay_ms,
            retry_after_s=outcome.retry_after_s,
        )

    async def _schedule(self, one: _Try, attempt: int, delay_ms: int) -> None:
        job = RetryJob(
            hook_id=one.hook.id,
            account_id=one.hook.account_id,
            payload=one.payload,
            event_id=one.event_id,
            msg_id=one.msg_id,
            attempt=attempt,
            event_key=one.event_key,
            hook_event=one.hook_event or one.hook.hook,
        )
        await self._bus.publish_delayed(
            self._settings.retry_queue, job.encode(), delay_ms, message_id=one.msg_id
        )
        self._metrics.retries_queued.inc()

    def _count(self, outcome: Outcome) -> None:
        status_class = f"{outcome.status // 100}xx" if outcome.status else "none"
        key = ("success" if outcome.ok else "failure", status_class)
        counter = self._deliveries.get(key)
        if counter is None:  # a labelled child looked up once, not on every delivery
            counter = self._deliveries[key] = self._metrics.deliveries.labels(
                result=key[0], status_class=key[1]
            )
        counter.inc()
        self._metrics.delivery_seconds.observe(outcome.duration_ms / 1000)
