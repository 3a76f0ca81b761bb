"""Kazoo 5's new hook types end to end: a Kazoo-format event published on the real broker,
on the exchange and routing key Kazoo publishes it with, reaches a real receiver as Kazoo 5's
payload; the types are listed by ``GET /v2/webhooks`` and their samples served."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import Receiver
from tests.integration.conftest import DaemonFactory, KazooPublisher, RunningDaemon
from tests.integration.kazoo_events import cdr_report, channel_event
from tests.waiting import eventually

pytestmark = pytest.mark.integration

NEW_TYPES = {
    "cdr": ("CDR", "Receive notifications when sms is received"),
    "channel_hold": (
        "Channel Hold",
        "This webhook is triggered when an established call gets put on hold",
    ),
    "channel_unhold": (
        "Channel Unhold",
        "This webhook is triggered when an established call gets taken off hold",
    ),
}


async def _hook(d: RunningDaemon, account: str, hook: str, uri: str, **doc: Any) -> str:
    created = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {"name": hook, "hook": hook, "uri": uri, "http_verb": "post", **doc},
    )
    hook_id: str = created["data"]["id"]
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what=f"{hook} loaded")
    return hook_id


def _channel_expected(account: str, reseller: str | None, call_id: str, kind: str) -> Any:
    """Kazoo 5's ``webhooks_channel_events`` payload for ``channel_event``'s message."""
    return {
        "account_id": account,
        "authorizing_id": "7f2b66a620cf9523d349cc5de8f21f37",
        "authorizing_type": "device",
        "call_direction": "inbound",
        "call_forwarded": False,
        "call_id": call_id,
        "callee_id_name": "Caller Test",
        "callee_id_number": "+15556783945",
        "caller_id_name": "Test Man",
        "caller_id_number": "+15556783945",
        # less the reserved keys (Kazoo's default ``reserved_ccv_keys``)
        "custom_channel_vars": {
            "Global-Resource": "false",
            "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
        },
        "custom_application_vars": {},
        "custom_sip_headers": {"X-Kazoo-Customer": "acme"},
        "emergency_resource_used": False,
        "from": "+15556783945@matrix.test.com",
        "local_resource_id": "d88c4e753d18755ca71adbae784e5f10",
        "local_resource_used": True,
        "is_internal_leg": False,
        "other_leg_call_id": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "owner_id": "d860229e722bf8f738737365b0b1e333",
        "request": "+15552345678@matrix.test.com",
        **({"reseller_id": reseller} if reseller else {}),
        "timestamp": "63724349409",
        "to": "+15552345678@matrix.test.com",
        "hook_event": kind,
    }


def _cdr_expected(account: str, reseller: str | None, call_id: str) -> Any:
    """Kazoo 5's ``webhooks_cdr`` payload for ``cdr_report``'s message."""
    return {
        "account_id": account,
        "authorizing_id": "7f2b66a620cf9523d349cc5de8f21f37",
        "authorizing_type": "device",
        "call_direction": "inbound",
        "call_forwarded": False,
        "call_id": call_id,
        "callee_id_name": "Caller Test",
        "callee_id_number": "+15556783945",
        "caller_id_name": "Test Man",
        "caller_id_number": "+15556783945",
        "emergency_resource_used": False,
        "from": "+15556783945@matrix.test.com",
        "is_internal_leg": False,
        "local_resource_used": True,
        "other_leg_call_id": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "owner_id": "d860229e722bf8f738737365b0b1e333",
        "request": "+15552345678@matrix.test.com",
        **({"reseller_id": reseller} if reseller else {}),
        "timestamp": 63724349409,
        "to": "+15552345678@matrix.test.com",
        "hook_event": "cdr",
    }


async def test_catalogue_and_samples(daemons: DaemonFactory, sqlite_store_url: str) -> None:
    """The daemon publishes the new types' metadata and serves their samples."""
    d = await daemons(sqlite_store_url)
    listing = await d.api("GET", "/v2/webhooks")
    by_id = {item["id"]: item for item in listing["data"]}
    for hook_id, (name, description) in NEW_TYPES.items():
        assert by_id[hook_id] == {"id": hook_id, "name": name, "description": description}
    names = (await d.api("GET", "/v2/webhooks/samples"))["data"]
    assert {f"webhooks_{t}" for t in NEW_TYPES} <= set(names)
    for hook_id in NEW_TYPES:
        got = await d.api("GET", f"/v2/webhooks/samples/webhooks_{hook_id}")
        assert got["data"] and all(s["hook_event"] == hook_id for s in got["data"])


async def test_each_new_type_end_to_end(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """A CDR report on ``cdr`` and a hold and an unhold on ``callevt`` each reach their hook,
    and only it, with Kazoo 5's payload (JSON key order included) plus ``cluster_id``."""
    d = await daemons(sqlite_store_url)
    account = d.master_id
    info = d.daemon.table.account(account)
    reseller = info.reseller_id if info is not None else None
    ids = {
        kind: await _hook(d, account, kind, f"{receiver.url}/{kind}", format="json")
        for kind in NEW_TYPES
    }
    await kazoo.publish("cdr", *cdr_report(account, "cdr-call-1"))
    await kazoo.publish("callevt", *channel_event("CHANNEL_HOLD", account, "hold-call-1"))
    await kazoo.publish("callevt", *channel_event("CHANNEL_UNHOLD", account, "unhold-call-1"))
    got = {r.path: r for r in await receiver.wait_for(3)}
    assert set(got) == {"/cdr", "/channel_hold", "/channel_unhold"}
    expected = {
        "cdr": _cdr_expected(account, reseller, "cdr-call-1"),
        "channel_hold": _channel_expected(account, reseller, "hold-call-1", "channel_hold"),
        "channel_unhold": _channel_expected(account, reseller, "unhold-call-1", "channel_unhold"),
    }
    for kind, want in expected.items():
        request = got[f"/{kind}"]
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Hook-ID"] == ids[kind]
        payload = json.loads(request.body)
        assert len(payload.pop("cluster_id")) == 32
        assert payload == want
        assert list(payload) == list(want)


async def test_form_data_and_routing(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """Form-encoded CDR and hold hooks get Kazoo's fields; a CDR does not reach channel hooks
    and a hold does not reach CDR or unhold hooks."""
    d = await daemons(sqlite_store_url)
    account = d.master_id
    for kind in NEW_TYPES:
        await _hook(d, account, kind, f"{receiver.url}/{kind}", format="form-data")
    await kazoo.publish("callevt", *channel_event("CHANNEL_HOLD", account, "hold-call-2"))
    (hold,) = await receiver.wait_for(1)
    await kazoo.publish("cdr", *cdr_report(account, "cdr-call-2"))
    got = await receiver.wait_for(2)
    assert [r.path for r in got] == ["/channel_hold", "/cdr"]
    form = dict(parse_qsl(hold.body.decode()))
    assert hold.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form["hook_event"] == "channel_hold" and form["call_id"] == "hold-call-2"
    assert form["timestamp"] == "63724349409" and form["account_id"] == account
    form = dict(parse_qsl(got[1].body.decode()))
    assert form["hook_event"] == "cdr" and form["call_id"] == "cdr-call-2"
    assert form["call_forwarded"] == "false" and "hangup_cause" not in form
    # one more event makes sure nothing else was on its way for the first two
    await kazoo.publish("callevt", *channel_event("CHANNEL_UNHOLD", account, "unhold-call-2"))
    got = await receiver.wait_for(3)
    assert [r.path for r in got] == ["/channel_hold", "/cdr", "/channel_unhold"]
