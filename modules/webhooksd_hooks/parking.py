"""The ``parking`` hook, Kazoo's ``webhooks_parking.erl``: calls parked, retrieved, abandoned.

callflow's ``cf_park`` publishes ``PARK_PARKED``, ``PARK_RETRIEVED`` and ``PARK_ABANDONED`` call
events. The payload is the event with ``Account-ID`` copied up from the custom channel vars, the
envelope and the custom channel vars removed, and the keys normalised: typically
``{call_id, callee_id_name, callee_id_number, caller_id_name, caller_id_number, event_name,
parking_slot, account_id}``. ``parking_slot`` stays the string callflow sends (the sample's
integer and its ``caller_id_Number`` key are hand-written; an integer would lose a slot's
leading zeros).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from webhooksd.hooks import (
    Binding,
    Event,
    HookContext,
    Metadata,
    Responder,
    normalize,
    require_envelope,
    str_field,
)

log = structlog.get_logger(__name__)

HOOK_EVENT = "parking"

PARK_EVENTS: tuple[str, ...] = ("PARK_PARKED", "PARK_RETRIEVED", "PARK_ABANDONED")

#: what ``format/1`` deletes before normalising
REMOVED_KEYS: frozenset[str] = frozenset(
    {"Node", "Msg-ID", "App-Version", "App-Name", "Event-Category", "Custom-Channel-Vars"}
)

METADATA = Metadata(
    id=HOOK_EVENT,
    name="Call Parking",
    description="Events when calls get parked/retrieved",
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """``call.<PARK_EVENT>.*`` on ``callevt`` for the three park events, and their responders."""
    return (
        [Binding("callevt", f"call.{name}.*") for name in PARK_EVENTS],
        [Responder("call_event", name) for name in PARK_EVENTS],
    )


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire the park event at the account's ``parking`` and ``all`` hooks."""
    bound = log.bind(event_id=event.event_id, event_name=event.name)
    if event.name not in PARK_EVENTS:
        bound.warning("not a park event; ignored")
        return
    require_envelope(event.body)  # kapi_call:event_v, which Kazoo asserts
    if str_field(event.body, "Call-ID") is None:
        bound.warning("park event without Call-ID; ignored")
        return
    account_id = str_field(event.body, ("Custom-Channel-Vars", "Account-ID"))
    if account_id is None:
        bound.info("park event without Account-ID in the custom channel vars; dropped")
        return
    hooks = ctx.find_hooks(HOOK_EVENT, account_id)
    if hooks:
        await ctx.fire(event, format_event(event.body, account_id), hooks)


def format_event(body: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """``format/1``: ``Account-ID`` set, envelope and CCVs removed, keys normalised."""
    kept = {k: v for k, v in body.items() if k not in REMOVED_KEYS}
    kept["Account-ID"] = account_id
    return normalize(kept)
