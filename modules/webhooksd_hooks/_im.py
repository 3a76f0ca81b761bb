"""What the ``sms`` and ``mms`` hooks share (Kazoo ``webhooks_sms.erl``/``webhooks_mms.erl``,
which are the same code twice, and ``kapi_im.erl``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from webhooksd.hooks import (
    Binding,
    Event,
    HookContext,
    MalformedMessage,
    Responder,
    from_pairs,
    ne_str,
    require_envelope,
    str_field,
    to_number,
)

log = structlog.get_logger(__name__)

#: ``kapi_im`` ``?INBOUND_HEADERS``: the keys an inbound message must have, all strings
REQUIRED_KEYS: tuple[str, ...] = ("Message-ID", "Body", "From", "To")
ROUTE_TYPES: tuple[str, ...] = ("onnet", "offnet")


def bindings_and_responders(im_type: str) -> tuple[Sequence[Binding], Sequence[Responder]]:
    """``<type>.inbound.offnet.*`` on ``im`` (Kazoo binds off-net only); responder
    (``<type>``, ``inbound``)."""
    return [Binding("im", f"{im_type}.inbound.offnet.*")], [Responder(im_type, "inbound")]


async def handle_inbound(event: Event, ctx: HookContext, im_type: str) -> None:
    """``handle_sms/2``: validate, find the ``Account-ID``'s hooks, fire the payload."""
    bound = log.bind(event_id=event.event_id, hook=im_type)
    problem = invalid_reason(event.body, im_type)
    if problem is not None:
        bound.warning("inbound message ignored", reason=problem)
        return
    account_id = str_field(event.body, "Account-ID")
    if account_id is None:
        bound.info("inbound message without Account-ID; dropped")
        return
    hooks = ctx.find_hooks(im_type, account_id)
    if hooks:
        await ctx.fire(event, format_event(event.body, account_id), hooks)


def invalid_reason(body: Mapping[str, Any], im_type: str) -> str | None:
    """``kapi_im:inbound_v/1``: why the message is not a valid inbound message, or None;
    a required key of the wrong type is MalformedMessage (dead-lettered), not a reason."""
    if body.get("Event-Category") != im_type or body.get("Event-Name") != "inbound":
        return "not an inbound message of this type"
    require_envelope(body)
    wrong = [k for k in REQUIRED_KEYS if body.get(k) is not None and not isinstance(body[k], str)]
    if wrong:
        raise MalformedMessage(f"{', '.join(wrong)} not a string")
    missing = [k for k in REQUIRED_KEYS if body.get(k) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    route_type = body.get("Route-Type")
    if route_type is not None and route_type not in ROUTE_TYPES:
        return f"Route-Type {route_type!r} is neither onnet nor offnet"
    return None


def format_event(body: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """``format_event/2``: ``{id, account_id, type, from, to, body, origin, charges}``; an
    empty ``Body`` leaves ``body`` out (``kz_im:body/1`` reads a non-empty string)."""
    return from_pairs(
        [
            ("id", body.get("Message-ID")),
            ("account_id", account_id),
            ("type", body.get("Event-Category")),
            ("from", body.get("From")),
            ("to", body.get("To")),
            ("body", ne_str(body.get("Body"))),
            ("origin", body.get("Route-Type")),
            ("charges", to_number(body.get("Charges"))),
        ]
    )
