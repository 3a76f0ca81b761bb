"""The dispatcher (Kazoo ``webhooks_util:fire_hooks/2``, ``fire_hook/2``, ``retry_hook/3``).

An event's hooks go through the last steps of hook matching (:mod:`webhooksd.hooks.matching`:
the modifiers, ``custom_data`` and ``cluster_id`` merged, the hook's filter); each hook left is
a job (:class:`~webhooksd.delivery.retryjob.RetryJob`) whose request is built with the hook's
transforms and auth (:mod:`webhooksd.delivery.shaping`), sent and recorded. Hooks are sent
concurrently. A retryable failure with retries left is the job again, in the durable delay
queue; :meth:`fire` returns only when every first attempt finished or its retry is confirmed
queued, so the caller may ack.

What one tenant's endpoint can cost the others is bounded (issue 13). An attempt that cannot
start on its endpoint soon (every slot busy and ``endpoint_queue`` waiting, or none freed for
``endpoint_wait_ms`` while it waited, or for half the request timeout before it came) is not
held in memory with the event: it goes to the retry queue as the same attempt, using no
retry, and the event is acked. An attempt to an endpoint whose breaker is open is a failed
attempt ("circuit open: <its last error>"), retried and counted toward auto-disable as Kazoo
would count the failure it saves us from (recorded at most once per hook per second: enough
for auto-disable, and a store that can keep up). A hook has at most ``max_pending_retries`` jobs in
the retry queue; a failure beyond that is final. An account with ``account_inflight`` events
being delivered, the oldest of them for half the request timeout already, has its further
events deferred the same way, untried: the prefetch is shared by every tenant, and a tenant
whose endpoints are slow must not hold it. Conditions that repeat per attempt are logged
once per key and interval (:class:`~webhooksd.logonce.LogOnce`).

Deferring is for a tenant whose endpoints are slow, never for the daemon's own pace. With a
bare count (``account_inflight``) and a fixed wait (``endpoint_wait_ms``), one account's burst
to a healthy 1 ms endpoint on a loop saturated by the daemon's own work was deferred: each of
its events spent longer in the daemon than the wait, more than 20 were in flight at once,
the deferrals cost more CPU and fed the saturation, the hook's retry backlog filled and the
deferrals became failures ("retry backlog full: endpoint busy") until the hook was disabled
and its events lost. Now an account is holding the prefetch only when its oldest event in
flight is older than a saturated loop keeps an event (the stall bound, as for an endpoint's
slots), and an attempt waits for a slot as long as the endpoint frees slots. A deferral that
finds the hook's backlog full is attempted in place instead (it holds its event, so the
prefetch bounds such attempts); it fails unsent only when the endpoint is stalled, a
receiver holding every request for seconds, which issue 13 keeps bounded. Deferrals are
counted in ``webhooksd_attempts_deferred_total{reason="account"|"endpoint"}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog
from prometheus_client import Counter

from webhooksd.bus import Bus
from webhooksd.config import Settings
from webhooksd.delivery.attempt_writer import AttemptWriter
from webhooksd.delivery.attempts import REPLAY_MSG_PREFIX, TEST_MSG_PREFIX, attempt_record
from webhooksd.delivery.backlog import Backlog
from webhooksd.delivery.hookauth import HookAuth
from webhooksd.delivery.outcome import CLIENT_ERROR, Outcome, backoff_ms
from webhooksd.delivery.request import OutboundRequest, webhook_id
from webhooksd.delivery.retryjob import MAX_BUNDLE, RetryJob, decode_jobs, encode_jobs
from webhooksd.delivery.sender import CIRCUIT_OPEN, Sender, stall_s
from webhooksd.delivery.shaping import Preparer
from webhooksd.delivery.v2 import envelope, sanitize_event, stamped
from webhooksd.hooks.matching import merge_payload, select
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.events import Event
from webhooksd.kazoo.timeutil import now_gregorian
from webhooksd.logonce import LogOnce
from webhooksd.records import AttemptRecord, Hook
from webhooksd.runtime.logs import context_vars
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store
from webhooksd.tracing import NO_TRACER, Tracer

log = structlog.get_logger(__name__)

OnGone = Callable[[Hook, str], Awaitable[None]]
#: told of every event delivered to a hook (the alerts child's recovery check); must not block
OnDelivered = Callable[[Hook], None]
GONE_REASON = "endpoint answered 410 Gone"
#: the ``client_error`` of a failure not retried because the hook's retry backlog is full
BACKLOG_FULL = "retry backlog full"
#: a condition repeated per attempt (an open breaker, a busy endpoint, a full backlog) is
#: logged at most once per key in this many seconds, with how many it stands for
REPEAT_LOG_INTERVAL_S = 30.0
#: the failures an open breaker gives are settled this many at a time, the event loop
#: free between: 200 hooks' worth in one go kept it from everyone else's events for tens
#: of milliseconds on every one of a slow tenant's events and retries (issue 13)
SETTLE_CHUNK = 20
#: the shortest interval between two recorded failures of one hook that an open breaker or a
#: full backlog gave (4 a second: up to 240 in the default 60 s failure window)
SAMPLE_FLOOR_S = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempted:
    """What one attempt came to: the record to write, and the job due next, if any."""

    #: None when there is nothing to write: the attempt was deferred unsent (no slot on its
    #: endpoint came free in time), or it succeeded and ``log_successful_attempts`` is off
    record: AttemptRecord | None
    #: the job to queue, a retry or the deferred attempt itself, and its delay
    next_job: RetryJob | None = None
    delay_ms: int = 0
    #: added to ``delay_ms`` by an open breaker's failure: where in the cool-down after the
    #: breaker's probe the job falls due (a bundle goes at its first job's, see _messages)
    jitter_ms: int = 0
    #: jobs of one delivery with the same group ("open": failed by an open breaker, "busy":
    #: deferred from a busy endpoint) go in one message, with the longest of their delays
    group: str | None = None


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
        on_delivered: OnDelivered = lambda hook: None,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self._settings = settings
        self._store = store
        self._bus = bus
        self._sender = sender
        self._table = table
        self._metrics = metrics
        self._cluster_id = cluster_id
        self._on_gone = on_gone
        self._on_delivered = on_delivered
        #: spans of match, attempts and record (webhooksd.tracing; a no-op when off)
        self._tracer = tracer
        self._attempts = AttemptWriter(store, linger_s=settings.attempt_write_linger_ms / 1000)
        self._deliveries: dict[tuple[str, str], Counter] = {}
        self._backlog = Backlog(settings.max_pending_retries)
        self._repeated = LogOnce(REPEAT_LOG_INTERVAL_S)
        #: when each event being delivered began, per account (insertion order: the oldest
        #: first; none at 0): an account at ``account_inflight`` whose oldest has been in
        #: flight for the stall bound has its further events deferred untried, so that a
        #: tenant whose endpoints are slow cannot hold the prefetch every tenant shares
        #: (issue 13), while a fast tenant's events that only wait for the daemon are not
        self._in_flight: dict[str, dict[int, float]] = {}
        self._fired = itertools.count()
        self._hold_s = stall_s(settings)
        self._deferred = {
            reason: metrics.attempts_deferred.labels(reason=reason)
            for reason in ("account", "endpoint")
        }
        #: an open breaker's failures are recorded at most once per hook per interval: a row
        #: for each of them (4,000 a second for 200 hooks at 20 events/s) was more than the
        #: store could write beside everyone else's; the interval leaves a failing hook four
        #: times the failures auto-disable needs within its window, and is no shorter than
        #: SAMPLE_FLOOR_S: an attempt_failure_count set out of reach (the way to keep failing
        #: hooks enabled) made it microseconds, a row per failure again (issue 13). The
        #: failures of a busy endpoint's attempts that find the hook's backlog full are
        #: recorded the same way.
        self._sampled = LogOnce(
            min(
                1.0,
                max(
                    SAMPLE_FLOOR_S,
                    settings.attempt_failure_expiry_ms / 1000 / settings.attempt_failure_count / 4,
                ),
            )
        )
        # auth pre-requests go through the sender: the same SSRF guard, timeouts and breaker
        self._prepare = Preparer(HookAuth(sender.send))
        #: structlog's context variables of the ids every line of an attempt carries
        self._id_vars = context_vars("account_id", "hook_id", "event_id")

    # -- the HookContext side ------------------------------------------------------------
    async def fire(
        self,
        event: Event,
        payload: Mapping[str, Any],
        hooks: Sequence[Hook],
        v2: Mapping[str, Any] | None = None,
    ) -> None:
        if v2 is None and any(hook.version == "v2" for hook in hooks):
            v2 = envelope(event.name, sanitize_event(event.body))
        with self._tracer.match(event, hooks) as span:
            matches = select(
                hooks,
                payload,
                cluster_id=self._cluster_id,
                hook_filter=self._prepare,
                v2=v2 or {},
                # only a v2 hook's envelope is stamped, and without an envelope there is none
                timestamp=0 if v2 is None else now_gregorian(),
            )
            span.set("webhooksd.matched", len(matches))
        if not matches:
            return
        # one loop for the jobs and their accounts, the event's ids read once
        event_id, event_key = event.event_id, event.event_key
        jobs: list[tuple[Hook, RetryJob]] = []
        accounts: set[str] = set()
        for match in matches:
            hook = match.hook
            accounts.add(hook.account_id)
            job = RetryJob(
                hook_id=hook.id,
                account_id=hook.account_id,
                payload=match.payload,
                event_id=event_id,
                msg_id=webhook_id(event_key, hook.id),
                attempt=1,
                event_key=event_key,
                hook_event=hook.hook,
            )
            jobs.append((hook, job))
        saturated = self._saturated(accounts)
        token, now = next(self._fired), time.monotonic()
        for account in accounts:
            started = self._in_flight.get(account)
            if started is None:
                started = self._in_flight[account] = {}
            started[token] = now
        try:
            await self._deliver(jobs, retries=True, defer=saturated)
        finally:
            for account in accounts:
                started = self._in_flight[account]
                del started[token]
                if not started:
                    del self._in_flight[account]

    def holding(self, account: str) -> bool:
        """The account has ``account_inflight`` events being delivered, the oldest of them
        for the stall bound (half the request timeout) already: its endpoints are slow.

        Not the count alone: on an event loop saturated by the daemon's own work (one
        account's burst at full speed) every event spends a while in the daemon, a healthy
        account has more than ``account_inflight`` in flight, and deferring them cost more
        CPU, fed the saturation and filled the hook's retry backlog until the hook was
        disabled. A saturated loop keeps an event well under a second (the prefetch over the
        daemon's events per second); an event to an endpoint that holds it, seconds."""
        limit = self._settings.account_inflight
        started = self._in_flight.get(account)
        if not limit or started is None or len(started) < limit:
            return False
        return time.monotonic() - next(iter(started.values())) >= self._hold_s

    def _saturated(self, accounts: set[str]) -> frozenset[str]:
        """Those of ``accounts`` holding their share of the prefetch (:meth:`holding`)."""
        limit = self._settings.account_inflight
        if not limit:
            return frozenset()
        # a list first, not a frozenset from a generator: most events' accounts hold nothing
        held = [account for account in accounts if self.holding(account)]
        if not held:
            return frozenset()
        saturated = frozenset(held)
        for account in saturated:
            if (repeats := self._repeated.due(("account", account))) is not None:
                log.info(
                    "account at its in-flight limit with events held; events deferred",
                    account_id=account,
                    limit=limit,
                    repeats=repeats,
                )
        return saturated

    # -- the retry worker side -----------------------------------------------------------
    async def retry(self, message: bytes) -> None:
        """Send again the job or the bundle of jobs of one retry-queue message."""
        pairs: list[tuple[Hook, RetryJob]] = []
        for job in decode_jobs(message):
            self._backlog.release(job.hook_id)
            hook = self._table.get(job.hook_id)
            if hook is not None:
                pairs.append((hook, job))
            elif (repeats := self._repeated.due(("dropped", job.hook_id))) is not None:
                # a disabled hook's backlog comes back job by job: a line per hook, not per job
                log.info(
                    "retry dropped: hook deleted or disabled",
                    hook_id=job.hook_id,
                    account_id=job.account_id,
                    event_id=job.event_id,
                    repeats=repeats,
                )
        if pairs:
            await self._deliver(pairs, retries=True)

    # -- the API side --------------------------------------------------------------------
    async def send_test(self, hook: Hook, payload: Mapping[str, Any]) -> AttemptRecord:
        """One immediate attempt, always recorded, never retried (the API's test event)."""
        event_id = hashlib.sha256(f"test:{time.time_ns()}".encode()).hexdigest()[:10]
        if hook.version == "v2":
            # the sample in Kazoo 5's envelope, named as the hook type is
            body = stamped(hook, envelope(hook.hook, payload), now_gregorian())
            merged = merge_payload(hook, body, None)
        else:
            merged = merge_payload(hook, payload, self._cluster_id)
        return await self._send_once(
            hook,
            merged,
            event_id=event_id,
            msg_id=f"{TEST_MSG_PREFIX}{event_id}",
        )

    async def replay(self, attempt: AttemptRecord) -> AttemptRecord:
        """Send an attempt's payload again to the hook as configured now (a new message id:
        a replay is a deliberate resend that a deduplicating receiver must not drop)."""
        stored = await self._store.get_hook(attempt.hook_id)
        if stored is None or attempt.payload is None:
            raise LookupError("the hook or the attempt's payload is gone")
        msg_id = (
            REPLAY_MSG_PREFIX
            + hashlib.sha256(f"{attempt.id}:{time.time_ns()}".encode()).hexdigest()[:24]
        )
        return await self._send_once(
            Hook.from_doc(stored), attempt.payload, event_id=attempt.event_id, msg_id=msg_id
        )

    # -- internals -----------------------------------------------------------------------
    async def _send_once(
        self, hook: Hook, payload: Mapping[str, Any], *, event_id: str, msg_id: str
    ) -> AttemptRecord:
        job = RetryJob(
            hook_id=hook.id,
            account_id=hook.account_id,
            payload=payload,
            event_id=event_id,
            msg_id=msg_id,
            attempt=1,
        )
        # the root of its own trace (the API request that asked has none)
        with self._tracer.span("send"):
            (done,) = await self._deliver([(hook, job)], retries=False)
        assert done.record is not None, "an attempt without retries is always recorded"
        return done.record

    async def _deliver(
        self,
        jobs: Sequence[tuple[Hook, RetryJob]],
        *,
        retries: bool,
        defer: frozenset[str] = frozenset(),
    ) -> list[Attempted]:
        """Send each job at once (those of the accounts in ``defer`` go to the retry queue
        untried), record the attempts in one write, queue what is due again. Returns when the
        records are stored and the retries confirmed queued (so the caller may ack)."""
        settled: list[Attempted | None] = [None] * len(jobs)
        to_send: list[int] = []
        #: those of to_send that could not be deferred (the hook's backlog is full)
        patient: set[int] = set()
        quick = 0
        for n, (hook, job) in enumerate(jobs):
            if hook.account_id not in defer and not (retries and self._sender.holds_back(hook.uri)):
                # nearly every attempt: nothing holds it back, so one look-up by URI, and no
                # request built to ask the breaker and the slots (as _outcome asks them)
                to_send.append(n)
                continue
            unsent = _unsent(hook)
            opened = self._sender.circuit_open(unsent) if retries else None
            # an open breaker's failure, an attempt deferred from a busy endpoint or from an
            # account holding its share need no request, no task and no I/O: settled at once,
            # so that a slow endpoint's many hooks cost the event loop little; a deferral the
            # hook's backlog has no room for is attempted in place (the checks below)
            if hook.account_id in defer and (
                deferred := self._defer(hook, job, unsent, reason="account")
            ):
                settled[n] = deferred
            elif opened is not None:
                settled[n] = self._settle(hook, job, opened, unsent, unsent, retries=True)
            elif retries and self._sender.busy(unsent):
                settled[n] = self._defer(hook, job, unsent, reason="endpoint")
                if settled[n] is None:
                    patient.add(n)
                    to_send.append(n)
                    continue
            else:
                to_send.append(n)
                continue
            quick += 1
            if quick % SETTLE_CHUNK == 0:
                await asyncio.sleep(0)
        if len(to_send) == 1:
            # one hook (nearly every event): the attempt runs in this task; a task and a
            # gather for it were a tenth of the attempt path's calls
            (n,) = to_send
            sent = [await self._attempt(*jobs[n], retries=retries, patient=n in patient)]
        else:
            sent = await asyncio.gather(
                *(self._attempt(*jobs[n], retries=retries, patient=n in patient) for n in to_send)
            )
        for n, result in zip(to_send, sent, strict=True):
            settled[n] = result
        results = [r for r in settled if r is not None]
        messages = _messages(results)
        scheduled = 0
        try:
            with self._tracer.span("record"):
                await self._attempts.write([r.record for r in results if r.record is not None])
            for queued, delay_ms in messages:
                await self._schedule(queued, delay_ms)
                scheduled += 1
        finally:
            for unqueued, _ in messages[scheduled:]:  # handled again: places given back
                for job in unqueued:
                    self._backlog.release(job.hook_id)
        return results

    async def _attempt(
        self,
        hook: Hook,
        job: RetryJob,
        *,
        retries: bool,
        patient: bool = False,
    ) -> Attempted:
        """The one attempt path of fire, retry, test and replay. With ``retries`` (events and
        retries) an attempt that cannot start on its endpoint soon is deferred, one to an
        endpoint whose breaker is open fails unsent, a retryable failure with retries left
        (and room in the hook's backlog) is due again, a 410 switches the hook off, and a
        success is recorded only if ``log_successful_attempts``; without (the API's test and
        replay) the attempt is sent once whatever the breaker says and always recorded.
        ``patient``: the attempt could not be deferred (the hook's backlog is full), so it
        waits for a slot in place until its endpoint is stalled."""
        # The ids set on their variables directly and reset by their tokens when it ends (a
        # lone attempt runs in the caller's task): bound_contextvars' look-ups by name and its
        # rebinding of the whole context were a measurable share of the attempt's own cost
        # (10.8k instructions against 3.5k).
        account_var, hook_var, event_var = self._id_vars
        tokens = (
            account_var.set(hook.account_id),
            hook_var.set(hook.id),
            event_var.set(job.event_id),
        )
        try:
            with self._tracer.attempt(hook, job) as span:
                outcome, request, recorded = await self._outcome(
                    hook, job, retries=retries, patient=patient
                )
                if outcome is None and not patient:
                    deferred = self._defer(hook, job, recorded, reason="endpoint")
                    if deferred is not None:
                        span.outcome(request, outcome)
                        return deferred
                    # no room to defer it: a busy endpoint that is still answering is waited for
                    # in place, as this event is held anyway (the prefetch bounds such attempts)
                    outcome, request, recorded = await self._outcome(
                        hook, job, retries=retries, patient=True
                    )
                span.outcome(request, outcome)
                if outcome is None:
                    return self._backlog_full(hook, job, recorded)
                if retries and outcome.kind == "gone":
                    await self._gone(hook)
                return self._settle(hook, job, outcome, request, recorded, retries=retries)
        finally:
            account_var.reset(tokens[0])
            hook_var.reset(tokens[1])
            event_var.reset(tokens[2])

    def _settle(
        self,
        hook: Hook,
        job: RetryJob,
        outcome: Outcome,
        request: OutboundRequest,
        recorded: OutboundRequest,
        *,
        retries: bool,
    ) -> Attempted:
        """What an attempt's outcome comes to: counted, recorded (an open breaker's failures
        at most once per hook per interval), logged, and its retry if one is due."""
        open_for_s = 0.0
        if (outcome.client_error or "").startswith(CIRCUIT_OPEN):
            open_for_s = max(0.001, self._sender.failing_for_s(request))
        self._prepare.settle(hook, outcome)
        self._count(outcome)
        retries_left = max(0, hook.retries + 1 - job.attempt) if retries else 0
        retrying = outcome.kind == "retryable" and retries_left > 0
        delay_ms = self._delay(job.attempt, outcome) if retrying else 0
        jitter_ms = 0
        if open_for_s:
            # no sooner than the breaker lets a probe through, and spread over a whole
            # cool-down after it (see _spread_ms)
            delay_ms = max(delay_ms, int(open_for_s * 1000))
            jitter_ms = _spread_ms(job, self._settings.breaker_cooldown_ms)
        if retrying and not self._backlog.reserve(hook.id, delay_ms + jitter_ms):
            retrying, retries_left = False, 0
            self._log_backlog_full(hook)
        ok = outcome.ok
        # a success not logged (``log_successful_attempts`` off) builds no record to drop
        unlogged = retries and ok and not self._settings.log_successful_attempts
        record: AttemptRecord | None = None
        if not unlogged and (not open_for_s or self._sampled.due(hook.id) is not None):
            record = attempt_record(
                hook=hook,
                request=recorded,
                outcome=outcome,
                event_id=job.event_id,
                attempt=job.attempt,
                retries_left=retries_left,
                payload=job.payload,
                hook_event=job.hook_event or None,
                retry_in_ms=delay_ms + jitter_ms if retrying else None,
            )
        if ok:
            log.debug("delivered", status=outcome.status, ms=outcome.duration_ms)
        elif open_for_s:
            # one line per endpoint and interval: a dead endpoint with many hooks fails
            # thousands of attempts a second this way
            if (repeats := self._repeated.due(("open", request.endpoint))) is not None:
                log.info(
                    "endpoint failing; attempts fail unsent",
                    account_id=hook.account_id,
                    hook_id=hook.id,
                    event_id=job.event_id,
                    endpoint=request.endpoint,
                    error=outcome.client_error,
                    seconds=round(open_for_s, 1),
                    repeats=repeats,
                )
        else:
            log.info(
                "delivery failed",
                status=outcome.status,
                error=outcome.client_error,
                retrying=retrying,
                attempt=job.attempt,
            )
        if retries and ok:
            self._on_delivered(hook)
        if unlogged:
            return Attempted(record=None)
        if not retrying:
            return Attempted(record=record)
        return Attempted(
            record=record,
            next_job=self._tracer.carry(
                replace(self._pinned(hook, job), attempt=job.attempt + 1, deferred=0)
            ),
            delay_ms=delay_ms,
            jitter_ms=jitter_ms,
            group="open" if open_for_s else None,
        )

    async def _outcome(
        self, hook: Hook, job: RetryJob, *, retries: bool, patient: bool = False
    ) -> tuple[Outcome | None, OutboundRequest, OutboundRequest]:
        """The attempt's outcome (None: not started, its endpoint is busy, or with
        ``patient`` stalled), the request and the request as recorded."""
        # an open breaker is checked on the hook's URI before the request is built: the
        # failures a dead endpoint with many hooks gives are then cheap (and say so: the
        # record shows no headers or body, as none were sent); the request that says so is
        # made only then (it was a tenth of the attempt's own cost). ``patient``: only an
        # open breaker holds it back, a busy endpoint is waited for
        if retries and self._sender.holds_back(hook.uri, busy=not patient):
            request = _unsent(hook)
            return self._sender.circuit_open(request), request, request
        prepared = await self._prepare.prepare(
            hook,
            job.payload,
            msg_id=job.msg_id,
            timestamp=int(time.time()),
            # a delivery's auth pre-request is bounded as the delivery is (issue 13)
            auth_fetch=self._auth_fetch if retries else None,
            auth_wait_s=self._settings.endpoint_wait_ms / 1000 if retries else None,
        )
        # the attempt span's traceparent, when the setting asks (after signing: Standard
        # Webhooks signs the id, the timestamp and the body, not the headers)
        request, recorded = (
            self._tracer.inject(prepared.request),
            self._tracer.inject(prepared.recorded),
        )
        if prepared.busy:  # its token endpoint is busy: deferred, as a busy endpoint's
            return None, request, recorded
        if prepared.failure is not None:
            return prepared.failure, request, recorded
        if not retries:
            return await self._sender.send(request), request, recorded
        # The breaker of the request's endpoint (its URI is the hook's) was asked above, and
        # nothing else ran since unless preparing it waited for the hook's auth: only then
        # may it have opened meanwhile, and is asked again (try_send asks it once more when
        # it has a slot).
        if prepared.waited and (opened := self._sender.circuit_open(request)) is not None:
            return opened, request, recorded
        outcome = await self._sender.try_send(
            request, start_within_s=self._settings.endpoint_wait_ms / 1000, patient=patient
        )
        return outcome, request, recorded

    async def _auth_fetch(self, request: OutboundRequest) -> Outcome | None:
        """An event's auth pre-request, bounded as its delivery is: the token endpoint's
        open breaker answers for it, and it starts within ``endpoint_wait_ms`` behind at
        most ``endpoint_queue`` others or not at all (None: the delivery is deferred)."""
        return self._sender.circuit_open(request) or await self._sender.try_send(
            request, start_within_s=self._settings.endpoint_wait_ms / 1000
        )

    def _defer(
        self, hook: Hook, job: RetryJob, recorded: OutboundRequest, *, reason: str
    ) -> Attempted | None:
        """The same attempt, from the retry queue, later each time (it uses none of the
        hook's retries): its endpoint is busy (``reason`` "endpoint") or its account holds its
        share of the prefetch ("account"). None when the hook's backlog is full: the caller
        attempts it in place instead, since a failure here would exist only because the
        daemon deferred, and counted toward auto-disable it disabled hooks whose endpoint
        answered fine (the benchmark's one account)."""
        deferred = job.deferred + 1
        delay_ms = backoff_ms(
            deferred,
            base_ms=self._settings.retry_base_delay_ms,
            max_ms=self._settings.retry_max_delay_ms,
            retry_after_s=None,
        )
        if not self._backlog.reserve(hook.id, delay_ms):
            return None
        self._deferred[reason].inc()
        repeats = self._repeated.due(("busy", recorded.endpoint)) if reason == "endpoint" else None
        if repeats is not None:
            log.info(
                "endpoint busy; attempts deferred",
                endpoint=recorded.endpoint,
                attempt=job.attempt,
                repeats=repeats,
            )
        return Attempted(
            record=None,
            next_job=self._tracer.carry(replace(self._pinned(hook, job), deferred=deferred)),
            delay_ms=delay_ms,
            group="busy",
        )

    def _backlog_full(self, hook: Hook, job: RetryJob, recorded: OutboundRequest) -> Attempted:
        """An attempt neither deferred (the hook's backlog is full) nor started in place (its
        endpoint is stalled: no slot freed for half the request timeout, or its token
        endpoint is busy): a failure, counted toward auto-disable and recorded at most once
        per hook per interval, as an open breaker's. Issue 13 keeps a stalled endpoint's
        attempts bounded this way; a receiver that holds every request is at fault."""
        self._log_backlog_full(hook)
        busy = Outcome(
            kind="retryable",
            client_error=f"{BACKLOG_FULL}: endpoint busy",
            reason=CLIENT_ERROR,
        )
        self._count(busy)
        if self._sampled.due(hook.id) is None:
            return Attempted(record=None)
        record = attempt_record(
            hook=hook,
            request=recorded,
            outcome=busy,
            event_id=job.event_id,
            attempt=job.attempt,
            retries_left=0,
            payload=job.payload,
            hook_event=job.hook_event or None,
        )
        return Attempted(record=record)

    def _log_backlog_full(self, hook: Hook) -> None:
        if (repeats := self._repeated.due(("backlog", hook.id))) is not None:
            log.warning(
                "retry backlog full; failure not retried",
                account_id=hook.account_id,
                hook_id=hook.id,
                pending=self._settings.max_pending_retries,
                repeats=repeats,
            )

    @staticmethod
    def _pinned(hook: Hook, job: RetryJob) -> RetryJob:
        """The job with the hook's event it began with (a job of an older version has none:
        from now on it keeps the hook's current one)."""
        return job if job.hook_event else replace(job, hook_event=hook.hook)

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

    async def _schedule(self, jobs: Sequence[RetryJob], delay_ms: int) -> None:
        await self._bus.publish_delayed(
            self._settings.retry_queue, encode_jobs(jobs), delay_ms, message_id=jobs[0].msg_id
        )
        self._metrics.retries_queued.inc(len(jobs))

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


def _spread_ms(job: RetryJob, cooldown_ms: int) -> int:
    """Where in ``cooldown_ms`` an open breaker's failed job falls due, from a hash of its
    message id and attempt: deterministic, and even over the cool-down across events.

    Issue 13's last tail: the jobs were due the moment the probe was let through plus a
    random share of half a cool-down, and a bundle went at its jobs' longest delay, the
    largest of 100 such shares: every event's failures of a whole cool-down (120,000 jobs for
    200 hooks at 20 events/s) fell due within the same second, and their handling, all
    failing again on the half-open breaker, held the loop for every other tenant's events."""
    digest = hashlib.blake2b(f"{job.msg_id}:{job.attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % max(1, cooldown_ms)


def _messages(results: Sequence[Attempted]) -> list[tuple[list[RetryJob], int]]:
    """The retry-queue messages for ``results``' next jobs, each with its delay: a grouped
    job shares a message (at most MAX_BUNDLE) with its group, at the group's longest delay
    plus its first job's ``jitter_ms`` (not the longest jitter: that put every bundle of an
    open breaker's failures at the end of the spread, all due together)."""
    messages: list[tuple[list[RetryJob], int]] = []
    groups: dict[str, list[Attempted]] = {}
    for result in results:
        if result.next_job is None:
            continue
        if result.group is None:
            messages.append(([result.next_job], result.delay_ms))
        else:
            groups.setdefault(result.group, []).append(result)
    for grouped in groups.values():
        for start in range(0, len(grouped), MAX_BUNDLE):
            chunk = grouped[start : start + MAX_BUNDLE]
            jobs = [r.next_job for r in chunk if r.next_job is not None]
            messages.append((jobs, max(r.delay_ms for r in chunk) + chunk[0].jitter_ms))
    return messages


def _unsent(hook: Hook) -> OutboundRequest:
    """What an attempt records when it failed before its request was built."""
    return OutboundRequest(method=hook.http_verb.upper(), uri=hook.uri, url=hook.uri)
