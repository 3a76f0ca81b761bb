"""Every hook and account write announces Kazoo's doc-change notice on ``configuration``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest

from webhooksd.bus import Delivery, QueueSpec
from webhooksd.records import AUTO_DISABLE_REASON

from .conftest import Api

HOOK = {"name": "n", "uri": "http://example.com/h", "hook": "channel_create"}


@dataclass
class Notices:
    """Doc-change notices as consumed from a queue bound to ``configuration``/``#``."""

    inbox: asyncio.Queue[tuple[str, dict[str, Any]]]

    async def take(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        got = [await asyncio.wait_for(self.inbox.get(), 2) for _ in range(count)]
        await asyncio.sleep(0.05)  # a window for one notice too many, which must not come
        assert self.inbox.empty(), "more notices than expected"
        return got


@pytest.fixture(name="notices")
async def fixture_notices(api: Api) -> AsyncIterator[Notices]:
    """A queue bound to every configuration notice, consumed into an asyncio queue."""
    inbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    queue = await api.bus.declare_queue(QueueSpec(exclusive=True, auto_delete=True))
    await api.bus.bind(queue, "configuration", "#")

    async def handler(delivery: Delivery) -> None:
        inbox.put_nowait((delivery.message.routing_key, orjson.loads(delivery.message.body)))
        await delivery.ack()

    consumer = await api.bus.consume(queue, handler, prefetch=10)
    yield Notices(inbox=inbox)
    await consumer.cancel()


async def test_hook_writes_announced(api: Api, token: str, notices: Notices) -> None:
    """PUT, POST, PATCH and DELETE of a hook each publish one notice with Kazoo's keys."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    _, body, _ = await api.call("PUT", path, token=token, data=HOOK)
    hook_id = body["data"]["id"]
    ((key, notice),) = await notices.take(1)
    assert key == f"doc_created.webhooks.webhook.{hook_id}"
    assert notice["Event-Category"] == "configuration"
    assert notice["Event-Name"] == "doc_created"
    assert (notice["ID"], notice["Type"], notice["Database"]) == (hook_id, "webhook", "webhooks")
    assert notice["Account-ID"] == api.master.id
    assert notice["Node"] == "webhooksd@test"
    for method, data in (("POST", HOOK), ("PATCH", {"enabled": False})):
        await api.call(method, f"{path}/{hook_id}", token=token, data=data)
        ((key, notice),) = await notices.take(1)
        assert key == f"doc_edited.webhooks.webhook.{hook_id}"
    await api.call("DELETE", f"{path}/{hook_id}", token=token)
    ((key, _),) = await notices.take(1)
    assert key == f"doc_deleted.webhooks.webhook.{hook_id}"


async def test_refused_write_announces_nothing(api: Api, token: str, notices: Notices) -> None:
    """A write refused by validation publishes no notice."""
    await api.call("PUT", f"/v2/accounts/{api.master.id}/webhooks", token=token, data={})
    await asyncio.sleep(0.1)  # a window for a notice, which must not come: nothing to wait on
    assert notices.inbox.empty()


async def test_account_writes_announced(api: Api, token: str, notices: Notices) -> None:
    """Account create/edit/delete publish account notices; delete also drops its hooks."""
    _, body, _ = await api.call(
        "PUT", f"/v2/accounts/{api.master.id}", token=token, data={"name": "sub"}
    )
    account_id = body["data"]["id"]
    ((key, _),) = await notices.take(1)
    assert key == f"doc_created.accounts.account.{account_id}"
    await api.call("PATCH", f"/v2/accounts/{account_id}", token=token, data={"realm": "r.x"})
    ((key, _),) = await notices.take(1)
    assert key == f"doc_edited.accounts.account.{account_id}"
    _, body, _ = await api.call(
        "PUT", f"/v2/accounts/{account_id}/webhooks", token=token, data=HOOK
    )
    hook_id = body["data"]["id"]
    await notices.take(1)
    status, _, _ = await api.call("DELETE", f"/v2/accounts/{account_id}", token=token)
    assert status == 200
    keys = [key for key, _ in await notices.take(2)]
    assert keys == [
        f"doc_deleted.webhooks.webhook.{hook_id}",
        f"doc_deleted.accounts.account.{account_id}",
    ]
    assert await api.store.get_hook(hook_id) is None
    assert await api.store.get_account(account_id) is None


async def test_reenable_announced(api: Api, token: str, notices: Notices) -> None:
    """Bulk re-enable publishes doc_edited for each hook it switched back on."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    _, body, _ = await api.call("PUT", path, token=token, data=HOOK)
    await notices.take(1)
    stored = await api.store.get_hook(body["data"]["id"])
    assert stored is not None
    await api.store.update_hook(
        replace(stored, doc={**stored.doc, "enabled": False}, disabled_reason=AUTO_DISABLE_REASON)
    )
    await api.call("PATCH", path, token=token, data={"re-enable": True})
    ((key, _),) = await notices.take(1)
    assert key == f"doc_edited.webhooks.webhook.{stored.id}"
