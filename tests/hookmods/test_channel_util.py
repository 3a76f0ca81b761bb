"""The channel modules' shared logic (Kazoo ``webhooks_channel_util``): the loopback filter
pinned by ``webhooks_channel_util_tests.erl``, account resolution and the base payload."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest

from webhooksd.errors import MalformedMessage
from webhooksd.records import Hook
from webhooksd_hooks import _channel as channel_util
from webhooksd_hooks import channel_answer, channel_bridge, channel_create, channel_destroy

from .helpers import (
    ACCOUNT,
    MASTER,
    OTHER,
    RESELLER,
    SUB,
    UNKNOWN,
    RecordingContext,
    call_event,
    call_event_of,
    hook,
)

CHANNEL_MODULES: list[tuple[ModuleType, str]] = [
    (channel_create, "CHANNEL_CREATE"),
    (channel_answer, "CHANNEL_ANSWER"),
    (channel_bridge, "CHANNEL_BRIDGE"),
    (channel_destroy, "CHANNEL_DESTROY"),
]


def _loopback_hook(include: bool) -> Hook:
    return hook("h", ACCOUNT, "channel_create", include_internal_legs=include)


@pytest.mark.parametrize(
    ("body", "include", "expected"),
    [
        ({"Channel-Is-Loopback": True}, True, True),
        ({"Channel-Is-Loopback": True}, False, False),
        ({"Channel-Name": "loopback/123-a"}, True, True),
        ({"Channel-Name": "loopback/123-a"}, False, False),
        ({"Hangup-Cause": "PEBCAK"}, True, True),
        ({"Hangup-Cause": "PEBCAK"}, False, True),
        ({"Channel-Name": "sofia/sipinterface_1/123@abc"}, True, True),
        ({"Channel-Name": "sofia/sipinterface_1/123@abc"}, False, True),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else f"include: {v}",
)
def test_include_loopback(body: dict[str, Any], include: bool, expected: bool) -> None:
    """Kazoo's include_loopback_test_: internal legs are dropped only for hooks excluding them."""
    assert channel_util.is_fireable_hook(body, _loopback_hook(include)) is expected


@pytest.mark.parametrize(("module", "name"), CHANNEL_MODULES)
def test_bindings_and_responders(module: ModuleType, name: str) -> None:
    """Each channel module binds ``call.<EVENT>.*`` on callevt and answers only that event."""
    bindings, responders = module.bindings_and_responders()
    assert [(b.exchange, b.routing_key) for b in bindings] == [("callevt", f"call.{name}.*")]
    assert [(r.category, r.name) for r in responders] == [("call_event", name)]


@pytest.mark.parametrize(("module", "name"), CHANNEL_MODULES)
async def test_account_all_and_ancestor_hooks_reach_each_channel_module(
    ctx: RecordingContext, module: ModuleType, name: str
) -> None:
    """The sub-account's own, `all` and ancestors' include_subaccounts hooks fire; others not."""
    hook_event = name.lower()
    for h in [
        hook("own", SUB, hook_event),
        hook("own-all", SUB, "all"),
        hook("own-other-event", SUB, "object"),
        hook("parent-sub", ACCOUNT, hook_event, include_subaccounts=True),
        hook("parent-own", ACCOUNT, hook_event),
        hook("reseller-all-sub", RESELLER, "all", include_subaccounts=True),
        hook("master-sub", MASTER, hook_event, include_subaccounts=True),
        hook("other", OTHER, hook_event, include_subaccounts=True),
    ]:
        ctx.table.put(h)
    body = call_event(name, **{"Custom-Channel-Vars": {"Account-ID": SUB}})
    await module.handle_event(call_event_of(body), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"own", "own-all", "parent-sub", "reseller-all-sub", "master-sub"}
    assert fired.payload["hook_event"] == hook_event
    assert fired.payload["account_id"] == SUB
    assert fired.payload["reseller_id"] == RESELLER


@pytest.mark.parametrize(("module", "name"), CHANNEL_MODULES)
async def test_loopback_filter_applies_to_all_hooks(
    ctx: RecordingContext, module: ModuleType, name: str
) -> None:
    """`all` hooks bypass no loopback filter: hooks excluding internal legs skip loopback legs."""
    ctx.table.put(hook("keeps-legs", ACCOUNT, name.lower()))
    ctx.table.put(hook("all-no-legs", ACCOUNT, "all", include_internal_legs=False))
    ctx.table.put(hook("no-legs", ACCOUNT, name.lower(), include_internal_legs=False))
    body = call_event(name, **{"Channel-Name": "loopback/123-a", "Channel-Is-Loopback": True})
    await module.handle_event(call_event_of(body), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"keeps-legs"}
    assert fired.payload["is_internal_leg"] is True


async def test_only_loopback_excluding_hooks_fires_nothing(ctx: RecordingContext) -> None:
    """When the loopback filter removes every hook, fire is not called at all."""
    ctx.table.put(hook("no-legs", ACCOUNT, "channel_create", include_internal_legs=False))
    body = call_event("CHANNEL_CREATE", **{"Channel-Is-Loopback": "true"})
    await channel_create.handle_event(call_event_of(body), ctx)
    assert ctx.fired == []


async def test_missing_account_id_drops_the_event(ctx: RecordingContext) -> None:
    """Without a CCV Account-ID the event is dropped (Kazoo's number lookup is not ported)."""
    ctx.table.put(hook("all-master", MASTER, "all"))
    ctx.table.put(hook("own", ACCOUNT, "channel_create"))
    body = call_event("CHANNEL_CREATE", **{"Custom-Channel-Vars": {"Owner-ID": "x"}})
    await channel_create.handle_event(call_event_of(body), ctx)
    body = call_event("CHANNEL_CREATE")
    del body["Custom-Channel-Vars"]
    await channel_create.handle_event(call_event_of(body), ctx)
    assert ctx.fired == []


