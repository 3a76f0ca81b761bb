"""The ``sms`` hook, Kazoo's ``webhooks_sms.erl``: an SMS received from off-net.

An ``inbound`` message on the ``im`` exchange (``sms.inbound.offnet.<message id>``) is fired
at its ``Account-ID``'s ``sms`` and ``all`` hooks as
``{id, account_id, type, from, to, body, origin, charges}``. A message that ``kapi_im`` would
reject (no ``Message-ID``, ``Body``, ``From`` or ``To``) is ignored with a log line.
"""

from __future__ import annotations

from collections.abc import Sequence

from webhooksd.hooks import Binding, Event, HookContext, Metadata, Responder

from . import _im

HOOK_EVENT = "sms"

METADATA = Metadata(
    id=HOOK_EVENT,
    name="SMS",
    description="Receive notifications when sms is received",
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """``sms.inbound.offnet.*`` on ``im``; responder (``sms``, ``inbound``)."""
    return _im.bindings_and_responders(HOOK_EVENT)


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire an inbound SMS at its account's hooks."""
    await _im.handle_inbound(event, ctx, HOOK_EVENT)
