"""The ``channel_answer`` hook, Kazoo's ``webhooks_channel_answer.erl``.

Bound to ``call.CHANNEL_ANSWER.*`` on ``callevt``; the work is :mod:`webhooksd_hooks._channel`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

from webhooksd.hooks import Binding, Event, HookContext, Metadata, Responder
from webhooksd_hooks import _channel as channel_util

METADATA = Metadata(
    id="channel_answer",
    name="Channel Answer",
    description=(
        "This webhook is triggered when a channel establishes two-way audio, such as a "
        "voicemail box or the called party answering"
    ),
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """Bind the shared queue to ``call.CHANNEL_ANSWER.*`` and answer those events."""
    return channel_util.bindings_and_responders("CHANNEL_ANSWER")


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire the channel payload at the account's ``channel_answer`` and ``all`` hooks."""
    await channel_util.handle_event(event, ctx)
