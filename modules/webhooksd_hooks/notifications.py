"""The ``notifications`` hook, Kazoo's ``webhooks_notifications.erl``: teletype notifications.

Every notification type of :mod:`webhooksd_hooks.notification_types` is bound on the
``notifications`` exchange. A valid notification is normalised (``kz_json:normalize``) and fired
at the account's ``notifications`` hooks whose ``custom_data.type`` is the event name or ``all``
(hooks without ``custom_data`` and ``all`` hooks take every type).

The ``webhook`` notification (callflow's ``webhook`` action) carries its own hook: ``Hook`` is
fired with ``Data`` normalised, as in Kazoo. Kazoo stops there, so a stored hook subscribed to
``webhook`` never fires, although ``webhook`` is an offered ``type`` and the documentation and
samples show the normalised envelope being delivered; webhooksd also fires that envelope at the
account's matching stored hooks (the documented behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from webhooksd.hooks import (
    Binding,
    Event,
    Hook,
    HookContext,
    HookDoc,
    MalformedMessage,
    Metadata,
    Responder,
    first_defined,
    hook_custom_data,
    ne_str,
    normalize,
    normalize_name,
    require_envelope,
)

from .notification_types import BY_NAME, NOTIFICATION_TYPES

log = structlog.get_logger(__name__)

HOOK_EVENT = "notifications"

#: the event whose message carries its own ad-hoc hook (``cf_webhook``)
CALLFLOW_WEBHOOK = "webhook"

#: ``kapi_notifications:account_id/1``: where a notification's account id is looked for
ACCOUNT_ID_PATHS: tuple[str | tuple[str, ...], ...] = (
    "account_id",
    ("account", "_id"),
    "pvt_account_id",
    "_id",
    "id",
    "Account-ID",
    ("details", "account_id"),
    ("Details", "Account-ID"),
    ("details", "custom_channel_vars", "account_id"),
    ("Details", "Custom-Channel-Vars", "Account-ID"),
)


def _type_modifier() -> dict[str, Any]:
    items = {
        "all": {
            "friendly_name": "All",
            "description": "This event is triggered for any notification events",
        }
    }
    for t in NOTIFICATION_TYPES:
        items[t.name] = {"friendly_name": t.friendly_name, "description": t.description}
    # Kazoo merges the items into a new object "to sort" them
    return {"type": "object", "items": dict(sorted(items.items()))}


METADATA = Metadata(
    id=HOOK_EVENT,
    name="Notifications Webhook",
    description="Fire a webhook when a notification event is triggered in Kazoo",
    modifiers={"type": _type_modifier()},
)


async def init(ctx: HookContext) -> None:
    """Write the metadata (the ``type`` modifier lists every notification type)."""
    await ctx.init_metadata(METADATA)


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """One routing key per notification type; responder ``notification``/``*`` (the handler
    says which names it ignores), after one per known type so that the daemon knows them
    (its metrics label only known event names)."""
    return (
        [Binding("notifications", t.routing_key) for t in NOTIFICATION_TYPES],
        [*(Responder("notification", t.name) for t in NOTIFICATION_TYPES),
         Responder("notification", "*")],
    )  # fmt: skip


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Validate the notification, then fire it at the account's matching hooks."""
    name = normalize_name(event.name)
    bound = log.bind(event_id=event.event_id, event_name=name)
    definition = BY_NAME.get(name)
    if definition is None:
        bound.warning("unknown notification; ignored")
        return
    require_envelope(event.body)  # the definition's validate_fun is kz_api:validate/4
    missing = [key for key in definition.required if event.body.get(key) is None]
    if missing:
        bound.warning("notification lacks required keys; ignored", missing=missing)
        return
    account_id = account_id_of(event.body)
    if name == CALLFLOW_WEBHOOK:
        adhoc = await fire_callflow_hook(event, ctx)
        account_id = account_id or (adhoc.account_id if adhoc else None)
    hooks = [h for h in ctx.find_hooks(HOOK_EVENT, account_id) if match_type(h, name)]
    if not hooks:
        bound.debug("no hooks for notification", account_id=account_id)
        return
    await ctx.fire(event, normalize(event.body), hooks)


def account_id_of(body: Mapping[str, Any]) -> str | None:
    """``kapi_notifications:account_id/1``: the first defined path; MalformedMessage when that
    is not a string (Kazoo would treat the notification as account-less)."""
    value = first_defined(body, ACCOUNT_ID_PATHS)
    if value is None or isinstance(value, str):
        return value or None
    raise MalformedMessage(f"the notification's account id is not a string: {value!r:.40}")


def match_type(hook: Hook, name: str) -> bool:
    """``match_action_type/2``: ``all`` hooks and hooks without ``custom_data`` match;
    otherwise ``custom_data.type`` must be the (normalised) event name or ``all``."""
    if hook.hook != HOOK_EVENT:
        return True
    custom_data = hook_custom_data(hook)
    if custom_data is None:
        return True
    wanted = ne_str(custom_data.get("type"))
    return wanted is not None and normalize_name(wanted) in (name, "all")


async def fire_callflow_hook(event: Event, ctx: HookContext) -> Hook | None:
    """Fire the ad-hoc ``Hook`` of a callflow ``webhook`` notification with its ``Data``
    normalised; the hook it fired, or None when the message's hook is unusable."""
    hook = callflow_hook(event.body.get("Hook"))
    if hook is None:
        log.warning("callflow webhook without a usable Hook; not fired", event_id=event.event_id)
        return None
    data = event.body.get("Data")
    await ctx.fire(event, normalize(data if isinstance(data, Mapping) else {}), [hook])
    return hook


def callflow_hook(value: Any) -> Hook | None:
    """``webhooks_util:from_json/1`` of callflow's hook object (``cf_webhook:set_hook/2``):
    ``_id``, ``uri``, ``http_verb``, ``retries``, ``custom_data``, ``pvt_account_id``. callflow
    never sets ``format``, so the body is form-data unless the object says otherwise."""
    if not isinstance(value, Mapping):
        return None
    hook_id = ne_str(first_defined(value, ("_id", "ID")))
    account_id = ne_str(first_defined(value, ("pvt_account_id", "Account-ID")))
    if hook_id is None or account_id is None or ne_str(value.get("uri")) is None:
        return None
    doc = {k: v for k, v in value.items() if v is not None and not k.startswith(("_", "pvt_"))}
    doc.setdefault("name", "callflow webhook")
    doc["hook"] = HOOK_EVENT
    return Hook.from_doc(HookDoc(id=hook_id, account_id=account_id, doc=doc))
