"""The ``channel_bridge`` hook, Kazoo's ``webhooks_channel_bridge.erl``.

Bound to ``call.CHANNEL_BRIDGE.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.

The payload adds ``original_number`` and ``other_leg_destination_number``; FreeSWITCH's
``CHANNEL_BRIDGE`` carries no ``From``/``To``/``Request``, so those keys are usually absent.
"""

from __future__ import annotations

from collections.abc import Sequence

from webhooksd.hooks import Binding, Event, HookContext, Metadata, Responder
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_bridge",
    name="Channel Bridge",
    description=(
        "This webhook is triggered when two channels are bridged together, such as two "
        "users/devices connected together"
    ),
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """Bind the shared queue to ``call.CHANNEL_BRIDGE.*`` and answer those events."""
    return channel_util.bindings_and_responders("CHANNEL_BRIDGE")


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire the channel payload at the account's ``channel_bridge`` and ``all`` hooks."""
    await channel_util.handle_event(event, ctx)
