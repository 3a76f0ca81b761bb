"""Listeners on the in-process bus with a real SQLite store: table sync and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
import structlog
import structlog.testing
from prometheus_client import generate_latest

from tests.waiting import eventually
from webhooksd.bus import DEAD_LETTER, Bus, Delivery, Message, QueueSpec
from webhooksd.errors import StoreError
from webhooksd.hooks.contract import Binding, HookContext, Metadata, Responder
from webhooksd.hooks.table import HookTable
from webhooksd.kazoo.docchanges import ALL_ACCOUNTS, publish_account_change, publish_hook_change
from webhooksd.kazoo.events import Event
from webhooksd.listeners.base import QueueListener
from webhooksd.listeners.config import ConfigListener
from webhooksd.listeners.shared import SharedListener
from webhooksd.records import Account, Hook, HookDoc
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import Store

ACCOUNT = "a" * 32


@contextlib.asynccontextmanager
async def _running(child: Any) -> AsyncIterator[None]:
    handle = ChildHandle("test")
    task = asyncio.create_task(child(handle))
    await asyncio.wait_for(handle.wait_ready(), 2)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_config_listener_follows_hook_changes(store: Store, bus: Bus) -> None:
    """doc_created loads a hook, doc_edited to disabled unloads it, doc_deleted removes it."""
    table = HookTable()
    listener = ConfigListener(
        bus=bus,
        metrics=Metrics(),
        store=store,
        table=table,
        known_hooks={"sms", "all"},
        drain_timeout_s=1,
    )
    hook_id = uuid.uuid4().hex
    doc = {"name": "h", "uri": "http://h.example/", "hook": "sms"}
    async with _running(listener):
        stored = await store.create_hook(HookDoc(id=hook_id, account_id=ACCOUNT, doc=doc))
        await publish_hook_change(bus, "doc_created", hook_id=hook_id, account_id=ACCOUNT, node="n")
        await eventually(lambda: table.get(hook_id) is not None)
        assert [h.id for h in table.find("sms", ACCOUNT)] == [hook_id]
        await store.update_hook(
            HookDoc(
                id=hook_id,
                account_id=ACCOUNT,
                doc={**doc, "enabled": False},
                revision=stored.revision,
            )
        )
        await publish_hook_change(bus, "doc_edited", hook_id=hook_id, account_id=ACCOUNT, node="n")
        await eventually(lambda: table.get(hook_id) is None)


async def test_config_listener_removes_deleted_accounts(store: Store, bus: Bus) -> None:
    """An account's doc_deleted drops its hooks from the table; a new account is learnt."""
    table = HookTable()
    table.put_account(Account(id=ACCOUNT, name="acct"))
    table.put(Hook(id="h1", account_id=ACCOUNT, name="h", uri="http://h.example/", hook="sms"))
    listener = ConfigListener(
        bus=bus, metrics=Metrics(), store=store, table=table, known_hooks={"sms"}, drain_timeout_s=1
    )
    child = Account(id="c" * 32, name="child", parent_id=ACCOUNT, tree=(ACCOUNT,))
    async with _running(listener):
        await store.create_account(child)
        await publish_account_change(bus, "doc_created", account_id=child.id, node="n")
        await eventually(lambda: table.account(child.id) is not None)
        await publish_account_change(bus, "doc_deleted", account_id=ACCOUNT, node="n")
        await eventually(lambda: table.get("h1") is None)


async def test_config_listener_reloads_all_accounts(store: Store, bus: Bus) -> None:
    """The all-accounts notice (after the Kazoo mirror's full read) loads every account of
    the store into the table and tells of each."""
    table = HookTable()
    changed: list[str] = []
    listener = ConfigListener(
        bus=bus,
        metrics=Metrics(),
        store=store,
        table=table,
        known_hooks={"sms"},
        drain_timeout_s=1,
        on_account_change=changed.append,
    )
    ids = [f"{n}" * 32 for n in range(1, 4)]
    async with _running(listener):
        for account_id in ids:
            await store.create_account(Account(id=account_id, name=account_id[:3]))
        await publish_account_change(bus, "doc_edited", account_id=ALL_ACCOUNTS, node="n")
        everyone = [a.id for a in await store.list_accounts()]
        await eventually(lambda: table.account_count == len(everyone), what="accounts loaded")
        assert set(ids) <= set(changed) == set(everyone)


