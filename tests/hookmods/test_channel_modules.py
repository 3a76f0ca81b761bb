"""The four channel modules against Kazoo's sample payloads (kazoo-daemon §4.1): what they all
do is one test each, run per module; what only a bridge or a destroy carries is below."""

from __future__ import annotations

from types import ModuleType

import pytest

from webhooksd_hooks import channel_answer, channel_bridge, channel_create, channel_destroy

from .helpers import ACCOUNT, RecordingContext, call_event, call_event_of, hook, sample

#: the non-reserved CCVs of the §3.4 example; the sample shows ``{}`` (documented as varying)
EXPECTED_CCVS = {
    "Global-Resource": "false",
    "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
    "Inception": "+15556783945@matrix.test.com",
}
CHANNEL_MODULES = (channel_create, channel_answer, channel_bridge, channel_destroy)
CHANNEL_HOOKS = tuple(module.METADATA.id for module in CHANNEL_MODULES)


def _name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[1]


#: a parameter per module, named after it
each_module = pytest.mark.parametrize("module", CHANNEL_MODULES, ids=_name)
#: the modules whose payload is the §3.4 event's, as the sample shows, with nothing to add
plain_modules = pytest.mark.parametrize("module", (channel_create, channel_answer), ids=_name)


#: the friendly name and description of each hook type, as Kazoo's modules write them
KAZOO_METADATA = {
    channel_create: (
        "Channel Create",
        "This webhook is triggered when a new channel is created",
    ),
    channel_answer: (
        "Channel Answer",
        "This webhook is triggered when a channel establishes two-way audio, "
        "such as a voicemail box or the called party answering",
    ),
    channel_bridge: (
        "Channel Bridge",
        "This webhook is triggered when two channels are bridged together, such "
        "as two users/devices connected together",
    ),
    channel_destroy: (
        "Channel Destroy",
        "This webhook is triggered when a channel is destroyed, usually as a result of a hangup",
    ),
}


@each_module
def test_metadata(module: ModuleType) -> None:
    """The metadata is Kazoo's: id, friendly name and description, no modifiers."""
    name, description = KAZOO_METADATA[module]
    assert module.METADATA.to_doc() == {
        "id": _name(module),
        "name": name,
        "description": description,
    }


@each_module
async def test_init_writes_metadata(ctx: RecordingContext, module: ModuleType) -> None:
    """init stores the module's metadata through the context."""
    await module.init(ctx)
    assert ctx.metadata == [module.METADATA]


@plain_modules
async def test_payload_matches_kazoo_sample(ctx: RecordingContext, module: ModuleType) -> None:
    """The §3.4 event gives Kazoo's sample payload; only custom_channel_vars differs."""
    kind = _name(module)
    ctx.table.put(hook("h1", ACCOUNT, kind))
    await module.handle_event(call_event_of(call_event(kind.upper())), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"h1"}
    payload, expected = fired.payload, sample(kind)
    assert payload.pop("custom_channel_vars") == EXPECTED_CCVS
    assert expected.pop("custom_channel_vars") == {}
    assert payload == expected
    # the documented types, where Kazoo's code differs: a string timestamp, a boolean
    # call_forwarded although the CCV is absent, request/inception although Kazoo drops them
    assert payload["timestamp"] == "63724349409"
    assert payload["call_forwarded"] is False
    assert payload["request"] == "+15552345678@matrix.test.com"
    assert payload["inception"] == "+15556783945@matrix.test.com"
    assert "cluster_id" not in payload  # ctx.fire adds it per hook


@plain_modules
async def test_other_channel_hooks_do_not_fire(ctx: RecordingContext, module: ModuleType) -> None:
    """Hooks for the other channel events are not found for this module's event."""
    kind = _name(module)
    for other in CHANNEL_HOOKS:
        if other != kind:
            ctx.table.put(hook(other, ACCOUNT, other))
    await module.handle_event(call_event_of(call_event(kind.upper())), ctx)
    assert ctx.fired == []


# -- channel_bridge ---------------------------------------------------------------------------
def _bridge_event(**overrides: object) -> dict[str, object]:
    """A FreeSWITCH CHANNEL_BRIDGE: no From/To/Request, the other leg's destination."""
    body = call_event("CHANNEL_BRIDGE", **{"Other-Leg-Destination-Number": "+15552345678"})
    for key in ("From", "To", "Request"):
        del body[key]
    body["Custom-Channel-Vars"]["Original-Number"] = "+15556783945"
    body.update(overrides)
    return body


async def test_bridge_payload_matches_kazoo_sample(ctx: RecordingContext) -> None:
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


# -- channel_destroy --------------------------------------------------------------------------
def _destroy_event() -> dict[str, object]:
    return call_event(
        "CHANNEL_DESTROY",
        **{
            "Hangup-Cause": "NORMAL_CLEARING",
            "Hangup-Code": "sip:200",
            "Duration-Seconds": "6",
            "Ringing-Seconds": "0",
            "Billing-Seconds": 6,
        },
    )


async def test_destroy_payload_matches_kazoo_sample(ctx: RecordingContext) -> None:
    """The destroy payload adds hangup cause/code and integer durations, as the sample shows."""
    ctx.table.put(hook("h1", ACCOUNT, "channel_destroy"))
    await channel_destroy.handle_event(call_event_of(_destroy_event()), ctx)
    payload, expected = ctx.only().payload, sample("channel_destroy")
    assert payload.pop("custom_channel_vars") == EXPECTED_CCVS
    assert expected.pop("custom_channel_vars") == {}
    assert payload == expected
    assert payload["duration_seconds"] == 6 and payload["ringing_seconds"] == 0
