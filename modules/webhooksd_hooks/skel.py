"""The template for a hook module (Kazoo ``modules/webhooks_skel.erl``). Copy it to add a hook type.

This file is a working module — the tests load and run it — but it is deliberately *not*
registered, so the daemon never loads it. It fires ``call_event``/``CHANNEL_HOLD`` and
``CHANNEL_UNHOLD`` (events Kazoo 4.3 has no hook for; the built-in ``channel_hold`` and
``channel_unhold`` send Kazoo 5's payload for them) as ``{account_id, call_id, event_name,
timestamp}`` at hooks whose ``hook`` is ``skel``.

Writing your own
================
1. Copy this file into your own package, e.g. ``my_hooks/call_hold.py``. Import from the
   public plugin API, :mod:`webhooksd.hooks`, only (as this file does).
2. Set ``METADATA.id`` to the hook type's id — what accounts put in a hook's ``"hook"`` field
   — plus a friendly ``name`` and a ``description``. ``modifiers`` are optional: each key becomes
   a ``custom_data`` key the API requires on hooks of this type (an array of allowed values,
   ``{"type": "array", "items": [...]}``, or an object of allowed values,
   ``{"type": "object", "items": {value: {"friendly_name", "description"}}}``).
3. ``bindings_and_responders()`` returns the routing keys the shared queue must be bound to
   (exchange names are Kazoo's: ``callevt``, ``configuration``, ``notifications``, ``im``,
   ``cdr``) and the (``Event-Category``, ``Event-Name``) pairs, ``*`` a wildcard, sent to
   ``handle_event``. Bind as narrowly as you can: every instance shares one queue.
4. ``handle_event(event, ctx)``: find the account the event belongs to, ask
   ``ctx.find_hooks(<your id>, account_id)`` (it adds ``all`` hooks and ancestors' hooks with
   ``include_subaccounts``), drop hooks your own filters exclude, build the payload **once**,
   and ``await ctx.fire(event, payload, hooks)``. The daemon applies each hook's ``modifiers``,
   merges its ``custom_data``, adds ``cluster_id``, checks the hook's ``filter``, delivers,
   records and retries (the whole sequence: :mod:`webhooksd.hooks.matching`). Return
   normally for messages you ignore — an exception nacks the message. Keep payload keys absent
   rather than ``null``. Hooks whose ``version`` is ``v2`` get Kazoo 5's envelope instead: by
   default the message's ``Event-Name`` and its body sanitized; pass
   ``v2=v2_envelope(name, data)`` to ``ctx.fire`` where Kazoo 5 names or fills it otherwise.
5. ``init(ctx)`` runs once at start-up: ``await ctx.init_metadata(METADATA)`` publishes the
   hook type, after which the API accepts hooks with ``"hook": "<your id>"``.

Registering it
==============
Hook modules are found through the ``webhooksd.hooks`` entry-point group; the entry-point name
must equal ``METADATA.id``. In your distribution's ``pyproject.toml``::

    [project.entry-points."webhooksd.hooks"]
    call_hold = "my_hooks.call_hold"

or in its ``setup.cfg``::

    [options.entry_points]
    webhooksd.hooks =
        call_hold = my_hooks.call_hold

Install it into the daemon's environment (``pip install my-hooks``) and restart webhooksd. The
module is validated at start-up (:func:`webhooksd.hooks.contract.validate`) and a broken one stops
the daemon with an error naming it; ``load_entry_points = false`` in the configuration turns
third-party modules off.
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
    get_path,
    ne_str,
    to_int,
)

log = structlog.get_logger(__name__)

#: the id hooks use in ``"hook"``; also the entry-point name
HOOK_EVENT = "skel"

#: the ``Event-Name`` values this module handles
EVENTS: tuple[str, ...] = ("CHANNEL_HOLD", "CHANNEL_UNHOLD")

METADATA = Metadata(
    id=HOOK_EVENT,
    name="Skel",
    description="Example webhook module",
)


async def init(ctx: HookContext) -> None:
    """Publish the hook type so the API accepts hooks of it."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """Bind ``call.<EVENT>.*`` on ``callevt`` and answer ``call_event``/``<EVENT>``."""
    return (
        [Binding("callevt", f"call.{name}.*") for name in EVENTS],
        [Responder("call_event", name) for name in EVENTS],
    )


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Resolve the account, find the hooks, build the payload once, fire."""
    bound = log.bind(event_id=event.event_id, event_name=event.name)
    account_id = ne_str(get_path(event.body, ("Custom-Channel-Vars", "Account-ID")))
    if account_id is None:
        bound.info("event without an account; ignored")
        return
    hooks = ctx.find_hooks(HOOK_EVENT, account_id)
    if not hooks:
        return
    await ctx.fire(event, format_event(event.body, account_id), hooks)


def format_event(body: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """The payload receivers get (keys absent when the event lacks them)."""
    return from_pairs(
        [
            ("account_id", account_id),
            ("call_id", ne_str(body.get("Call-ID"))),
            ("event_name", ne_str(body.get("Event-Name"))),
            ("timestamp", to_int(body.get("Timestamp"))),
        ]
    )
