"""The ``channel_bridge`` module against Kazoo's sample payload (kazoo-daemon §4.1)."""

from __future__ import annotations

from webhooksd_hooks import channel_bridge

from .helpers import ACCOUNT, RecordingContext, call_event, call_event_of, hook, sample

#: the non-reserved CCVs of the §3.4 example; the sample shows ``{}`` (documented as varying)
EXPECTED_CCVS = {
    "Global-Resource": "false",
    "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
    "Inception": "+15556783945@matrix.test.com",
}


def test_metadata() -> None:
    """The metadata is Kazoo's: id, friendly name and description, no modifiers."""
    assert channel_bridge.METADATA.to_doc() == {
        "id": "channel_bridge",
        "name": "Channel Bridge",
        "description": (
            "This webhook is triggered when two channels are bridged together, such "
            "as two users/devices connected together"
        ),
    }


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the module's metadata through the context."""
    await channel_bridge.init(ctx)
    assert ctx.metadata == [channel_bridge.METADATA]


def _bridge_event(**overrides: object) -> dict[str, object]:
    """A FreeSWITCH CHANNEL_BRIDGE: no From/To/Request, the other leg's destination."""
    body = call_event("CHANNEL_BRIDGE", **{"Other-Leg-Destination-Number": "+15552345678"})
    for key in ("From", "To", "Request"):
        del body[key]
    body["Custom-Channel-Vars"]["Original-Number"] = "+15556783945"
    body.update(overrides)
    return body


async def test_payload_matches_kazoo_sample(ctx: RecordingContext) -> None:
    """A bridge as FreeSWITCH sends it gives the sample less from/to/request, which it lacks."""
    ctx.table.put(hook("h1", ACCOUNT, "channel_bridge"))
    await channel_bridge.handle_event(call_event_of(_bridge_event()), ctx)
    payload, expected = ctx.only().payload, sample("channel_bridge")
    ccvs = {**EXPECTED_CCVS, "Original-Number": "+15556783945"}
    assert payload.pop("custom_channel_vars") == ccvs
    assert expected.pop("custom_channel_vars") == {}
    missing = {key: expected.pop(key) for key in ("from", "to", "request")}
    assert set(missing) & set(payload) == set()
    assert payload == expected
    assert payload["original_number"] == "+15556783945"
    assert payload["other_leg_destination_number"] == "+15552345678"


async def test_bridge_with_from_to_request_is_the_whole_sample(ctx: RecordingContext) -> None:
    """When a bridge event does carry From/To/Request they are sent, as the sample shows."""
    ctx.table.put(hook("h1", ACCOUNT, "channel_bridge"))
    body = _bridge_event(
        From="+15556783945@matrix.test.com",
        To="+15552345678@matrix.test.com",
        Request="+15552345678@matrix.test.com",
    )
    await channel_bridge.handle_event(call_event_of(body), ctx)
    payload, expected = ctx.only().payload, sample("channel_bridge")
    payload.pop("custom_channel_vars")
    expected.pop("custom_channel_vars")
    assert payload == expected
