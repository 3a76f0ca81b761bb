"""Issue 14's additions to the API: the hooks' health, the plain-words ``cause`` of a failed
attempt, legacy custom_data kept on write, the accounts' ``tree`` and the sms/mms samples."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from webhooksd.delivery.attempts import attempt_record
from webhooksd.delivery.outcome import BAD_RESPONSE, CLIENT_ERROR, Outcome
from webhooksd.delivery.request import OutboundRequest
from webhooksd.kazoo.timeutil import now_gregorian
from webhooksd.records import AttemptRecord, Hook
from webhooksd.store.sqlite import path_from_url
from webhooksd_hooks import _im

from .conftest import Api

URI = "http://127.0.0.1:9/in"


async def create(api: Api, token: str, **doc: Any) -> str:
    body = {"name": "n", "hook": "channel_create", "uri": URI, **doc}
    _, reply, _ = await api.call(
        "PUT", f"/v2/accounts/{api.master.id}/webhooks", token=token, data=body
    )
    hook_id: str = reply["data"]["id"]
    return hook_id


def record(hook_id: str, account_id: str, outcome: Outcome, **extra: Any) -> AttemptRecord:
    """An attempt record as the dispatcher writes it."""
    hook = Hook(id=hook_id, account_id=account_id, name="n", uri=URI, hook="channel_create")
    return attempt_record(
        hook=hook,
        request=OutboundRequest(method="POST", uri=URI, url=URI),
        outcome=outcome,
        event_id="e1",
        attempt=1,
        retries_left=1,
        payload={"x": 1},
        **extra,
    )


REFUSED = Outcome(
    kind="retryable", client_error="failed_connect: econnrefused", reason=CLIENT_ERROR
)
UNAVAILABLE = Outcome(kind="retryable", status=503, reason=BAD_RESPONSE)


async def test_health_of_each_hook(api: Api, token: str) -> None:
    """Failing (enabled, newest attempt failed, a retry due), healthy, idle and disabled by
    the server, each with its counts; the Crossbar listing keeps its shape."""
    account = api.master.id
    failing = await create(api, token, name="failing")
    healthy = await create(api, token, name="healthy")
    await create(api, token, name="idle")
    gone = await create(api, token, name="gone")
    ok = Outcome(kind="success", status=200)
    made = [
        record(failing, account, ok),
        record(failing, account, UNAVAILABLE),
        record(failing, account, REFUSED, retry_in_ms=60_000),
        record(healthy, account, ok),
    ]
    # a millisecond apart, in this order (records made in one millisecond tie on it)
    newest = max(a.created_ms for a in made)
    await api.store.add_attempts(
        [replace(a, created_ms=newest - len(made) + n) for n, a in enumerate(made)]
    )
    stored = await api.store.get_hook(gone)
    assert stored is not None
    await api.store.update_hook(
        replace(stored, doc={**stored.doc, "enabled": False}, disabled_reason="too many failed")
    )
    status, body, _ = await api.call("GET", f"/v2/accounts/{account}/webhooks/health", token=token)
    assert status == 200, body
    items = {item["name"]: item for item in body["data"]}
    bad = items["failing"]
    assert bad["state"] == "failing" and bad["enabled"] is True
    assert bad["recent"] == {"attempts": 3, "failures": 2}
    assert bad["last_hour"] == bad["last_day"] == {"attempts": 3, "successes": 1}
    assert bad["last_attempt"]["result"] == "failure"
    assert bad["last_attempt"]["cause"].startswith("Connection refused by 127.0.0.1:9")
    assert 50 <= bad["next_retry"] - now_gregorian() <= 61
    assert items["healthy"]["state"] == "healthy"
    assert items["healthy"]["last_attempt"]["status_code"] == "200"
    assert "cause" not in items["healthy"]["last_attempt"] and "next_retry" not in items["healthy"]
    assert items["idle"]["state"] == "idle" and items["idle"]["last_attempt"] is None
    assert items["gone"]["state"] == "disabled_by_server"
    assert items["gone"]["disable_reason"] == "too many failed"
    _, listing, _ = await api.call("GET", f"/v2/accounts/{account}/webhooks", token=token)
    assert all(
        set(h) <= {"id", "hook", "name", "uri", "enabled", "disable_reason"}
        for h in listing["data"]
    )


async def test_attempt_items_carry_the_cause(api: Api, token: str) -> None:
    account = api.master.id
    hook_id = await create(api, token)
    await api.store.add_attempts([record(hook_id, account, UNAVAILABLE)])
    _, body, _ = await api.call(
        "GET", f"/v2/accounts/{account}/webhooks/{hook_id}/attempts", token=token
    )
    (item,) = body["data"]
    assert item["reason"] == "bad response code" and item["cause"] == "HTTP 503"


async def test_unchanged_non_string_custom_data_survives_writes(api: Api, token: str) -> None:
    """A stored non-string value (older clients wrote them) sent back as it is is kept by
    PATCH and POST; a new one, or a changed one, is still refused."""
    account = api.master.id
    hook_id = await create(api, token, custom_data={"crm": "7"})
    with sqlite3.connect(path_from_url(api.settings.store_url)) as db:
        db.execute(
            "UPDATE hooks SET doc = json_set(doc, '$.custom_data.answer', 42) WHERE id = ?",
            (hook_id,),
        )
    path = f"/v2/accounts/{account}/webhooks/{hook_id}"
    status, body, _ = await api.call("PATCH", path, token=token, data={"name": "renamed"})
    assert status == 200, body
    assert body["data"]["custom_data"] == {"crm": "7", "answer": 42}
    _, got, _ = await api.call("GET", path, token=token)
    status, body, _ = await api.call("POST", path, token=token, data=got["data"])
    assert status == 200, body
    assert body["data"]["custom_data"] == {"crm": "7", "answer": 42}
    changed = {"custom_data": {"crm": "7", "answer": 43}}
    status, body, _ = await api.call("PATCH", path, token=token, data=changed)
    assert status == 400 and "custom_data.answer" in body["data"], body
    status, body, _ = await api.call("PATCH", path, token=token, data={"custom_data": {"crm": "8"}})
    assert status == 200 and body["data"]["custom_data"] == {"crm": "8"}


async def test_descendants_carry_their_tree(api: Api, token: str) -> None:
    parent, _ = await api.sub_account("parent")
    await api.sub_account("child", parent.id)
    _, body, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/descendants", token=token)
    trees = {a["name"]: a["tree"] for a in body["data"]}
    assert trees == {"parent": [api.master.id], "child": [api.master.id, parent.id]}


async def test_sms_and_mms_samples_are_shaped_like_their_payloads(api: Api) -> None:
    """What the sms/mms hooks fire (``_im.format_event``), field for field."""
    inbound = {
        "Event-Category": "sms",
        "Message-ID": "m1",
        "From": "+1",
        "To": "+2",
        "Body": "hi",
        "Route-Type": "offnet",
        "Charges": "0.5",
    }
    for kind in ("sms", "mms"):
        status, body, _ = await api.call("GET", f"/v2/webhooks/samples/webhooks_{kind}")
        assert status == 200, body
        (sample,) = body["data"]
        fired = _im.format_event({**inbound, "Event-Category": kind}, "acct")
        assert set(sample) == set(fired)
        assert sample["type"] == kind and sample["origin"] == "offnet"
        assert all(type(sample[k]) is type(fired[k]) for k in fired if k != "account_id")