async def test_unknown_account_fires_nothing(ctx: RecordingContext) -> None:
    """An account the table does not know has no hooks, as in Kazoo's find_webhooks."""
    ctx.table.put(hook("all-master", MASTER, "all", include_subaccounts=True))
    body = call_event("CHANNEL_CREATE", **{"Custom-Channel-Vars": {"Account-ID": UNKNOWN}})
    await channel_create.handle_event(call_event_of(body), ctx)
    assert ctx.fired == []


async def test_disconnected_is_a_destroy(ctx: RecordingContext) -> None:
    """A CHANNEL_DISCONNECTED handed to the module fires channel_destroy hooks."""
    ctx.table.put(hook("destroy", ACCOUNT, "channel_destroy"))
    ctx.table.put(hook("create", ACCOUNT, "channel_create"))
    await channel_destroy.handle_event(call_event_of(call_event("CHANNEL_DISCONNECTED")), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"destroy"}
    assert fired.payload["hook_event"] == "channel_destroy"


@pytest.mark.parametrize(
    "body",
    [
        {"Event-Category": "call_event", "Event-Name": "CHANNEL_HOLD", "Call-ID": "x"},
        {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE"},
        {"Event-Category": "call_event", "Event-Name": "CHANNEL_CREATE", "Custom-Channel-Vars": {}},
    ],
)
async def test_irrelevant_events_are_ignored(ctx: RecordingContext, body: dict[str, Any]) -> None:
    """Other call events and bodies without an account fire nothing and raise nothing."""
    ctx.table.put(hook("all", ACCOUNT, "all"))
    await channel_create.handle_event(call_event_of(body), ctx)
    assert ctx.fired == []


@pytest.mark.parametrize(
    ("ccvs", "reason"),
    [
        (7, "Custom-Channel-Vars is a number, not an object"),
        (["a"], "Custom-Channel-Vars is a list, not an object"),
        ({"Account-ID": ["not", "a", "string"]}, "Custom-Channel-Vars.Account-ID is a list"),
        ({"Account-ID": 12345}, "Custom-Channel-Vars.Account-ID is a number"),
    ],
)
async def test_wrongly_typed_channel_vars_are_malformed(
    ctx: RecordingContext, ccvs: Any, reason: str
) -> None:
    """Channel vars of the wrong type are MalformedMessage naming the field (the listener
    dead-letters the message with that reason), not a silent drop."""
    ctx.table.put(hook("all", ACCOUNT, "all"))
    body = {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_CREATE",
        "Custom-Channel-Vars": ccvs,
    }
    with pytest.raises(MalformedMessage, match=re.escape(reason)):
        await channel_create.handle_event(call_event_of(body), ctx)
    assert ctx.fired == []


async def test_sparse_event_gives_absent_keys_never_null(ctx: RecordingContext) -> None:
    """Fields missing from the event are absent from the payload, never null."""
    ctx.table.put(hook("own", ACCOUNT, "channel_destroy"))
    body = {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_DESTROY",
        "Call-ID": "abc",
        "Caller-ID-Name": "",
        "From": None,
        "Custom-Channel-Vars": {"Account-ID": ACCOUNT, "Global-Resource": "true"},
    }
    await channel_destroy.handle_event(call_event_of(body), ctx)
    payload = ctx.only().payload
    assert None not in payload.values()
    assert payload == {
        "account_id": ACCOUNT,
        "call_forwarded": False,
        "call_id": "abc",
        "custom_channel_vars": {"Global-Resource": "true"},
        "emergency_resource_used": False,
        "local_resource_used": False,
        "is_internal_leg": False,
        "reseller_id": RESELLER,
        "hook_event": "channel_destroy",
    }


def test_payload_values_cast_like_kazoo_accessors() -> None:
    """CCV booleans, integer strings and inception/request sources follow Kazoo's accessors."""
    body = call_event(
        "CHANNEL_DESTROY",
        Timestamp="63724349409",
        Inception="top@level",
        **{
            "Duration-Seconds": "6",
            "Billing-Seconds": 5.6,
            "Ringing-Seconds": "soon",
            "Custom-Channel-Vars": {
                "Account-ID": ACCOUNT,
                "Call-Forward": "true",
                "Emergency-Resource": True,
                "Inception": "ccv@level",
            },
        },
    )
    payload = channel_util.format_event(body, ACCOUNT, "channel_destroy", None, frozenset())
    assert payload["timestamp"] == "63724349409"
    assert payload["call_forwarded"] is True
    assert payload["emergency_resource_used"] is True
    assert payload["inception"] == "top@level"
    assert payload["duration_seconds"] == 6 and payload["billing_seconds"] == 6
    assert "ringing_seconds" not in payload and "reseller_id" not in payload
    assert payload["custom_channel_vars"] == body["Custom-Channel-Vars"]


def test_reserved_ccv_keys_are_left_out(module_settings: Any) -> None:
    """custom_channel_vars keeps only the CCVs not listed in reserved_ccv_keys, keys as sent."""
    body = call_event("CHANNEL_CREATE")
    payload = channel_util.format_event(
        body, ACCOUNT, "channel_create", None, module_settings.reserved_ccv_keys
    )
    assert payload["custom_channel_vars"] == {
        "Global-Resource": "false",
        "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
        "Inception": "+15556783945@matrix.test.com",
    }
