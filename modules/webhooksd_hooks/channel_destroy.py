"""The ``channel_destroy`` hook, Kazoo's ``webhooks_channel_destroy.erl``.

Bound to ``call.CHANNEL_DESTROY.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.

The payload adds ``hangup_cause``, ``hangup_code`` and ``duration_seconds``,
``ringing_seconds``, ``billing_seconds`` (integers). A ``CHANNEL_DISCONNECTED`` handed to this
module is treated as a destroy, as in Kazoo (it is never bound).
"""

from __future__ import annotations

from collections.abc import Sequence

from webhooksd.hooks import Binding, Event, HookContext, Metadata, Responder
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_destroy",
    name="Channel Destroy",
    description=(
        "This webhook is triggered when a channel is destroyed, usually as a result of a hangup"
    ),
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """Bind the shared queue to ``call.CHANNEL_DESTROY.*`` and answer those events."""
    return channel_util.bindings_and_responders("CHANNEL_DESTROY")


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire the channel payload at the account's ``channel_destroy`` and ``all`` hooks."""
    await channel_util.handle_event(event, ctx)
