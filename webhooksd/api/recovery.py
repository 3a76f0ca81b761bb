"""Bulk resend after an outage (ours, no Kazoo original): "resend what failed between T1 and
T2" for one hook (``POST …/webhooks/{ID}/replay``) or the whole account
(``POST …/webhooks/replay``), with ``dry_run`` to count first.

Each failed EVENT is resent once, as its newest failed attempt recorded it, oldest first.
Skipped: events that succeeded at any time after the window opened (a retry, or an earlier
resend: running the same resend twice sends nothing twice), events whose queued retry is
still due, test events, attempts whose payload was not kept, and hooks that are disabled
(or deleted). Only the URL's own account is read: every query names it.

Bounded: at most :data:`MAX_EVENTS` events per request (``truncated`` says more remain;
the next request sends the next ones, since those sent are then skipped), and at most
:data:`MAX_SCAN` attempts read from ``created_from`` until now (else a 400 asking for a
narrower window). Resends go :data:`PARALLEL` at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from webhooksd.kazoo.timeutil import GREGORIAN_OFFSET, now_gregorian, now_ms
from webhooksd.records import AttemptRecord

from .attempts import attempt_item, time_range
from .envelope import Reply, validation_error
from .request import Call
from .webhooks import owned_hook

log = structlog.get_logger(__name__)

#: events resent (or counted) per request
MAX_EVENTS = 1000
#: attempts read per request, from ``created_from`` until now
MAX_SCAN = 100_000
#: resends in flight at once (each may wait for its receiver's timeout)
PARALLEL = 16
_BATCH = 1000
#: the message id prefix of the API's test events (Dispatcher.send_test)
_TEST_MSG = "msg_test_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """An event's newest failed attempt, without its payload (the scan keeps little)."""

    attempt_id: str
    hook_id: str
    created_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What a resend would send: the first :data:`MAX_EVENTS` events, oldest first."""

    events: Sequence[Failed]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.events)

    def per_hook(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.hook_id] = counts.get(event.hook_id, 0) + 1
        return counts


def _is_test(attempt: AttemptRecord) -> bool:
    headers = attempt.doc.get("req_headers")
    if not isinstance(headers, Mapping):
        return False
    return any(
        str(k).lower() == "webhook-id" and str(v).startswith(_TEST_MSG) for k, v in headers.items()
    )


def _retry_pending(attempt: AttemptRecord, now_greg: int) -> bool:
    due = attempt.doc.get("retry_due")
    return isinstance(due, int) and due > now_greg


@dataclass(slots=True)
class _Scan:
    """The scan's running state: newest failure per event in the window, successes since."""

    window_end_ms: int
    hooks: frozenset[str]
    failed: dict[str, Failed]
    pending: set[str]
    succeeded: set[str]

    def see(self, attempt: AttemptRecord, now_greg: int) -> None:
        if attempt.hook_id not in self.hooks:
            return
        if attempt.result == "success":
            self.succeeded.add(attempt.event_id)
            return
        if attempt.created_ms > self.window_end_ms or attempt.result != "failure":
            return
        if attempt.payload is None or _is_test(attempt):
            return
        # oldest first: a later failure of the event replaces the earlier one
        self.failed[attempt.event_id] = Failed(
            attempt_id=attempt.id, hook_id=attempt.hook_id, created_ms=attempt.created_ms
        )
        if _retry_pending(attempt, now_greg):
            self.pending.add(attempt.event_id)
        else:
            self.pending.discard(attempt.event_id)

    def plan(self) -> Plan:
        skip = self.succeeded | self.pending
        chosen = sorted(
            (f for e, f in self.failed.items() if e not in skip),
            key=lambda f: (f.created_ms, f.attempt_id),
        )
        return Plan(events=chosen[:MAX_EVENTS], total=len(chosen))


def _ms(gregorian: int) -> int:
    return (gregorian - GREGORIAN_OFFSET) * 1000


