"""The ``channel_hold`` hook, one of the channel events Kazoo 5 added
(``webhooks_channel_events.erl``, whose meta doc is ``webhooks_channel_hold``).

Bound to ``call.CHANNEL_HOLD.*`` on ``callevt``, where ecallmgr publishes FreeSWITCH's
``CHANNEL_HOLD`` (mod_kazoo's ``call_event`` fields); the work is
:mod:`webhooksd_hooks._channel`'s. The payload is the channel payload with Kazoo 5's
``custom_sip_headers`` and nothing else added.
"""

from __future__ import annotations

from collections.abc import Sequence

from webhooksd.hooks import Binding, Event, HookContext, Metadata, Responder
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_hold",
    name="Channel Hold",
    description="This webhook is triggered when an established call gets put on hold",
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """Bind the shared queue to ``call.CHANNEL_HOLD.*`` and answer those events."""
    return channel_util.bindings_and_responders("CHANNEL_HOLD")


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire the channel payload at the account's ``channel_hold`` and ``all`` hooks."""
    await channel_util.handle_event(event, ctx)