async def test_config_listener_tells_of_account_changes(store: Store, bus: Bus) -> None:
    """Another instance's account notice reaches ``on_account_change`` (the API's cache
    forgets the account at once instead of after its TTL)."""
    changed: list[str] = []
    listener = ConfigListener(
        bus=bus,
        metrics=Metrics(),
        store=store,
        table=HookTable(),
        known_hooks={"sms"},
        drain_timeout_s=1,
        on_account_change=changed.append,
    )
    account = Account(id="d" * 32, name="acct")
    async with _running(listener):
        await store.create_account(account)
        await publish_account_change(bus, "doc_edited", account_id=account.id, node="other")
        await eventually(lambda: changed == [account.id])
        await publish_account_change(bus, "doc_deleted", account_id=account.id, node="other")
        await eventually(lambda: changed == [account.id, account.id])


class RecordingModule:
    """A minimal hook module that records the events it is handed (or fails on demand)."""

    METADATA = Metadata(id="sms", name="SMS", description="test")

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def init(self, ctx: HookContext) -> None:
        await ctx.init_metadata(self.METADATA)

    def bindings_and_responders(self) -> tuple[Sequence[Binding], Sequence[Responder]]:
        return [Binding("im", "sms.inbound.*.*")], [Responder("sms", "inbound")]

    async def handle_event(self, event: Event, ctx: HookContext) -> None:
        if event.body.get("Body") == "boom":
            raise RuntimeError("a bug for this message")
        self.events.append(event)


class NoContext:
    settings: Any = None

    def account(self, account_id: str) -> None:
        return None

    def find_hooks(self, hook_event: str, account_id: str | None) -> list[Hook]:
        return []

    async def fire(
        self,
        event: Event,
        payload: Mapping[str, Any],
        hooks: Sequence[Hook],
        *,
        v2: Mapping[str, Any] | None = None,
    ) -> None:
        return None

    async def init_metadata(self, metadata: Metadata) -> None:
        return None


async def test_shared_listener_dead_letters_bad_input_and_keeps_going(
    store: Store, bus: Bus
) -> None:
    """Non-JSON, non-object, keyless and handler-crashing messages are dead-lettered and
    counted; the next good message is still handled."""
    module = RecordingModule()
    metrics = Metrics()
    listener = SharedListener(
        bus=bus,
        metrics=metrics,
        store=store,
        modules={"sms": module},
        ctx=NoContext(),
        queue_name=f"shared.{uuid.uuid4().hex}",
        prefetch=5,
        node="n",
        drain_timeout_s=1,
    )
    dead: list[bytes] = []

    async def on_dead(delivery: Delivery) -> None:
        dead.append(delivery.message.body)
        await delivery.ack()

    await bus.consume(DEAD_LETTER, on_dead, prefetch=10)
    good = {"Event-Category": "sms", "Event-Name": "inbound", "Body": "hi"}
    bad = [
        b"not json",
        b"[1]",
        orjson.dumps({"Event-Name": "inbound"}),
        orjson.dumps({**good, "Body": "boom"}),
    ]
    async with _running(listener):
        for body in bad:
            await bus.publish("im", "sms.inbound.offnet.1", body)
        await bus.publish("im", "sms.inbound.offnet.2", orjson.dumps(good))
        await eventually(lambda: len(module.events) == 1 and len(dead) == 4)
    assert sorted(dead) == sorted(bad)
    samples = {
        s.labels["reason"]: s.value
        for s in next(iter(metrics.events_dead_lettered.collect())).samples
        if s.name.endswith("_total")
    }
    assert samples == {"malformed": 3.0, "handler_error": 1.0}


class WholeCategoryModule(RecordingModule):
    """Takes every notification, as the notifications hook does (``notification``/``*``),
    naming the one type it knows."""

    def bindings_and_responders(self) -> tuple[Sequence[Binding], Sequence[Responder]]:
        responders = [Responder("notification", "voicemail_new"), Responder("notification", "*")]
        return [Binding("notifications", "#")], responders


def _consumed(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["category"], s.labels["name"]): s.value
        for s in next(iter(metrics.events_consumed.collect())).samples
        if s.name.endswith("_total")
    }


