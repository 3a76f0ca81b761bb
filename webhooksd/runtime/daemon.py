"""The daemon (Kazoo ``webhooks_app`` + ``webhooks_sup``): resources, children, signals.

Resources are opened once, in order, as async context managers — store, bus, HTTP sender —
and closed in reverse after every child has stopped. The children, in start order:

``config_listener``  this instance's queue of hook/account changes → hook table
``init``             module metadata → store; accounts and enabled hooks → hook table
``kazoo_accounts``   (only with ``kazoo_couch_url``) Kazoo's accounts → store → notices
``shared_listener``  events → hook modules → deliveries (the shared durable queue)
``retry_worker``     delayed retries → deliveries
``alerts``           disabled and recovered hooks → the account's e-mail and alert URL
``store_probe``      a heartbeat write → /readyz's ``store`` check, the listeners' outage probe
``disabler``         failing hooks → disabled
``retention``        coming days' partitions made, old attempts → deleted
``gauges``           queue depths → /metrics
``api``              the Crossbar API, the UI, /metrics, /healthz, /readyz

The config listener starts before ``init`` loads the table so that no change made during the
load is missed (notices re-read the store, so applying one twice is harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import structlog

from webhooksd.accounts.cache import AccountCache
from webhooksd.alerts.mail import SmtpMailer
from webhooksd.api.app import ApiDeps, create_app
from webhooksd.bus import Bus, open_bus
from webhooksd.children.alerts import Alerts
from webhooksd.children.api import ApiServer
from webhooksd.children.disabler import Disabler
from webhooksd.children.gauges import Gauges
from webhooksd.children.init import Init
from webhooksd.children.kazoo_accounts import KazooAccounts
from webhooksd.children.retention import Retention
from webhooksd.children.store_probe import StoreProbe
from webhooksd.config import Settings
from webhooksd.delivery.dispatcher import Dispatcher
from webhooksd.delivery.sender import Sender
from webhooksd.errors import ConfigError, QueueConflict, SupervisorGaveUp
from webhooksd.hooks.context import DaemonHookContext
from webhooksd.hooks.contract import HookModule, ModuleSettings, discover
from webhooksd.hooks.table import HookTable
from webhooksd.listeners.config import ConfigListener
from webhooksd.listeners.retry import RetryListener
from webhooksd.listeners.shared import SharedListener
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.sdnotify import Notifier
from webhooksd.runtime.supervisor import ChildSpec, Restart, Supervisor
from webhooksd.runtime.workers import WORKER_ENV, watch_parent
from webhooksd.store import SYSTEM, Store, open_store
from webhooksd.tracing import open_tracer

log = structlog.get_logger(__name__)

CLUSTER_ID_KEY = "cluster_id"


@dataclass(frozen=True, slots=True, kw_only=True)
class Daemon:
    """Everything one running daemon is made of, for the CLI and for tests."""

    settings: Settings
    store: Store
    bus: Bus
    table: HookTable
    metrics: Metrics
    dispatcher: Dispatcher
    disabler: Disabler
    alerts: Alerts
    supervisor: Supervisor
    #: the Kazoo accounts mirror, when ``kazoo_couch_url`` is set
    kazoo_accounts: KazooAccounts | None = None


def load_modules(settings: Settings) -> dict[str, HookModule]:
    """The hook modules to run: the built-ins, and third-party ones if ``load_entry_points``."""
    return discover(third_party=settings.load_entry_points)


@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Daemon]:
    """Open the resources and assemble the supervisor; closes everything on exit."""
    modules = load_modules(settings)
    async with AsyncExitStack() as stack:
        # opened first so it closes last: the spans of the deliveries drained on stop are
        # flushed after every child has stopped
        tracer = await stack.enter_async_context(open_tracer(settings))
        store = await stack.enter_async_context(open_store(settings.store_url))
        try:
            bus = await stack.enter_async_context(
                open_bus(
                    settings.amqp_url, connection_name=settings.node, queue_type=settings.queue_kind
                )
            )
        except QueueConflict as exc:
            raise queue_conflict(exc, settings) from exc
        sender = await stack.enter_async_context(Sender.open(settings))
        cluster_id = settings.kazoo_cluster_id or await store.setdefault_setting(
            SYSTEM, CLUSTER_ID_KEY, secrets.token_hex(16)
        )
        table, metrics = HookTable(), Metrics(node=settings.node)
        alerts = Alerts(settings=settings, store=store, poster=sender, mailer=SmtpMailer(settings))
        disabler = Disabler(
            settings=settings,
            store=store,
            bus=bus,
            metrics=metrics,
            unload=table.remove,
            alerts=alerts,
        )
        dispatcher = Dispatcher(
            settings=settings,
            store=store,
            bus=bus,
            sender=sender,
            table=table,
            metrics=metrics,
            cluster_id=str(cluster_id),
            on_gone=disabler.disable_gone,
            on_delivered=alerts.delivered,
            tracer=tracer,
        )
        ctx = DaemonHookContext(
            settings=ModuleSettings(
                cluster_id=str(cluster_id),
                reserved_ccv_keys=frozenset(settings.reserved_ccv_keys),
                object_types=settings.object_types,
            ),
            table=table,
            store=store,
            fire=dispatcher.fire,
        )
        drain = float(settings.drain_timeout_s)
        store_probe = StoreProbe(store=store, instance=settings.node)
        accounts = AccountCache(store, ttl_s=settings.api_account_cache_ms / 1000)
        shared = SharedListener(
            bus=bus,
            metrics=metrics,
            store=store,
            modules=modules,
            ctx=ctx,
            queue_name=settings.shared_queue,
            prefetch=settings.prefetch,
            node=settings.node,
            drain_timeout_s=drain,
            probe=store_probe.check,
            tracer=tracer,
        )
        retry = RetryListener(
            bus=bus,
            metrics=metrics,
            retrier=dispatcher,
            probe=store_probe.check,
            queue_name=settings.retry_queue,
            prefetch=settings.prefetch,
            drain_timeout_s=drain,
            tracer=tracer,
        )
        try:
            # declared before any child starts: a conflict is one clear line, not a crash loop
            for listener in (shared, retry):
                await bus.declare_queue(listener.queue_spec())
        except QueueConflict as exc:
            raise queue_conflict(exc, settings) from exc
        children: list[ChildSpec] = [
            ChildSpec(
                name="config_listener",
                main=ConfigListener(
                    bus=bus,
                    metrics=metrics,
                    store=store,
                    table=table,
                    known_hooks={*modules, "all"},
                    drain_timeout_s=drain,
                    on_account_change=accounts.forget,
                ),
            ),
            ChildSpec(
                name="init",
                restart=Restart.TRANSIENT,
                main=Init(modules=modules, ctx=ctx, store=store, table=table, metrics=metrics),
            ),
        ]
        mirror = (
            KazooAccounts(
                url=settings.kazoo_couch_url,
                store=store,
                bus=bus,
                metrics=metrics,
                node=settings.node,
            )
            if settings.kazoo_couch_url
            else None
        )
        if mirror is not None:
            children.append(ChildSpec(name="kazoo_accounts", main=mirror))
        children += [
            ChildSpec(name="shared_listener", main=shared),
            ChildSpec(name="retry_worker", main=retry),
            ChildSpec(name="alerts", main=alerts),
            ChildSpec(name="store_probe", main=store_probe),
            ChildSpec(name="disabler", main=disabler),
            ChildSpec(
                name="retention",
                main=Retention(
                    store=store,
                    retention_days=settings.attempt_retention_days,
                    days_ahead=settings.attempt_partition_days_ahead,
                ),
            ),
            ChildSpec(
                name="gauges",
                main=Gauges(
                    bus=bus,
                    metrics=metrics,
                    table=table,
                    queues=(settings.shared_queue, settings.retry_queue),
                ),
            ),
        ]

        def readiness() -> dict[str, bool]:
            # looked up when called: the supervisor is built below, after the API it serves
            checks = {
                **supervisor.readiness(),
                "bus": bus.connected,
                "store": store_probe.writable,
            }
            if mirror is not None:
                # not ready until Kazoo's accounts are in the store
                checks["kazoo_accounts"] = mirror.loaded
            return checks

        def advisories() -> dict[str, bool]:
            # once loaded, a CouchDB outage shows without taking the instance out of service:
            # it keeps serving (and delivering for) the last known accounts
            return {"kazoo_accounts": mirror.in_step} if mirror is not None else {}

        app = create_app(
            ApiDeps(
                settings=settings,
                store=store,
                bus=bus,
                metrics=metrics,
                tester=dispatcher,
                readiness=readiness,
                advisories=advisories,
                accounts=accounts,
            )
        )
        api = ApiServer(app=app, host=settings.api_host, port=settings.api_port, shutdown_s=drain)
        supervisor = Supervisor(
            [*children, ChildSpec(name="api", main=api)],
            max_restarts=settings.max_restarts,
            period_s=float(settings.restart_period_s),
            on_restart=lambda name: metrics.child_restarts.labels(child=name).inc(),
        )
        yield Daemon(
            settings=settings,
            store=store,
            bus=bus,
            table=table,
            metrics=metrics,
            dispatcher=dispatcher,
            disabler=disabler,
            alerts=alerts,
            supervisor=supervisor,
            kazoo_accounts=mirror,
        )


def queue_conflict(exc: QueueConflict, settings: Settings) -> ConfigError:
    """The start-up error for a queue that exists with other arguments, naming the setting to
    look at: ``queue_type`` when the types differ, else the setting that names the queue."""
    if exc.existing_type is not None:
        return ConfigError(
            "queue_type",
            f"queue {exc.queue!r} is a {exc.existing_type} queue, not {settings.queue_type!r}; "
            "to switch, stop every instance and run `webhooksd queues migrate`",
        )
    by_queue = {settings.shared_queue: "shared_queue", settings.retry_queue: "retry_queue"}
    return ConfigError(
        by_queue.get(exc.queue, "amqp_url"),
        f"queue {exc.queue!r} exists with other arguments ({exc.detail}); "
        "another application may use that name",
    )


async def serve(settings: Settings) -> int:
    """Run the daemon until SIGTERM/SIGINT (exit 0) or until the supervisor gives up (1)."""
    worker = os.environ.get(WORKER_ENV, "")
    if worker.isdigit():
        # one of `workers` processes: every line it logs says which. Bound first, so that
        # the signal handlers' context (taken when they are added) has it too.
        structlog.contextvars.bind_contextvars(worker=int(worker))
    notifier = Notifier()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stopping = asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        if not stopping.is_set():
            log.info("stopping", signal=signum.name)
            stopping.set()
            notifier.stopping()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    guard: asyncio.Task[None] | None = None
    if worker.isdigit():
        # it stops with its parent (a parent killed outright cannot pass SIGTERM on)
        guard = asyncio.create_task(watch_parent(os.getppid(), on_signal))
    try:
        async with build(settings) as daemon:
            return await _run(daemon, stopping, notifier)
    finally:
        if guard is not None:
            guard.cancel()
            await asyncio.gather(guard, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _run(daemon: Daemon, stopping: asyncio.Event, notifier: Notifier) -> int:
    supervisor_task = asyncio.create_task(daemon.supervisor.run(), name="supervisor")
    side_tasks = [asyncio.create_task(_notify_ready(daemon, notifier))]
    interval = notifier.watchdog_interval_s()
    if interval:
        side_tasks.append(asyncio.create_task(_watchdog(daemon, notifier, interval)))
    stop_waiter = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({supervisor_task, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
        if supervisor_task.done():
            exc = supervisor_task.exception()
            if isinstance(exc, SupervisorGaveUp):
                log.critical("supervisor gave up", error=str(exc))
                return 1
            if exc is not None:
                raise exc
            return 1
        supervisor_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor_task
        log.info("stopped")
        return 0
    finally:
        for task in (*side_tasks, stop_waiter):
            task.cancel()
        await asyncio.gather(*side_tasks, stop_waiter, return_exceptions=True)


async def _notify_ready(daemon: Daemon, notifier: Notifier) -> None:
    await daemon.supervisor.all_started.wait()
    # What exists now (the loaded hook table above all) lives as long as the process: take it
    # out of the cyclic collector's full scans. With 100k hooks loaded one full collection
    # took ~100 ms, a pause that every delivery in flight would wait out; frozen objects are
    # still freed as usual when the table drops them.
    gc.freeze()
    tune_gc()
    notifier.ready(f"{len(daemon.table)} hooks loaded")


#: tracked objects allocated (net of those freed) between two young-generation collections.
#: Python's default, 700, is crossed all the time by the events in flight alone (a hundred of
#: them, each with its payload, request, tasks and record): at full speed the benchmark's
#: daemon ran 2,072 young and 188 middle collections for 40,000 events, 2.8 s of its 59 s of
#: CPU (4.7%), and moved every event in flight into the older generation on the way. At
#: 10,000 it ran 12, in 0.07 s. What a collection finds is the same; cyclic garbage waits
#: for at most 10,000 more allocations, a few megabytes.
YOUNG_GC_THRESHOLD = 10_000


def tune_gc() -> None:
    """Collect the young generation less often (:data:`YOUNG_GC_THRESHOLD`); the older
    generations keep their thresholds."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


async def _watchdog(daemon: Daemon, notifier: Notifier, interval: float) -> None:
    # only pet the watchdog while every child is up: a wedged daemon gets restarted
    while True:
        await asyncio.sleep(interval)
        if all(daemon.supervisor.readiness().values()) and daemon.bus.connected:
            notifier.watchdog()
