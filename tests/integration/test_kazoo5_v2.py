"""Kazoo 5's ``v2`` payloads end to end: a Kazoo-format event on the real broker reaches a real
receiver in Kazoo 5's envelope, with the HMAC of its documented rule.

The expected bodies are computed here from the rule as Kazoo 5's documentation and code state
it (``kazoo-crossbar/doc/webhooks.md`` "Hook Security", ``webhooks_util:sanitize_event``),
with the standard library, never with webhooksd's own encoder or signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import Received, Receiver
from tests.integration.conftest import DaemonFactory, KazooPublisher, RunningDaemon
from tests.integration.kazoo_events import cdr_report, channel_create, channel_event
from tests.waiting import eventually

pytestmark = pytest.mark.integration

KEY = "kazoo5-v2-key-for-tests"
GREGORIAN_OFFSET = 62_167_219_200
#: Kazoo 5's ``?PRIVATE_AMQP_FIELDS ++ ?SENSITIVE_AMQP_FIELDS``
PRIVATE = {
    "Node",
    "Message-ID",
    "Server-ID",
    "Origin-Cache",
    "App-Name",
    "App-Version",
    "Event-Name",
    "Event-Category",
    "Msg-ID",
    "Doc",
    "Password",
}
DOC = Path(__file__).resolve().parents[2] / "docs" / "verify-v2.md"


def _normalized(value: Any) -> Any:
    """``kz_json:normalize_jobj``: keys lower-cased with ``-`` as ``_``, at every level."""
    if isinstance(value, dict):
        return {
            k.lower().replace("-", "_"): _normalized(v) for k, v in value.items() if v is not None
        }
    return value


def _data(body: dict[str, Any]) -> dict[str, Any]:
    normalized: dict[str, Any] = _normalized({k: v for k, v in body.items() if k not in PRIVATE})
    return normalized


def _compact(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hmac(key: str, timestamp: int, data: Any) -> str:
    signed = str(timestamp).encode() + _compact(data)
    return base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest()).decode()


def _envelope(name: str, body: dict[str, Any], timestamp: int, **top: Any) -> dict[str, Any]:
    data = _data(body)
    return {
        "action": "event",
        "name": name,
        "data": data,
        "timestamp": timestamp,
        "hmac": _hmac(KEY, timestamp, data),
        **top,
    }


def _form_pairs(value: Any, prefix: str = "") -> dict[str, str]:
    """``kz_http_util:json_to_querystring`` for objects of strings, integers and booleans."""
    out: dict[str, str] = {}
    for key, item in value.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(item, dict):
            out.update(_form_pairs(item, name))
        elif isinstance(item, bool):
            out[name] = "true" if item else "false"
        else:
            out[name] = str(item)
    return out


def _now() -> int:
    return int(time.time()) + GREGORIAN_OFFSET


async def _v2_hook(d: RunningDaemon, hook: str, uri: str, **doc: Any) -> str:
    created = await d.api(
        "PUT",
        f"/v2/accounts/{d.master_id}/webhooks",
        {
            "name": f"v2 {hook}",
            "hook": hook,
            "uri": uri,
            "version": "v2",
            "security_settings": {"sha256_key": KEY},
            **doc,
        },
    )
    hook_id: str = created["data"]["id"]
    assert created["data"]["security_settings"] == {"sha256_key": "…" + KEY[-4:]}
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what=f"{hook} loaded")
    return hook_id


def _timestamp(request: Received, before: int, after: int) -> int:
    stamp = json.loads(request.body)["timestamp"]
    assert isinstance(stamp, int) and before <= stamp <= after
    return stamp


async def test_json_bodies_of_each_kazoo5_type(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """A channel create, hold, unhold and a CDR, each on Kazoo's exchange, reach their ``v2``
    hooks as the exact bytes of Kazoo 5's envelope: compact, sorted keys, ``hmac`` by the
    documented rule, no ``cluster_id``, ``custom_data`` beside ``data``."""
    d = await daemons(sqlite_store_url)
    account = d.master_id
    for hook in ("channel_hold", "channel_unhold", "cdr"):
        await _v2_hook(d, hook, f"{receiver.url}/{hook}", format="json")
    await _v2_hook(
        d,
        "channel_create",
        f"{receiver.url}/channel_create",
        format="json",
        custom_data={"tenant": "acme"},
    )
    events = {
        "channel_hold": ("callevt", *channel_event("CHANNEL_HOLD", account, "v2-hold")),
        "channel_unhold": ("callevt", *channel_event("CHANNEL_UNHOLD", account, "v2-unhold")),
        "cdr": ("cdr", *cdr_report(account, "v2-cdr")),
        "channel_create": ("callevt", *channel_create(account, "v2-create")),
    }
    names = {
        "channel_hold": "CHANNEL_HOLD",
        "channel_unhold": "CHANNEL_UNHOLD",
        "cdr": "cdr",
        "channel_create": "CHANNEL_CREATE",
    }
    before = _now()
    for exchange, routing_key, body in events.values():
        await kazoo.publish(exchange, routing_key, body)
    got = {r.path.strip("/"): r for r in await receiver.wait_for(4)}
    after = _now()
    assert set(got) == set(events)
    for hook, (_, _, body) in events.items():
        request = got[hook]
        assert request.headers["Content-Type"] == "application/json"
        stamp = _timestamp(request, before, after)
        top = {"tenant": "acme"} if hook == "channel_create" else {}
        assert request.body == _compact(_envelope(names[hook], body, stamp, **top)), hook


async def test_form_and_get_bodies(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """Form-data and GET ``v2`` hooks get the same envelope, ``data`` nested in brackets, its
    ``hmac`` computed over the JSON ``data`` (not over what the form carries)."""
    d = await daemons(sqlite_store_url)
    account = d.master_id
    await _v2_hook(d, "channel_hold", f"{receiver.url}/form", format="form-data")
    await _v2_hook(d, "channel_unhold", f"{receiver.url}/get", http_verb="get")
    hold = channel_event("CHANNEL_HOLD", account, "v2-form")
    unhold = channel_event("CHANNEL_UNHOLD", account, "v2-get")
    before = _now()
    await kazoo.publish("callevt", *hold)
    await kazoo.publish("callevt", *unhold)
    got = {r.path: r for r in await receiver.wait_for(2)}
    after = _now()
    form, get = got["/form"], got["/get"]
    assert form.method == "POST" and get.method == "GET" and get.body == b""
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    for (_, body), name, fields in (
        (hold, "CHANNEL_HOLD", form.body.decode()),
        (unhold, "CHANNEL_UNHOLD", get.query),
    ):
        received = dict(parse_qsl(fields, keep_blank_values=True))
        stamp = int(received["timestamp"])
        assert before <= stamp <= after
        assert received == _form_pairs(_envelope(name, body, stamp))


def _doc_example() -> str:
    """The Python block of the receiver example in docs/verify-v2.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Verifying a delivery", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "docs/verify-v2.md lost its Python example"
    return match.group(1)


