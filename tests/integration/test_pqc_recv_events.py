"""Kazoo's pqc_cb_webhooks seq_recv_events (scenario B) against the real daemon."""

from __future__ import annotations

import asyncio
import random
import uuid
from urllib.parse import parse_qsl

import pytest

from tests.conftest import Receiver
from tests.integration.conftest import DaemonFactory, KazooPublisher
from tests.integration.kazoo_events import doc_change
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_seq_recv_events(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """An object hook for users receives exactly one form-encoded delivery per user create,
    edit and delete, within 2 s each; after the hook is deleted nothing is loaded any more."""
    d = await daemons(sqlite_store_url)
    created = await d.api("PUT", f"/v2/accounts/{d.master_id}", {"name": "account_for_webhooks"})
    account = created["data"]["id"]
    assert (await d.api("GET", f"/v2/accounts/{account}/webhooks"))["data"] == []
    verb = random.choice(["put", "post"])
    hook = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {
            "name": "pqc_cb_webhooks_user",
            "uri": receiver.url + "/pqc_cb_webhooks",
            "hook": "object",
            "http_verb": verb,
            "custom_data": {"type": "user", "action": "all"},
            "enabled": True,
            "format": "form-data",
            "include_internal_legs": True,
            "retries": 2,
        },
    )
    hook_id = hook["data"]["id"]
    listing = await d.api("GET", f"/v2/accounts/{account}/webhooks")
    assert [h["id"] for h in listing["data"]] == [hook_id]
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="hook loaded")
    user_id = uuid.uuid4().hex
    for n, action in enumerate(("doc_created", "doc_edited", "doc_deleted"), start=1):
        await kazoo.publish("configuration", *doc_change(account, action, "user", user_id))
        got = await receiver.wait_for(n, timeout=2)
        last = got[-1]
        assert last.method == verb.upper() and last.path == "/pqc_cb_webhooks"
        assert last.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert last.headers["X-Hook-ID"] == hook_id and last.headers["X-Account-ID"] == account
        form = dict(parse_qsl(last.body.decode()))
        assert form["type"] == "user" and form["action"] == action and form["id"] == user_id
        assert form["account_id"] == account and "cluster_id" in form
    await asyncio.sleep(0.3)  # time for a second delivery of an operation, if there were one
    assert len(receiver.requests) == 3  # exactly one delivery per user operation
    await d.api("DELETE", f"/v2/accounts/{account}/webhooks/{hook_id}")
    assert (await d.api("GET", f"/v2/accounts/{account}/webhooks"))["data"] == []
    await eventually(lambda: not d.daemon.table.hooks(account), what="hook unloaded")
    assert d.daemon.table.hooks() == []
