"""The channel hook types Kazoo 5 added, ``channel_hold`` and ``channel_unhold``
(``webhooks_channel_events.erl``): each is a test run per module, as for the four older ones.

The expected payloads are written from Kazoo 5's ``base_hook_event/3``: the v1 channel payload
(with the documented types the older modules send) plus ``custom_sip_headers``, then
``hook_event``, in that key order.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from webhooksd_hooks import (
    channel_answer,
    channel_bridge,
    channel_create,
    channel_destroy,
    channel_hold,
    channel_unhold,
)

from .helpers import (
    ACCOUNT,
    RESELLER,
    SUB,
    RecordingContext,
    call_event,
    call_event_of,
    hook,
    sample,
)
from .test_channel_modules import EXPECTED_CCVS

KAZOO5_CHANNEL_MODULES = (channel_hold, channel_unhold)
OLDER_CHANNEL_MODULES = (channel_create, channel_answer, channel_bridge, channel_destroy)

#: Kazoo 5's ``?DEFAULT_EVENTS`` descriptions; the name is ``event_name/1`` of the event
KAZOO5_METADATA = {
    channel_hold: (
        "Channel Hold",
        "This webhook is triggered when an established call gets put on hold",
    ),
    channel_unhold: (
        "Channel Unhold",
        "This webhook is triggered when an established call gets taken off hold",
    ),
}

#: FreeSWITCH's ``variable_sip_h_*`` headers as mod_kazoo's ``Custom-SIP-Headers`` object
SIP_HEADERS = {"X-Kazoo-Customer": "acme", "X-Trunk": "t1"}


def _name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[1]


each_module = pytest.mark.parametrize("module", KAZOO5_CHANNEL_MODULES, ids=_name)


def _event(module: ModuleType, **overrides: Any) -> dict[str, Any]:
    """The §3.4 call event as a hold/unhold, with the custom SIP headers mod_kazoo adds."""
    return call_event(_name(module).upper(), **{"Custom-SIP-Headers": SIP_HEADERS, **overrides})


def _expected(hook_event: str) -> dict[str, Any]:
    """What Kazoo 5's ``format_event/3`` builds from :func:`_event`, key for key in order."""
    return {
        "account_id": ACCOUNT,
        "authorizing_id": "7f2b66a620cf9523d349cc5de8f21f37",
        "authorizing_type": "device",
        "call_direction": "inbound",
        "call_forwarded": False,
        "call_id": "NDlkNGI3OTZlMDgzNWQxNGYxNTA3NjQ4NDZjNDFkOTc",
        "callee_id_name": "Caller Test",
        "callee_id_number": "+15556783945",
        "caller_id_name": "Test Man",
        "caller_id_number": "+15556783945",
        "custom_channel_vars": EXPECTED_CCVS,
        "custom_application_vars": {},
        "custom_sip_headers": SIP_HEADERS,
        "emergency_resource_used": False,
        "from": "+15556783945@matrix.test.com",
        "inception": "+15556783945@matrix.test.com",
        "local_resource_id": "d88c4e753d18755ca71adbae784e5f10",
        "local_resource_used": True,
        "is_internal_leg": False,
        "other_leg_call_id": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "owner_id": "d860229e722bf8f738737365b0b1e333",
        "request": "+15552345678@matrix.test.com",
        "reseller_id": RESELLER,
        "timestamp": "63724349409",
        "to": "+15552345678@matrix.test.com",
        "hook_event": hook_event,
    }


@each_module
def test_metadata(module: ModuleType) -> None:
    """Kazoo 5's metadata doc ``webhooks_channel_<x>``, listed as ``channel_<x>``: no modifiers."""
    name, description = KAZOO5_METADATA[module]
    assert module.METADATA.to_doc() == {
        "id": _name(module),
        "name": name,
        "description": description,
    }


@each_module
def test_bindings(module: ModuleType) -> None:
    """``kapi_call`` ``restrict_to [CHANNEL_<X>]``: ``call.CHANNEL_<X>.*`` on ``callevt``."""
    event_name = _name(module).upper()
    bindings, responders = module.bindings_and_responders()
    assert [(b.exchange, b.routing_key) for b in bindings] == [("callevt", f"call.{event_name}.*")]
    assert [(r.category, r.name) for r in responders] == [("call_event", event_name)]


@each_module
async def test_init_writes_metadata(ctx: RecordingContext, module: ModuleType) -> None:
    """init stores the module's metadata through the context."""
    await module.init(ctx)
    assert ctx.metadata == [module.METADATA]