async def test_invented_event_names_do_not_grow_metrics(store: Store, bus: Bus) -> None:
    """Thousands of distinct Event-Names (in a known category, in one a module takes whole,
    in invented categories) leave /metrics at under twice its size: known names keep their
    label, the rest are counted under ``other``."""
    metrics = Metrics()
    listener = SharedListener(
        bus=bus,
        metrics=metrics,
        store=store,
        modules={"sms": RecordingModule(), "notifications": WholeCategoryModule()},
        ctx=NoContext(),
        queue_name=f"shared.{uuid.uuid4().hex}",
        prefetch=50,
        node="n",
        drain_timeout_s=1,
    )
    per_kind = 1500
    async with _running(listener):
        await bus.bind(listener.queue, "im", "#")
        await bus.publish("im", "sms.inbound.offnet.0", orjson.dumps(
            {"Event-Category": "sms", "Event-Name": "inbound", "Body": "hi"}
        ))  # fmt: skip
        await bus.publish("notifications", "n.voicemail_new", orjson.dumps(
            {"Event-Category": "notification", "Event-Name": "voicemail_new"}
        ))  # fmt: skip
        await eventually(lambda: sum(_consumed(metrics).values()) == 2)
        before = len(generate_latest(metrics.registry))
        for n in range(per_kind):
            for exchange, category in (("im", "sms"), ("notifications", "notification")):
                body = {"Event-Category": category, "Event-Name": f"invented-{n}"}
                await bus.publish(exchange, f"x.{n}", orjson.dumps(body))
            body = {"Event-Category": f"cat-{n}", "Event-Name": f"name-{n}"}
            await bus.publish("im", f"y.{n}", orjson.dumps(body))
        total = 2 + 3 * per_kind
        await eventually(lambda: sum(_consumed(metrics).values()) == total, timeout=30)
    after = len(generate_latest(metrics.registry))
    consumed = _consumed(metrics)
    print(f"/metrics {before} bytes before, {after} after {3 * per_kind} invented names")
    assert after < 2 * before
    assert consumed[("sms", "inbound")] == 1
    assert consumed[("notification", "voicemail_new")] == 1
    assert consumed[("sms", "other")] == per_kind
    assert consumed[("other", "other")] == per_kind
    assert consumed[("notification", "other")] == per_kind
    assert len(consumed) == 5


class LoggingModule(RecordingModule):
    """Logs a line while it handles an event, and notes the context variables bound then."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: list[dict[str, Any]] = []

    async def handle_event(self, event: Event, ctx: HookContext) -> None:
        self.bound.append(structlog.contextvars.get_contextvars())
        structlog.get_logger("test").info("handling")
        await asyncio.sleep(0)
        self.bound.append(structlog.contextvars.get_contextvars())


async def test_a_modules_lines_carry_the_event_id_and_the_context_is_restored(
    store: Store,
) -> None:
    """While a module handles an event, the lines logged carry its ``event_id`` (across an
    await); after it, the caller's context is what it was, an ``event_id`` bound before
    included."""
    module = LoggingModule()
    listener = SharedListener(
        bus=None,  # type: ignore[arg-type]
        metrics=Metrics(),
        store=store,
        modules={"sms": module},
        ctx=NoContext(),
        queue_name="shared.test",
        prefetch=1,
        node="n",
        drain_timeout_s=1,
    )
    body = orjson.dumps({"Event-Category": "sms", "Event-Name": "inbound", "Body": "hi"})
    event_id = hashlib.sha256(body).hexdigest()[:10]
    message = Message(exchange="im", routing_key="sms.inbound.offnet.1", body=body)
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        await listener.process(message)
        assert structlog.contextvars.get_contextvars() == {}
        with structlog.contextvars.bound_contextvars(event_id="outer", worker=1):
            await listener.process(message)
            assert structlog.contextvars.get_contextvars() == {"event_id": "outer", "worker": 1}
    assert [line["event_id"] for line in logs if line["event"] == "handling"] == [event_id] * 2
    assert module.bound == [{"event_id": event_id}] * 2 + [{"event_id": event_id, "worker": 1}] * 2


async def test_kazoo_doc_type_update_reenables_and_replies(store: Store, bus: Bus) -> None:
    """Crossbar's doc_type_update request re-enables auto-disabled hooks and is answered on
    `targeted` to its Server-ID with Kazoo's doc_type_updated reply."""
    from webhooksd.bus import QueueSpec
    from webhooksd.records import AUTO_DISABLE_REASON

    hook_id = uuid.uuid4().hex
    await store.create_hook(
        HookDoc(
            id=hook_id,
            account_id=ACCOUNT,
            disabled_reason=AUTO_DISABLE_REASON,
            doc={"name": "h", "uri": "http://h.example/", "hook": "sms", "enabled": False},
        )
    )
    reply_queue = await bus.declare_queue(QueueSpec(exclusive=True, auto_delete=True))
    await bus.bind(reply_queue, "targeted", reply_queue)
    replies: list[dict[str, Any]] = []

    async def on_reply(delivery: Delivery) -> None:
        replies.append(orjson.loads(delivery.message.body))
        await delivery.ack()

    await bus.consume(reply_queue, on_reply, prefetch=1)
    listener = SharedListener(
        bus=bus,
        metrics=Metrics(),
        store=store,
        modules={},
        ctx=NoContext(),
        queue_name=f"shared.{uuid.uuid4().hex}",
        prefetch=5,
        node="n",
        drain_timeout_s=1,
    )
    request = {
        "Event-Category": "configuration",
        "Event-Name": "doc_type_update",
        "Type": "webhook",
        "Action": "account",
        "Account-ID": ACCOUNT,
        "Msg-ID": "req-1",
        "Server-ID": reply_queue,
        "App-Name": "crossbar",
        "App-Version": "4.0.0",
        "Node": "crossbar@x",
    }
    async with _running(listener):
        await bus.publish(
            "configuration",
            "configuration.doc_type_update.webhook",
            orjson.dumps(request),
            mandatory=True,
        )
        await eventually(lambda: bool(replies))
    assert replies[0]["Event-Name"] == "doc_type_updated" and replies[0]["Msg-ID"] == "req-1"
    assert replies[0]["status"] == "success"
    stored = await store.get_hook(hook_id)
    assert stored is not None and stored.enabled and stored.disabled_reason is None


