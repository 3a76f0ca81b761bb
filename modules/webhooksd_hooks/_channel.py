"""What the channel hook modules share (Kazoo ``webhooks_channel_util.erl``, and for the types
Kazoo 5 added, ``channel_hold`` and ``channel_unhold``, its ``webhooks_channel_events.erl``).

``handle_event`` resolves the account from ``Custom-Channel-Vars.Account-ID``, finds the hooks
for the event, drops internal (loopback) legs for hooks that exclude them (the channel
modules' step 2 of :mod:`webhooksd.hooks.matching`), formats the channel payload once and
fires it. Where Kazoo's code and its documentation disagree the documentation
wins (see ``format_event`` and the compatibility page):

* ``timestamp`` is a string of Gregorian seconds, as the docs and samples show (the code
  sends a number);
* ``call_forwarded`` is always a boolean (the code omits it when the CCV is absent);
* ``custom_channel_vars`` is always present, less the reserved keys (the code omits it when
  ``reserved_ccv_keys`` is unset);
* ``request`` is the top-level ``Request`` string and ``inception`` the top-level or CCV
  ``Inception`` (the code's accessors almost never find either).

Kazoo 5 documents and builds the same payload, plus ``custom_sip_headers`` after
``custom_application_vars``; the Kazoo 5 types send it, the four older ones keep Kazoo 4.3's
v1 payload.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from webhooksd.hooks import (
    Binding,
    Event,
    Hook,
    HookContext,
    Metadata,
    Responder,
    from_pairs,
    is_true,
    json_object,
    ne_str,
    sanitize_event,
    str_field,
    to_int,
    v2_envelope,
)

log = structlog.get_logger(__name__)

#: the call event names the channel modules handle, and the hook each one fires
HOOK_EVENTS: Mapping[str, str] = {
    "CHANNEL_CREATE": "channel_create",
    "CHANNEL_ANSWER": "channel_answer",
    "CHANNEL_BRIDGE": "channel_bridge",
    "CHANNEL_DESTROY": "channel_destroy",
    "CHANNEL_HOLD": "channel_hold",
    "CHANNEL_UNHOLD": "channel_unhold",
    # never bound; Kazoo treats it as a destroy if it arrives
    "CHANNEL_DISCONNECTED": "channel_destroy",
}

#: the hook types only Kazoo 5 has; their payload is Kazoo 5's (``custom_sip_headers``)
KAZOO5_HOOKS = frozenset({"channel_hold", "channel_unhold"})

CCVS = "Custom-Channel-Vars"


def bindings_and_responders(event_name: str) -> tuple[Sequence[Binding], Sequence[Responder]]:
    """``kapi_call:bind_q`` with ``restrict_to [EVENT]``: ``call.<EVENT>.*`` on ``callevt``."""
    return (
        [Binding("callevt", f"call.{event_name}.*")],
        [Responder("call_event", event_name)],
    )


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Kazoo ``handle_event/2``: account, hooks, loopback filter, payload once, fire."""
    body = event.body
    hook_event = HOOK_EVENTS.get(event.name)
    # the ids every line here carries, bound only when a line is logged: a bound logger per
    # event cost more than the lines it is for
    ids = {"event_id": event.event_id, "call_id": body.get("Call-ID")}
    if hook_event is None:
        log.warning("not a channel event; ignored", event_name=event.name, **ids)
        return
    account_id = lookup_account_id(body)
    if account_id is None:
        # Kazoo falls back to a number lookup (kz_hooks_util); there is no number database here
        log.debug("no Account-ID in the custom channel vars; event dropped", hook=hook_event, **ids)
        return
    hooks = [h for h in ctx.find_hooks(hook_event, account_id) if is_fireable_hook(body, h)]
    if not hooks:
        log.debug("no hooks for event", hook=hook_event, account_id=account_id, **ids)
        return
    account = ctx.account(account_id)
    reseller_id = account.reseller_id if account is not None else None
    payload = format_event(
        body, account_id, hook_event, reseller_id, ctx.settings.reserved_ccv_keys
    )
    # Kazoo 5 names the v2 envelope by the upper-case hook event (CHANNEL_DISCONNECTED is
    # CHANNEL_DESTROY there too); made only for a v2 hook to send it to (sanitizing the
    # event was a tenth of a v1-only event's cost)
    v2 = (
        v2_envelope(hook_event.upper(), sanitize_event(body))
        if any(hook.version == "v2" for hook in hooks)
        else None
    )
    await ctx.fire(event, payload, hooks, v2=v2)


