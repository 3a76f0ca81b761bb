"""Hook matching: which hooks an event is sent to, and with what payload, in one sequence.

An event reaches a hook through these steps, in this order, and through no others:

1. **The hook table** (Kazoo ``webhooks_util:find_webhooks/2`` over the ``webhooks_listener``
   ETS table): the account's enabled hooks for the event and its ``all`` hooks, then each
   ancestor's (root first) that have ``include_subaccounts``; an unknown account has none.
   :func:`find`, which hook modules reach as ``ctx.find_hooks``.
2. **The hook module's own filter** (the module's ``handle_event/2``): only the module knows
   its event, so it drops hooks from what ``ctx.find_hooks`` found before it calls
   ``ctx.fire``. The channel modules skip internal (loopback) legs for hooks that exclude them
   (``webhooks_channel_util.erl`` ``is_fireable_hook/2``, in ``webhooksd_hooks._channel``);
   ``object`` matches the hook's ``custom_data`` action and type (``webhooks_object.erl``
   ``match_action_type/3``); ``notifications`` its type (``webhooks_notifications.erl``
   ``match_action_type/2``). A callflow ``webhook`` notification fires its ad-hoc hook
   without step 1 or 2, as Kazoo does.
3. **The modifiers** (``webhooks_util.erl`` ``maybe_fire_hook/2``): the hook document's
   ``modifiers`` against the payload as the module formatted it (:func:`modifiers_pass`).
4. **``custom_data`` and ``cluster_id``** (``webhooks_util.erl`` ``fire_hook/2``): merged over
   the payload (:func:`merge_payload`). Not a filter, but step 5 reads the merged payload.

A ``v2`` hook (Kazoo 5's ``version``) goes through steps 3 to 5 with Kazoo 5's envelope instead
of the module's payload: ``{action, name, data, timestamp}`` plus ``hmac`` when the hook has a
``sha256_key`` (:mod:`webhooksd.delivery.v2`), and without ``cluster_id``, as Kazoo 5 does.
5. **The transforms filter** (Webitel ``hookClass.js`` ``Hook.check``; Kazoo has none): the
   hook's ``filter`` conditions on the merged payload (:class:`HookFilter`, the dispatcher's
   compiled transforms). Invalid transforms pass, so that the failure is recorded.

Steps 3 to 5 are :func:`select`, which ``ctx.fire`` (the dispatcher) calls first. The API's
test event skips the sequence (it is sent to the one hook it names, ``custom_data`` merged);
a replay resends the payload an attempt recorded, which went through it already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from webhooksd.delivery.v2 import stamped
from webhooksd.hooks.table import HookTable
from webhooksd.records import Hook


class HookFilter(Protocol):
    """Protocol: step 5, a hook's own filter on the payload merged for it."""

    def passes(self, hook: Hook, payload: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class Match:
    """A hook an event is sent to, and the payload merged for it (steps 3 to 5 passed)."""

    hook: Hook
    payload: dict[str, Any]


def find(table: HookTable, hook_event: str, account_id: str | None) -> list[Hook]:
    """Step 1: the hooks of ``account_id`` and its ancestors for ``hook_event``."""
    return table.find(hook_event, account_id)


def select(
    hooks: Sequence[Hook],
    payload: Mapping[str, Any],
    *,
    cluster_id: str,
    hook_filter: HookFilter,
    v2: Mapping[str, Any],
    timestamp: int,
) -> list[Match]:
    """Steps 3 to 5 for each hook a module fires ``payload`` (``v2``: the envelope, for ``v2``
    hooks, stamped with ``timestamp``) at, in the hooks' order."""
    matches: list[Match] = []
    for hook in hooks:
        if hook.version != "v2" and not hook.modifiers and not hook.custom_data:
            # most hooks: no modifier to check, nothing merged but ``cluster_id`` (the same
            # dict as merge_payload's, without its two calls and a comprehension)
            merged = {**payload, "cluster_id": cluster_id}
            if hook_filter.passes(hook, merged):
                matches.append(Match(hook, merged))
            continue
        body = stamped(hook, v2, timestamp) if hook.version == "v2" else payload
        if not modifiers_pass(hook.modifiers, body):
            continue
        merged = merge_payload(hook, body, None if hook.version == "v2" else cluster_id)
        if hook_filter.passes(hook, merged):
            matches.append(Match(hook, merged))
    return matches


def modifiers_pass(modifiers: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> bool:
    """Step 3, Kazoo's ``maybe_fire_hook/2``: every modifier key absent from the payload, or
    equal to (a member of, for a list) the modifier's value; ``[]`` passes."""
    for key, wanted in (modifiers or {}).items():
        if key not in payload or wanted == []:
            continue
        actual = payload[key]
        if isinstance(wanted, list):
            if actual not in wanted:
                return False
        elif actual != wanted:
            return False
    return True


def merge_payload(hook: Hook, payload: Mapping[str, Any], cluster_id: str | None) -> dict[str, Any]:
    """Step 4: ``custom_data`` over the payload (without ``type``/``action``), then
    ``cluster_id`` (None for ``v2`` payloads, which Kazoo 5 sends without it)."""
    merged = dict(payload)
    merged.update({k: v for k, v in hook.custom_data.items() if k not in ("type", "action")})
    if cluster_id is not None:
        merged["cluster_id"] = cluster_id
    return merged