@each_module
async def test_payload_is_kazoo5s(ctx: RecordingContext, module: ModuleType) -> None:
    """The payload is Kazoo 5's base channel event and ``hook_event``, key for key, in order."""
    kind = _name(module)
    ctx.table.put(hook("h1", ACCOUNT, kind))
    await module.handle_event(call_event_of(_event(module)), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"h1"}
    expected = _expected(kind)
    assert fired.payload == expected
    assert list(fired.payload) == list(expected)


@each_module
async def test_payload_matches_sample(ctx: RecordingContext, module: ModuleType) -> None:
    """The shipped sample is the payload of a hold/unhold with no custom SIP headers; only
    custom_channel_vars differs (documented as varying), as for the older channel samples."""
    kind = _name(module)
    ctx.table.put(hook("h1", ACCOUNT, kind))
    await module.handle_event(call_event_of(_event(module, **{"Custom-SIP-Headers": {}})), ctx)
    payload, expected = ctx.only().payload, sample(kind)
    assert payload.pop("custom_channel_vars") == EXPECTED_CCVS
    assert expected.pop("custom_channel_vars") == {}
    assert payload == expected


@each_module
async def test_no_sip_headers_no_key(ctx: RecordingContext, module: ModuleType) -> None:
    """``kz_call_event:custom_sip_headers/1`` is undefined without the object: no key."""
    ctx.table.put(hook("h1", ACCOUNT, _name(module)))
    body = _event(module)
    del body["Custom-SIP-Headers"]
    await module.handle_event(call_event_of(body), ctx)
    assert "custom_sip_headers" not in ctx.only().payload


@each_module
async def test_loopback_leg_needs_include_internal_legs(
    ctx: RecordingContext, module: ModuleType
) -> None:
    """``is_fireable_hook/2``: a loopback leg reaches only hooks that include internal legs."""
    kind = _name(module)
    ctx.table.put(hook("excl", ACCOUNT, kind, include_internal_legs=False))
    ctx.table.put(hook("incl", ACCOUNT, kind, include_internal_legs=True))
    body = _event(module, **{"Channel-Name": "loopback/callflow-a"})
    await module.handle_event(call_event_of(body), ctx)
    assert ctx.only().hook_ids == {"incl"}


@each_module
async def test_all_and_ancestor_hooks(ctx: RecordingContext, module: ModuleType) -> None:
    """``find_webhooks/2``: the account's own and ``all`` hooks, an ancestor's only with
    ``include_subaccounts``."""
    kind = _name(module)
    ctx.table.put(hook("own", SUB, kind))
    ctx.table.put(hook("every", SUB, "all"))
    ctx.table.put(hook("parent", ACCOUNT, kind, include_subaccounts=True))
    ctx.table.put(hook("parent-only", ACCOUNT, kind))
    ccvs = {**_event(module)["Custom-Channel-Vars"], "Account-ID": SUB}
    await module.handle_event(call_event_of(_event(module, **{"Custom-Channel-Vars": ccvs})), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"own", "every", "parent"}
    assert fired.payload["account_id"] == SUB


@each_module
async def test_no_account_no_fire(ctx: RecordingContext, module: ModuleType) -> None:
    """Without CCV ``Account-ID`` nothing fires (Kazoo 5's realm lookup is not done)."""
    ctx.table.put(hook("every", ACCOUNT, "all"))
    ccvs = dict(_event(module)["Custom-Channel-Vars"])
    del ccvs["Account-ID"]
    await module.handle_event(call_event_of(_event(module, **{"Custom-Channel-Vars": ccvs})), ctx)
    assert ctx.fired == []


@each_module
async def test_other_channel_hooks_do_not_fire(ctx: RecordingContext, module: ModuleType) -> None:
    """A hold/unhold reaches none of the other channel hook types."""
    for other in (*OLDER_CHANNEL_MODULES, *KAZOO5_CHANNEL_MODULES):
        if other is not module:
            ctx.table.put(hook(_name(other), ACCOUNT, _name(other)))
    await module.handle_event(call_event_of(_event(module)), ctx)
    assert ctx.fired == []


@pytest.mark.parametrize("older", OLDER_CHANNEL_MODULES, ids=_name)
async def test_older_payloads_have_no_sip_headers(ctx: RecordingContext, older: ModuleType) -> None:
    """create/answer/bridge/destroy keep Kazoo 4.3's v1 payload: no ``custom_sip_headers``
    (a listed difference from Kazoo 5), and hold/unhold hooks are not fired by them."""
    kind = _name(older)
    ctx.table.put(hook("h1", ACCOUNT, kind))
    ctx.table.put(hook("hold", ACCOUNT, "channel_hold"))
    body = call_event(kind.upper(), **{"Custom-SIP-Headers": SIP_HEADERS})
    await older.handle_event(call_event_of(body), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"h1"}
    assert "custom_sip_headers" not in fired.payload