Init = Callable[[HookContext], Awaitable[None]]
Bindings = Callable[[], tuple[Sequence[Binding], Sequence[Responder]]]
Handle = Callable[[Event, HookContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChannelModule:
    """The one body of every channel hook module: its ``init``, ``bindings_and_responders``
    and ``handle_event`` differ only by the metadata and the call event bound (Kazoo 5's
    ``webhooks_channel_events`` is one module for all of them too)."""

    metadata: Metadata
    event_name: str

    async def init(self, ctx: HookContext) -> None:
        """Write the hook type's metadata."""
        await ctx.init_metadata(self.metadata)

    def bindings_and_responders(self) -> tuple[Sequence[Binding], Sequence[Responder]]:
        """Bind the shared queue to ``call.<EVENT>.*`` and answer those events."""
        return bindings_and_responders(self.event_name)

    async def handle_event(self, event: Event, ctx: HookContext) -> None:
        """Fire the channel payload at the account's hooks of this type and ``all`` hooks."""
        await handle_event(event, ctx)


def entry_points(metadata: Metadata, event_name: str) -> tuple[Init, Bindings, Handle]:
    """A channel hook module's three entry points, for ``event_name`` (``CHANNEL_HOLD``…)."""
    module = ChannelModule(metadata, event_name)
    return module.init, module.bindings_and_responders, module.handle_event


def lookup_account_id(body: Mapping[str, Any]) -> str | None:
    """``kz_hooks_util:lookup_account_id/1`` without its number lookup: CCV ``Account-ID``
    (absent: None; not a string, or CCVs that are not an object: MalformedMessage)."""
    return str_field(body, (CCVS, "Account-ID"))


def ccv(body: Mapping[str, Any], key: str) -> Any:
    """A custom channel variable, or None."""
    ccvs = json_object(body.get(CCVS))
    return None if ccvs is None else ccvs.get(key)


def is_internal_leg(body: Mapping[str, Any]) -> bool:
    """A loopback leg: ``Channel-Name`` starts with ``loopback/`` or ``Channel-Is-Loopback``."""
    name = ne_str(body.get("Channel-Name"))
    return (name is not None and name.startswith("loopback/")) or is_true(
        body.get("Channel-Is-Loopback")
    )


def is_fireable_hook(body: Mapping[str, Any], hook: Hook) -> bool:
    """``is_fireable_hook/2``: a hook excluding internal legs skips loopback legs."""
    return hook.include_internal_legs or not is_internal_leg(body)


def format_event(
    body: Mapping[str, Any],
    account_id: str,
    hook_event: str,
    reseller_id: str | None,
    reserved_ccv_keys: frozenset[str],
) -> dict[str, Any]:
    """``format_event/3``: the base payload in Kazoo's key order, then the event's extras."""
    payload = base_payload(
        body,
        account_id,
        reseller_id,
        reserved_ccv_keys,
        custom_sip_headers=hook_event in KAZOO5_HOOKS,
    )
    payload["hook_event"] = hook_event
    payload.update(from_pairs(_extras(body, hook_event)))
    return payload


def base_payload(
    body: Mapping[str, Any],
    account_id: str,
    reseller_id: str | None,
    reserved_ccv_keys: frozenset[str],
    *,
    custom_sip_headers: bool = False,
) -> dict[str, Any]:
    """``base_hook_event/3``; absent sources give absent keys, never ``null``. With
    ``custom_sip_headers`` (Kazoo 5's version) the ``Custom-SIP-Headers`` object is added.

    The custom channel variables are read once (a look-up through ``ccv`` per variable was a
    fifth of the payload's calls), and the payload is one dict display in Kazoo's key order,
    its undefined values dropped after (a list of pairs cost a tuple per key). ``is_true``
    is applied to the raw value where Kazoo applies it to ``get_ne_binary_value``'s: that
    cast gives ``"true"`` only for ``true`` and ``"true"``, which are what ``is_true`` takes."""
    get = body.get
    ccvs = json_object(get(CCVS)) or {}
    ccv = ccvs.get
    was_global = is_true(ccv("Global-Resource"))
    timestamp = to_int(get("Timestamp"))
    return from_pairs(
        {
            "account_id": ne_str(ccv("Account-ID")) or account_id,
            "authorizing_id": ne_str(ccv("Authorizing-ID")),
            "authorizing_type": ne_str(ccv("Authorizing-Type")),
            "call_direction": ne_str(get("Call-Direction")),
            "call_forwarded": is_true(ccv("Call-Forward")),
            "call_id": ne_str(get("Call-ID")),
            "callee_id_name": ne_str(get("Callee-ID-Name")),
            "callee_id_number": ne_str(get("Callee-ID-Number")),
            "caller_id_name": ne_str(get("Caller-ID-Name")),
            "caller_id_number": ne_str(get("Caller-ID-Number")),
            "custom_channel_vars": _non_reserved_ccvs(ccvs, reserved_ccv_keys),
            "custom_application_vars": json_object(get("Custom-Application-Vars")),
            "custom_sip_headers": (
                json_object(get("Custom-SIP-Headers")) if custom_sip_headers else None
            ),
            "emergency_resource_used": is_true(ccv("Emergency-Resource")),
            "from": get("From"),
            "inception": ne_str(get("Inception")) or ne_str(ccv("Inception")),
            "local_resource_id": None if was_global else ne_str(ccv("Resource-ID")),
            "local_resource_used": not was_global,
            "is_internal_leg": is_true(get("Channel-Is-Loopback")),
            "other_leg_call_id": ne_str(get("Other-Leg-Call-ID")),
            "owner_id": ne_str(ccv("Owner-ID")),
            "request": _request(get("Request")),
            "reseller_id": reseller_id,
            "timestamp": None if timestamp is None else str(timestamp),
            "to": get("To"),
        }.items()
    )


def _non_reserved_ccvs(
    ccvs: Mapping[str, Any], reserved_ccv_keys: frozenset[str]
) -> dict[str, Any]:
    return {k: v for k, v in ccvs.items() if k not in reserved_ccv_keys}


def _request(value: Any) -> Any:
    # FreeSWITCH sends a user@realm string; Kazoo's accessor only took an object
    if type(value) is dict or isinstance(value, Mapping):
        return value
    return ne_str(value)


def _extras(body: Mapping[str, Any], hook_event: str) -> list[tuple[str, Any]]:
    if hook_event == "channel_bridge":
        return [
            ("original_number", ne_str(ccv(body, "Original-Number"))),
            ("other_leg_destination_number", ne_str(body.get("Other-Leg-Destination-Number"))),
        ]
    if hook_event == "channel_destroy":
        return [
            ("hangup_cause", ne_str(body.get("Hangup-Cause"))),
            ("hangup_code", ne_str(body.get("Hangup-Code"))),
            ("duration_seconds", to_int(body.get("Duration-Seconds"))),
            ("ringing_seconds", to_int(body.get("Ringing-Seconds"))),
            ("billing_seconds", to_int(body.get("Billing-Seconds"))),
        ]
    return []
