"""The ``parking`` module (Kazoo ``webhooks_parking``) against Kazoo's parking sample."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd_hooks import parking

from .helpers import (
    ACCOUNT,
    ENVELOPE,
    MASTER,
    PARK_ACCOUNT,
    RESELLER,
    SUB,
    RecordingContext,
    call_event_of,
    hook,
    sample,
)


def park_event(name: str = "PARK_PARKED", account_id: str = PARK_ACCOUNT, **extra: Any) -> Any:
    """callflow's cf_park publish_event/3 message (kazoo-daemon §3.4)."""
    body = {
        "Event-Category": "call_event",
        "Event-Name": name,
        "App-Name": "callflow",
        "App-Version": "4.0.0",
        "Msg-ID": "c6b2a4a2d9e0",
        "Node": "kazoo_apps@apps1.example.net",
        "Call-ID": "OWU4NzEwOTgyZWNiMjM0MzI0NjRkZDc4MWVmMjEyOWI",
        "Callee-ID-Name": "Test Name",
        "Callee-ID-Number": "5355543456",
        "Caller-ID-Name": "Superman",
        "Caller-ID-Number": "+15555432345",
        "Custom-Channel-Vars": {"Account-ID": account_id, "Realm": "park.example.com"},
        "Parking-Slot": "1",
        **extra,
    }
    return call_event_of(body)


def test_metadata_and_bindings() -> None:
    """Kazoo's metadata; the three park events bound on callevt with matching responders."""
    assert parking.METADATA.to_doc() == {
        "id": "parking",
        "name": "Call Parking",
        "description": "Events when calls get parked/retrieved",
    }
    bindings, responders = parking.bindings_and_responders()
    assert [(b.exchange, b.routing_key) for b in bindings] == [
        ("callevt", "call.PARK_PARKED.*"),
        ("callevt", "call.PARK_RETRIEVED.*"),
        ("callevt", "call.PARK_ABANDONED.*"),
    ]
    assert [(r.category, r.name) for r in responders] == [
        ("call_event", "PARK_PARKED"),
        ("call_event", "PARK_RETRIEVED"),
        ("call_event", "PARK_ABANDONED"),
    ]


async def test_payload_matches_kazoo_sample(ctx: RecordingContext) -> None:
    """The payload is the sample but for its hand-written `caller_id_Number` and integer slot."""
    ctx.table.put(hook("h", PARK_ACCOUNT, "parking"))
    await parking.handle_event(park_event(), ctx)
    payload, expected = ctx.only().payload, sample("parking")
    # deviations (kazoo-daemon §4.5): keys are normalised, the slot stays callflow's string
    assert expected.pop("caller_id_Number") == payload.pop("caller_id_number")
    assert (expected.pop("parking_slot"), payload.pop("parking_slot")) == (1, "1")
    assert payload == expected


@pytest.mark.parametrize("name", ["PARK_PARKED", "PARK_RETRIEVED", "PARK_ABANDONED"])
async def test_each_park_event_fires_with_its_name(ctx: RecordingContext, name: str) -> None:
    """Parked, retrieved and abandoned all fire; event_name tells them apart."""
    ctx.table.put(hook("h", PARK_ACCOUNT, "parking"))
    await parking.handle_event(park_event(name), ctx)
    assert ctx.only().payload["event_name"] == name


async def test_envelope_and_ccvs_are_removed_and_account_set(ctx: RecordingContext) -> None:
    """Node, Msg-ID, App-*, Event-Category and the CCVs go; Account-ID comes from the CCVs."""
    ctx.table.put(hook("h", PARK_ACCOUNT, "parking"))
    await parking.handle_event(park_event(**{"Account-ID": "spoofed", "Server-ID": "q"}), ctx)
    payload = ctx.only().payload
    assert payload["account_id"] == PARK_ACCOUNT
    assert payload["server_id"] == "q"
    assert not {"node", "msg_id", "app_name", "app_version", "event_category"} & set(payload)
    assert "custom_channel_vars" not in payload


async def test_ancestors_and_all_hooks_reach_parking(ctx: RecordingContext) -> None:
    """A sub-account's park event reaches its `all` hooks and ancestors' include_subaccounts."""
    ctx.table.put(hook("own-all", SUB, "all"))
    ctx.table.put(hook("parent-sub", ACCOUNT, "parking", include_subaccounts=True))
    ctx.table.put(hook("parent-own", ACCOUNT, "parking"))
    ctx.table.put(hook("reseller-sub", RESELLER, "all", include_subaccounts=True))
    ctx.table.put(hook("master-own", MASTER, "parking"))
    await parking.handle_event(park_event(account_id=SUB), ctx)
    assert ctx.only().hook_ids == {"own-all", "parent-sub", "reseller-sub"}


@pytest.mark.parametrize(
    "body",
    [
        # no account in the CCVs: no number lookup, the event is dropped
        {**ENVELOPE, "Event-Category": "call_event", "Event-Name": "PARK_PARKED", "Call-ID": "c"},
        {
            **ENVELOPE,
            "Event-Category": "call_event",
            "Event-Name": "PARK_PARKED",
            "Call-ID": "c",
            "Account-ID": PARK_ACCOUNT,
        },
        # kapi_call:event_v requires Call-ID
        {
            **ENVELOPE,
            "Event-Category": "call_event",
            "Event-Name": "PARK_PARKED",
            "Custom-Channel-Vars": {"Account-ID": PARK_ACCOUNT},
        },
        {
            **ENVELOPE,
            "Event-Category": "call_event",
            "Event-Name": "CHANNEL_CREATE",
            "Call-ID": "c",
        },
    ],
)
async def test_invalid_park_events_are_ignored(ctx: RecordingContext, body: dict[str, Any]) -> None:
    """Park events without a CCV account or a Call-ID, and other events, fire nothing."""
    ctx.table.put(hook("h", PARK_ACCOUNT, "all"))
    await parking.handle_event(call_event_of(body), ctx)
    assert ctx.fired == []


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the module's metadata through the context."""
    await parking.init(ctx)
    assert ctx.metadata == [parking.METADATA]