async def test_gauges_sample_queue_depths(bus: Bus) -> None:
    """The gauges child puts queue depths and the table size on /metrics."""
    from webhooksd.bus import QueueSpec
    from webhooksd.children.gauges import Gauges

    queue = await bus.declare_queue(QueueSpec(name=f"q.{uuid.uuid4().hex}"))
    for _ in range(3):
        await bus.publish("", queue, b"{}")
    metrics = Metrics()
    await Gauges(bus=bus, metrics=metrics, table=HookTable(), queues=[queue]).sample()
    samples = {
        s.labels.get("queue"): s.value for s in next(iter(metrics.queue_depth.collect())).samples
    }
    assert samples[queue] == 3


def test_the_requeue_pause_grows_with_the_outage_and_is_capped() -> None:
    """A short blip is retried after a second; a long outage is not hammered."""
    from webhooksd.listeners.base import REQUEUE_MAX_PAUSE_S, REQUEUE_PAUSE_S, requeue_pause

    assert requeue_pause(0.0) == REQUEUE_PAUSE_S
    assert requeue_pause(10.0) == 5.0
    assert requeue_pause(3600.0) == REQUEUE_MAX_PAUSE_S
    pauses = [requeue_pause(t) for t in range(0, 120, 5)]
    assert pauses == sorted(pauses)


class _Gated(QueueListener):
    """A listener whose messages fail, succeed or wait as their body says."""

    name = "gated"

    def __init__(self, bus: Bus, probe: Callable[[], Awaitable[None]]) -> None:
        super().__init__(bus=bus, metrics=Metrics(), prefetch=10, drain_timeout_s=1, probe=probe)
        self.queue_name = f"gated.{uuid.uuid4().hex}"
        self.started: list[bytes] = []
        self.done: list[bytes] = []
        self.release = asyncio.Event()

    def queue_spec(self) -> QueueSpec:
        return QueueSpec(name=self.queue_name)

    def bindings(self) -> Sequence[Binding]:
        return [Binding("callevt", f"{self.queue_name}.#")]

    async def process(self, message: Message) -> None:
        self.started.append(message.body)
        if message.body == b"unrecorded":
            raise StoreError("sqlite: database or disk is full")
        if message.body == b"slow":
            await self.release.wait()
        self.done.append(message.body)


async def test_only_the_probe_ends_a_store_outage(bus: Bus) -> None:
    """A message that succeeds during an outage (in flight from before it, or needing no write)
    proves nothing about the store: the next message still waits for the write probe, rather
    than being sent, failing to be recorded and being sent again on every redelivery."""
    full = True
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if full:
            raise StoreError("sqlite: database or disk is full")

    listener = _Gated(bus, probe)
    key = f"{listener.queue_name}.x"
    async with _running(listener):
        await bus.publish("callevt", key, b"slow")
        await eventually(lambda: listener.started == [b"slow"])
        await bus.publish("callevt", key, b"unrecorded")  # the outage begins
        await eventually(lambda: b"unrecorded" in listener.started)
        listener.release.set()
        await eventually(lambda: listener.done == [b"slow"])
        await bus.publish("callevt", key, b"next")
        # the new message, then the failed one when it comes back, each meet the probe
        await eventually(lambda: probes >= 2, timeout=10, what="two probes")
        assert b"next" not in listener.started
        assert listener.started.count(b"unrecorded") == 1
        full = False
        await eventually(lambda: b"next" in listener.done, timeout=10, what="next handled")
        await eventually(
            lambda: listener.started.count(b"unrecorded") == 2, timeout=10, what="tried again"
        )
