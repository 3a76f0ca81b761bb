"""The disabler and bulk re-enable (Kazoo's webhooks_disabler tests, §9.2, and §6.5)."""

from __future__ import annotations

import uuid

import orjson

from tests.waiting import eventually
from webhooksd.bus import Bus, Delivery, QueueSpec
from webhooksd.children.disabler import Disabler
from webhooksd.config import load
from webhooksd.hooks.reenable import reenable
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import AUTO_DISABLE_REASON, Account, AttemptRecord, HookDoc
from webhooksd.runtime.metrics import Metrics
from webhooksd.store import Store

ACCOUNT = "a" * 32
EXPIRY = 60_000


async def _hook(store: Store, *, enabled: bool = True, reason: str | None = None) -> str:
    hook_id = uuid.uuid4().hex
    doc = {"name": "h", "uri": "http://h.example/", "hook": "channel_create", "enabled": enabled}
    await store.create_hook(
        HookDoc(id=hook_id, account_id=ACCOUNT, doc=doc, disabled_reason=reason)
    )
    return hook_id


async def _fail(store: Store, hook_id: str, count: int, *, ago_ms: int) -> None:
    now = now_ms()
    await store.add_attempts(
        [
            AttemptRecord(
                id=uuid.uuid4().hex,
                account_id=ACCOUNT,
                hook_id=hook_id,
                event_id="e" * 10,
                created_ms=now - ago_ms + n,
                result="failure",
                counts_as_failure=True,
                doc={"hook_id": hook_id, "result": "failure"},
            )
            for n in range(count)
        ]
    )


async def _collect(bus: Bus, exchange: str, key: str) -> list[dict[str, object]]:
    got: list[dict[str, object]] = []
    queue = await bus.declare_queue(QueueSpec(exclusive=True, auto_delete=True))
    await bus.bind(queue, exchange, key)

    async def handler(delivery: Delivery) -> None:
        got.append(orjson.loads(delivery.message.body))
        await delivery.ack()

    await bus.consume(queue, handler, prefetch=10)
    return got


def _disabler(store: Store, bus: Bus, unloaded: list[str] | None = None) -> Disabler:
    return Disabler(
        settings=load(environ={}),
        store=store,
        bus=bus,
        metrics=Metrics(),
        unload=(unloaded if unloaded is not None else []).append,
    )


async def test_failures_outside_the_window_do_not_disable(store: Store, bus: Bus) -> None:
    """Six failures older than the expiry window leave the hook on (should_not_disable_hook)."""
    hook_id = await _hook(store)
    await _fail(store, hook_id, 6, ago_ms=EXPIRY + 5_000)
    assert await _disabler(store, bus).check() == []
    stored = await store.get_hook(hook_id)
    assert stored is not None and stored.enabled


async def test_threshold_failures_inside_the_window_disable(store: Store, bus: Bus) -> None:
    """Six failures inside the window disable the hook, with the reason and the notices."""
    notices = await _collect(bus, "notifications", "notifications.webhook.disabled")
    changes = await _collect(bus, "configuration", "doc_edited.webhooks.webhook.*")
    hook_id, other = await _hook(store), await _hook(store)
    await _fail(store, hook_id, 6, ago_ms=EXPIRY - 5_000)
    await _fail(store, other, 5, ago_ms=1_000)
    unloaded: list[str] = []
    assert await _disabler(store, bus, unloaded).check() == [hook_id]
    # out of this instance's table before any notice is out: no event fires it meanwhile
    assert unloaded == [hook_id]
    stored = await store.get_hook(hook_id)
    assert stored is not None and not stored.enabled
    assert stored.disabled_reason == AUTO_DISABLE_REASON and stored.is_auto_disabled
    await eventually(lambda: notices and changes, what="the disabled notice and doc change")
    assert notices and notices[0]["Event-Name"] == "webhook_disabled"
    assert notices[0]["Hook-ID"] == hook_id and notices[0]["Account-ID"] == ACCOUNT
    assert [c["ID"] for c in changes] == [hook_id]
    # the disabled hook's failures were flushed; the other hook's still count
    assert {f.hook_id for f in await store.count_failures(0)} == {other}


async def test_account_override_of_threshold_and_window(store: Store, bus: Bus) -> None:
    """An account's own attempt_failure_count and expiry replace the system ones."""
    await store.set_setting(ACCOUNT, "attempt_failure_count", 2)
    await store.set_setting(ACCOUNT, "attempt_failure_expiry_ms", 5_000)
    hook_id, old = await _hook(store), await _hook(store)
    await _fail(store, hook_id, 2, ago_ms=1_000)
    await _fail(store, old, 3, ago_ms=30_000)  # inside the system window, outside the account's
    assert await _disabler(store, bus).check() == [hook_id]


async def test_reenable_touches_only_auto_disabled_hooks(store: Store, bus: Bus) -> None:
    """Bulk re-enable brings back auto-disabled hooks and leaves hand-disabled ones off."""
    auto = await _hook(store, enabled=False, reason=AUTO_DISABLE_REASON)
    by_hand = await _hook(store, enabled=False)
    await _fail(store, auto, 6, ago_ms=1_000)
    assert await reenable(store, bus, ACCOUNT, descendants=False, node="n") == [auto]
    back, still_off = await store.get_hook(auto), await store.get_hook(by_hand)
    assert back is not None and back.enabled and back.disabled_reason is None
    assert still_off is not None and not still_off.enabled
    # its old failures were flushed, so the next check does not switch it off again
    assert await _disabler(store, bus).check() == []


async def test_reenable_descendants(store: Store, bus: Bus) -> None:
    """With descendants, sub-accounts' auto-disabled hooks come back too."""
    child = Account(id="c" * 32, name="child", parent_id=ACCOUNT, tree=(ACCOUNT,))
    await store.create_account(child)
    hook_id = uuid.uuid4().hex
    await store.create_hook(
        HookDoc(
            id=hook_id,
            account_id=child.id,
            doc={
                "name": "h",
                "uri": "http://h.example/",
                "hook": "sms",
                "enabled": False,
            },
            disabled_reason=AUTO_DISABLE_REASON,
        )
    )
    assert await reenable(store, bus, ACCOUNT, descendants=False, node="n") == []
    assert await reenable(store, bus, ACCOUNT, descendants=True, node="n") == [hook_id]
