"""The ``channel_destroy`` module against Kazoo's sample payload (kazoo-daemon §4.1)."""

from __future__ import annotations

from webhooksd_hooks import channel_destroy

from .helpers import ACCOUNT, RecordingContext, call_event, call_event_of, hook, sample

#: the non-reserved CCVs of the §3.4 example; the sample shows ``{}`` (documented as varying)
EXPECTED_CCVS = {
    "Global-Resource": "false",
    "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
    "Inception": "+15556783945@matrix.test.com",
}


def test_metadata() -> None:
    """The metadata is Kazoo's: id, friendly name and description, no modifiers."""
    assert channel_destroy.METADATA.to_doc() == {
        "id": "channel_destroy",
        "name": "Channel Destroy",
        "description": (
            "This webhook is triggered when a channel is destroyed, usually as a result of a hangup"
        ),
    }


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the module's metadata through the context."""
    await channel_destroy.init(ctx)
    assert ctx.metadata == [channel_destroy.METADATA]


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


async def test_payload_matches_kazoo_sample(ctx: RecordingContext) -> None:
    """The destroy payload adds hangup cause/code and integer durations, as the sample shows."""
    ctx.table.put(hook("h1", ACCOUNT, "channel_destroy"))
    await channel_destroy.handle_event(call_event_of(_destroy_event()), ctx)
    payload, expected = ctx.only().payload, sample("channel_destroy")
    assert payload.pop("custom_channel_vars") == EXPECTED_CCVS
    assert expected.pop("custom_channel_vars") == {}
    assert payload == expected
    assert payload["duration_seconds"] == 6 and payload["ringing_seconds"] == 0
