"""The ``sms`` and ``mms`` modules (Kazoo ``webhooks_sms``/``webhooks_mms``): inbound messages
from the ``im`` exchange, their work :mod:`webhooksd_hooks._im`'s; every test runs per module."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest

from webhooksd.errors import MalformedMessage

from .helpers import ACCOUNT, MASTER, RESELLER, SUB, RecordingContext, event, hook

#: the modules these tests cover, each test run once per module
KINDS = ("sms", "mms")


@pytest.fixture(name="kind", params=KINDS)
def _kind(request: pytest.FixtureRequest) -> str:
    """The hook module under test."""
    return str(request.param)


def module(kind: str) -> ModuleType:
    return importlib.import_module(f"webhooksd_hooks.{kind}")


def inbound(kind: str, **extra: Any) -> Any:
    """A kapi_im inbound message as published off-net (kazoo-daemon §3.7)."""
    body = {
        "Event-Category": kind,
        "Event-Name": "inbound",
        "App-Name": f"{kind}_gateway",
        "App-Version": "4.0.0",
        "Msg-ID": "m1",
        "Message-ID": "msg-123",
        "Account-ID": ACCOUNT,
        "From": "+15555550100",
        "To": "+15555550199",
        "Body": "hello",
        "Route-Type": "offnet",
        "Charges": 0.25,
        **extra,
    }
    return event("im", f"{kind}.inbound.offnet.{body['Message-ID']}", body)


def test_metadata_and_bindings(kind: str) -> None:
    """Kazoo's metadata; ``<kind>.inbound.offnet.*`` on ``im`` and the (kind, inbound)
    responder."""
    mod = module(kind)
    assert mod.METADATA.to_doc() == {
        "id": kind,
        "name": kind.upper(),
        "description": f"Receive notifications when {kind} is received",
    }
    bindings, responders = mod.bindings_and_responders()
    assert [(b.exchange, b.routing_key) for b in bindings] == [("im", f"{kind}.inbound.offnet.*")]
    assert [(r.category, r.name) for r in responders] == [(kind, "inbound")]


async def test_payload(ctx: RecordingContext, kind: str) -> None:
    """The payload is id, account_id, type, from, to, body, origin and charges."""
    other = "mms" if kind == "sms" else "sms"
    ctx.table.put(hook("h", ACCOUNT, kind))
    ctx.table.put(hook("other", ACCOUNT, other))
    await module(kind).handle_event(inbound(kind), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"h"}
    assert fired.payload == {
        "id": "msg-123",
        "account_id": ACCOUNT,
        "type": kind,
        "from": "+15555550100",
        "to": "+15555550199",
        "body": "hello",
        "origin": "offnet",
        "charges": 0.25,
    }


async def test_empty_body_leaves_body_out(ctx: RecordingContext, kind: str) -> None:
    """``kz_im:body/1`` reads a non-empty string: an empty Body is valid but not sent."""
    ctx.table.put(hook("h", ACCOUNT, kind))
    await module(kind).handle_event(inbound(kind, Body=""), ctx)
    payload = ctx.only().payload
    assert "body" not in payload and payload["id"] == "msg-123"


async def test_optional_keys_absent_and_onnet_accepted(ctx: RecordingContext, kind: str) -> None:
    """Without Charges/Route-Type those keys are absent; an on-net message is still valid."""
    mod = module(kind)
    ctx.table.put(hook("h", ACCOUNT, kind))
    await mod.handle_event(inbound(kind, Charges=None, **{"Route-Type": None}), ctx)
    await mod.handle_event(inbound(kind, **{"Route-Type": "onnet", "Charges": "2"}), ctx)
    first, second = ctx.fired
    assert "charges" not in first.payload and "origin" not in first.payload
    assert (second.payload["origin"], second.payload["charges"]) == ("onnet", 2)


async def test_ancestors_and_all_hooks_reach_it(ctx: RecordingContext, kind: str) -> None:
    """A sub-account's message reaches its `all` hooks and ancestors' include_subaccounts."""
    ctx.table.put(hook("own-all", SUB, "all"))
    ctx.table.put(hook("parent-sub", ACCOUNT, kind, include_subaccounts=True))
    ctx.table.put(hook("parent-own", ACCOUNT, kind))
    ctx.table.put(hook("master-sub", MASTER, "all", include_subaccounts=True))
    ctx.table.put(hook("reseller-own", RESELLER, kind))
    await module(kind).handle_event(inbound(kind, **{"Account-ID": SUB}), ctx)
    assert ctx.only().hook_ids == {"own-all", "parent-sub", "master-sub"}


@pytest.mark.parametrize(
    "extra",
    [
        {"Message-ID": None},
        {"Body": None},
        {"From": None},
        {"Route-Type": "sideways"},
        {"Event-Name": "outbound"},
        {"Event-Category": "fax"},
        {"Account-ID": None},
        {"Account-ID": ""},
    ],
)
async def test_invalid_messages_are_ignored(
    ctx: RecordingContext, kind: str, extra: dict[str, Any]
) -> None:
    """Messages kapi_im would reject, or without an account, fire nothing and raise nothing."""
    ctx.table.put(hook("h", ACCOUNT, "all"))
    await module(kind).handle_event(inbound(kind, **extra), ctx)
    assert ctx.fired == []


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"To": 15555550199}, "To not a string"),
        ({"Body": {"text": "hi"}}, "Body not a string"),
        ({"Account-ID": 12345}, "Account-ID is a number, not a string"),
        ({"Account-ID": [ACCOUNT]}, "Account-ID is a list, not a string"),
    ],
)
async def test_wrongly_typed_fields_are_malformed(
    ctx: RecordingContext, kind: str, extra: dict[str, Any], reason: str
) -> None:
    """A field present with the wrong type is MalformedMessage naming it (dead-lettered with
    that reason by the listener), not a silent drop."""
    ctx.table.put(hook("h", ACCOUNT, "all"))
    with pytest.raises(MalformedMessage, match=reason):
        await module(kind).handle_event(inbound(kind, **extra), ctx)
    assert ctx.fired == []


async def test_init_writes_metadata(ctx: RecordingContext, kind: str) -> None:
    """init stores the module's metadata through the context."""
    mod = module(kind)
    await mod.init(ctx)
    assert ctx.metadata == [mod.METADATA]