async def test_the_documented_receiver_verifies_a_real_delivery(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """The documentation's receiver code accepts what the daemon sent and refuses the same
    body changed, or checked with another key."""
    d = await daemons(sqlite_store_url)
    await _v2_hook(d, "channel_create", f"{receiver.url}/verify", format="json")
    await kazoo.publish("callevt", *channel_create(d.master_id, "v2-verify"))
    (request,) = await receiver.wait_for(1)
    namespace: dict[str, Any] = {}
    exec(compile(_doc_example(), str(DOC), "exec"), namespace)
    verify = namespace["verify_v2"]
    payload = verify(request.body, KEY)
    assert payload["data"]["call_id"] == "v2-verify"
    tampered = request.body.replace(b"v2-verify", b"v2-forged")
    with pytest.raises(ValueError, match="hmac"):
        verify(tampered, KEY)
    with pytest.raises(ValueError, match="hmac"):
        verify(request.body, KEY + "x")
    stale = json.loads(request.body)
    stale["timestamp"] -= 3600
    stale["hmac"] = _hmac(KEY, stale["timestamp"], stale["data"])
    with pytest.raises(ValueError, match="timestamp"):
        verify(_compact(stale), KEY)


async def test_v1_hooks_carry_the_configured_cluster_id(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, kazoo: KazooPublisher
) -> None:
    """``kazoo_cluster_id`` is the ``cluster_id`` of v1 payloads (Kazoo 5's
    ``kzd_cluster:id/0``); the v2 payload of the same event has none."""
    cluster = "kazoo5cluster00000000000000000001"
    d = await daemons(sqlite_store_url, kazoo_cluster_id=cluster)
    created = await d.api(
        "PUT",
        f"/v2/accounts/{d.master_id}/webhooks",
        {"name": "v1", "hook": "channel_create", "uri": f"{receiver.url}/v1", "format": "json"},
    )
    hook_id = created["data"]["id"]
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="v1 hook loaded")
    await _v2_hook(d, "channel_create", f"{receiver.url}/v2", format="json")
    await kazoo.publish("callevt", *channel_create(d.master_id, "v1-cluster"))
    got = {r.path: json.loads(r.body) for r in await receiver.wait_for(2)}
    assert got["/v1"]["cluster_id"] == cluster
    assert "cluster_id" not in got["/v2"] and "cluster_id" not in got["/v2"]["data"]