async def plan_resend(call: Call, hook_ids: frozenset[str], hook_id: str | None) -> Plan:
    """Read the attempts of ``hook_ids`` (one hook's when ``hook_id`` is given) from
    ``created_from`` until now and choose the events to resend."""
    created_from, created_to = time_range(call)
    scan = _Scan(
        window_end_ms=_ms(created_to) + 999,
        hooks=hook_ids,
        failed={},
        pending=set(),
        succeeded=set(),
    )
    now_greg, until_ms = now_gregorian(), max(now_ms(), _ms(created_to) + 999)
    after: tuple[int, str] | None = None
    scanned = 0
    while True:
        batch = await call.deps.store.list_attempts(
            call.account_id,
            hook_id=hook_id,
            descending=False,
            after=after,
            created_from_ms=_ms(created_from),
            created_to_ms=until_ms,
            limit=_BATCH,
        )
        for attempt in batch:
            scan.see(attempt, now_greg)
        scanned += len(batch)
        if scanned > MAX_SCAN:
            message = (
                f"more than {MAX_SCAN} attempts from created_from until now: "
                "choose a later created_from, or resend one hook at a time"
            )
            raise validation_error(
                {"created_from": {"too_many": {"message": message, "cause": created_from}}}
            )
        if len(batch) < _BATCH:
            return scan.plan()
        after = (batch[-1].created_ms, batch[-1].id)


def dry_run(call: Call) -> bool:
    """``dry_run`` (body or query): true/false, as a boolean or its text; else a 400."""
    value = call.param("dry_run")
    if value is None or value == "" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    message = "Value did not match type(s): boolean"
    raise validation_error(
        {"dry_run": {"type": {"message": message, "target": "boolean", "cause": str(value)[:64]}}}
    )


async def _resend_one(call: Call, event: Failed, limit: asyncio.Semaphore) -> AttemptRecord | None:
    async with limit:
        attempt = await call.deps.store.get_attempt(event.attempt_id)
        if attempt is None or attempt.account_id != call.account_id:
            return None  # pruned since the scan
        try:
            return await call.deps.tester.replay(attempt)
        except LookupError:
            return None  # the hook was deleted since the scan


async def _resend(call: Call, plan: Plan) -> list[AttemptRecord]:
    limit = asyncio.Semaphore(PARALLEL)
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_resend_one(call, e, limit)) for e in plan.events]
    except ExceptionGroup as failed:
        # the first error (a store fault…) answers as it would from one replay; the group
        # has already cancelled the other resends
        raise failed.exceptions[0] from failed
    return [done for task in tasks if (done := task.result()) is not None]


async def _answer(call: Call, plan: Plan, *, dry: bool, hook_id: str | None) -> Reply:
    """Count (``dry``) or resend what ``plan`` chose; the answer is the same object either
    way, with the new attempts and their results once sent."""
    created_from, created_to = time_range(call)
    summary: dict[str, Any] = {
        "dry_run": dry,
        "count": len(plan.events),
        "total": plan.total,
        "truncated": plan.truncated,
        "limit": MAX_EVENTS,
        "hooks": plan.per_hook(),
        "created_from": created_from,
        "created_to": created_to,
    }
    if dry:
        return Reply(data=summary)
    sent = await _resend(call, plan)
    succeeded = sum(1 for a in sent if a.result == "success")
    summary.update(
        sent=len(sent),
        succeeded=succeeded,
        failed=len(sent) - succeeded,
        attempts=[attempt_item(a) for a in sent],
    )
    log.info(
        "failed events resent",
        account_id=call.account_id,
        hook_id=hook_id,
        count=len(sent),
        succeeded=succeeded,
        truncated=plan.truncated,
    )
    return Reply(data=summary)


async def resend_hook(call: Call) -> Reply:
    """``POST /accounts/{A}/webhooks/{ID}/replay``: the hook's failed events in the window
    (a disabled hook is a 400: it would not deliver them)."""
    dry = dry_run(call)
    stored = await owned_hook(call)
    if not stored.enabled:
        message = "the hook is disabled: enable it before resending its failed events"
        raise validation_error({"hook_id": {"disabled": {"message": message, "cause": stored.id}}})
    plan = await plan_resend(call, frozenset({stored.id}), stored.id)
    return await _answer(call, plan, dry=dry, hook_id=stored.id)


async def resend_account(call: Call) -> Reply:
    """``POST /accounts/{A}/webhooks/replay``: the failed events of every enabled hook of
    the account (its own hooks: a sub-account's are resent from its own URL)."""
    dry = dry_run(call)
    hooks = await call.deps.store.list_hooks(call.account_id)
    enabled = frozenset(h.id for h in hooks if h.enabled and h.account_id == call.account_id)
    plan = await plan_resend(call, enabled, None)
    return await _answer(call, plan, dry=dry, hook_id=None)
