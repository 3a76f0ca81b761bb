"""The ``channel_answer`` module against Kazoo's sample payload (kazoo-daemon §4.1)."""

from __future__ import annotations

from webhooksd_hooks import channel_answer

from .helpers import ACCOUNT, RecordingContext, call_event, call_event_of, hook, sample

#: the non-reserved CCVs of the §3.4 example; the sample shows ``{}`` (documented as varying)
EXPECTED_CCVS = {
    "Global-Resource": "false",
    "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
    "Inception": "+15556783945@matrix.test.com",
}


def test_metadata() -> None:
    """The metadata is Kazoo's: id, friendly name and description, no modifiers."""
    assert channel_answer.METADATA.to_doc() == {
        "id": "channel_answer",
        "name": "Channel Answer",
        "description": (
            "This webhook is triggered when a channel establishes two-way audio, "
            "such as a voicemail box or the called party answering"
        ),
    }


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the module's metadata through the context."""
    await channel_answer.init(ctx)
    assert ctx.metadata == [channel_answer.METADATA]


async def test_payload_matches_kazoo_sample(ctx: RecordingContext) -> None:
    """The §3.4 event gives Kazoo's sample payload; only custom_channel_vars differs."""
    ctx.table.put(hook("h1", ACCOUNT, "channel_answer"))
    await channel_answer.handle_event(call_event_of(call_event("CHANNEL_ANSWER")), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"h1"}
    payload, expected = fired.payload, sample("channel_answer")
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


async def test_other_channel_hooks_do_not_fire(ctx: RecordingContext) -> None:
    """Hooks for the other channel events are not found for CHANNEL_ANSWER."""
    for other in ("channel_create", "channel_answer", "channel_bridge", "channel_destroy"):
        if other != "channel_answer":
            ctx.table.put(hook(other, ACCOUNT, other))
    await channel_answer.handle_event(call_event_of(call_event("CHANNEL_ANSWER")), ctx)
    assert ctx.fired == []
