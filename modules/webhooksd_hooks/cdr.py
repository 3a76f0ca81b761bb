"""The ``cdr`` hook, which Kazoo 5 added (``webhooks_cdr.erl``, meta doc ``webhooks_cdr``).

ecallmgr publishes one CDR per channel when it is torn down (mod_kazoo's ``KZ_CDR`` event,
``kapi_cdr:publish_report/1``): category ``cdr``, name ``report``, on the ``cdr`` topic
exchange with routing key ``cdr.report.<Account-ID>.<Call-ID>``; Kazoo 5 binds
``cdr.report.*.*``.

What Kazoo 5 does, and so this module:

* the account is CCV ``Account-ID`` (``kz_call_event:account_id/1``), not the report's
  top-level ``Account-ID``; without it the report is dropped;
* hooks are the account's ``cdr`` and ``all`` hooks (and ancestors' with
  ``include_subaccounts``), with no loopback filter;
* the payload is smaller than the channel payload: no custom variables, ``inception``,
  ``local_resource_id``, hangup cause or durations, although the report carries them;
  ``timestamp`` is the integer Kazoo's accessor returns (nothing documents another type);
  ``call_forwarded`` is present only when the CCV is; ``from``, ``to`` and ``request`` are
  passed as they are.

The metadata is Kazoo 5's verbatim, description included, although that description is the SMS
module's (a copy in Kazoo 5's source): it is what a Kazoo 5 client lists.
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

HOOK_EVENT = "cdr"
CCVS = "Custom-Channel-Vars"

METADATA = Metadata(
    id=HOOK_EVENT,
    name="CDR",
    description="Receive notifications when sms is received",
)


async def init(ctx: HookContext) -> None:
    """Write the hook type's metadata."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """``kapi_cdr:bind_q`` with ``restrict_to [report]``, and the ``cdr``/``report`` responder."""
    return [Binding("cdr", "cdr.report.*.*")], [Responder("cdr", "report")]


async def handle_event(event: Event, ctx: HookContext) -> None:
    """``webhooks_cdr:handle_event/2``: account from the CCVs, hooks, payload once, fire."""
    body = event.body
    bound = log.bind(event_id=event.event_id, call_id=body.get("Call-ID"))
    account_id = str_field(body, (CCVS, "Account-ID"))
    if account_id is None:
        bound.debug("no Account-ID in the custom channel vars; CDR dropped")
        return
    bound = bound.bind(account_id=account_id)
    hooks = ctx.find_hooks(HOOK_EVENT, account_id)
    if not hooks:
        bound.debug("no hooks for event", hook=HOOK_EVENT)
        return
    account = ctx.account(account_id)
    reseller_id = account.reseller_id if account is not None else None
    # Kazoo 5 names the v2 envelope by the report's Event-Category, not the hook type
    v2 = v2_envelope(event.category, sanitize_event(body))
    await ctx.fire(event, format_event(body, account_id, reseller_id), hooks, v2=v2)


def _ccv(body: Mapping[str, Any], key: str) -> str | None:
    """``kz_call_event:custom_channel_var/2``: the CCV as a non-empty string, or None."""
    ccvs = json_object(body.get(CCVS))
    return None if ccvs is None else ne_str(ccvs.get(key))


def format_event(
    body: Mapping[str, Any], account_id: str, reseller_id: str | None
) -> dict[str, Any]:
    """``format_event/3``: ``base_hook_event/2`` in Kazoo's key order, then ``hook_event``."""
    was_global = is_true(_ccv(body, "Global-Resource"))
    forwarded = _ccv(body, "Call-Forward")
    payload = from_pairs(
        [
            ("account_id", _ccv(body, "Account-ID") or account_id),
            ("authorizing_id", _ccv(body, "Authorizing-ID")),
            ("authorizing_type", _ccv(body, "Authorizing-Type")),
            ("call_direction", ne_str(body.get("Call-Direction"))),
            ("call_forwarded", None if forwarded is None else is_true(forwarded)),
            ("call_id", ne_str(body.get("Call-ID"))),
            ("callee_id_name", ne_str(body.get("Callee-ID-Name"))),
            ("callee_id_number", ne_str(body.get("Callee-ID-Number"))),
            ("caller_id_name", ne_str(body.get("Caller-ID-Name"))),
            ("caller_id_number", ne_str(body.get("Caller-ID-Number"))),
            ("emergency_resource_used", is_true(_ccv(body, "Emergency-Resource"))),
            ("from", body.get("From")),
            ("is_internal_leg", is_true(body.get("Channel-Is-Loopback"))),
            ("local_resource_used", not was_global),
            ("other_leg_call_id", ne_str(body.get("Other-Leg-Call-ID"))),
            ("owner_id", _ccv(body, "Owner-ID")),
            ("request", body.get("Request")),
            ("reseller_id", reseller_id),
            ("timestamp", to_int(body.get("Timestamp"))),
            ("to", body.get("To")),
        ]
    )
    payload["hook_event"] = HOOK_EVENT
    return payload
