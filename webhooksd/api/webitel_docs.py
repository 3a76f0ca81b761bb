"""Webitel's hook document and our hook document, each way (``webitel/engine-nodejs``
``src/services/hook/index.js`` for the fields Webitel stores, ``hook.resource.js`` and the
``/api/v2/hooks`` documentation for the shapes).

One stored hook serves both APIs. Webitel's fields map onto ours: ``event`` → ``hook``,
``description`` → ``name``, ``enable`` → ``enabled``, ``action.method``/``action.url`` →
``http_verb``/``uri``, ``headers`` → ``custom_request_headers``, ``customBody`` +
``rawBody`` → ``body_template``; ``fields``, ``map``, ``filter`` and ``auth`` are stored as
given (the transforms understand Webitel's filter and auth shapes). Webitel always sends
JSON, so a hook written through this API has ``format: json``. Fields only the Crossbar API
knows (``secret``, ``custom_data``, ``include_subaccounts``…) survive a Webitel update.

Event names: a Webitel event is the hook id in upper case (``CHANNEL_CREATE`` ↔
``channel_create``, ``ALL`` ↔ ``all``, ``PARKING`` ↔ ``parking``…), and
``CHANNEL_HANGUP_COMPLETE`` is read as ``channel_destroy`` (Kazoo's destroy event carries the
hang-up cause and durations). Other names (``CUSTOM->engine::dialer_member_end``) have no
hook module here and are refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from webhooksd.records import ALL_HOOK, HookDoc
from webhooksd.redaction import redact_headers, redact_url
from webhooksd.transforms.authspec import mask_auth

from .envelope import Refusal
from .validation import HIDDEN_HOOK_IDS

#: Webitel (FreeSWITCH) event names that are another hook id's upper case
EVENT_ALIASES = {"CHANNEL_HANGUP_COMPLETE": "channel_destroy"}
#: our fields a Webitel create or update writes (the rest of a stored doc is kept)
WEBITEL_OWNED = (
    "hook",
    "name",
    "uri",
    "http_verb",
    "enabled",
    "format",
    "fields",
    "map",
    "filter",
    "custom_request_headers",
    "auth",
    "body_template",
)
#: how our validation keys read in Webitel's terms
FIELD_NAMES = {
    "hook": "event",
    "name": "description",
    "enabled": "enable",
    "uri": "action.url",
    "http_verb": "action.method",
    "custom_request_headers": "headers",
    "body_template": "rawBody",
}
NO_AUTH = {"headers": {}, "map": {}, "enabled": False}
MAX_RETRIES = 4


class WebitelError(Refusal):
    """A request Webitel's API refuses: ``{"status": "error", "info": …}`` with ``status``."""

    def __init__(self, status: int, info: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(status, info, dict(errors or {}))
        self.info = info
        self.errors = errors


def hook_for_event(event: str, module_ids: Collection[str]) -> str | None:
    """The hook id of a Webitel event name, or None when no hook module handles it."""
    name = event.strip().upper()
    if name in EVENT_ALIASES:
        return EVENT_ALIASES[name]
    hook = name.lower()
    if hook == ALL_HOOK or (hook in module_ids and hook not in HIDDEN_HOOK_IDS):
        return hook
    return None


def event_for_hook(hook: str) -> str:
    return hook.upper()


def known_events(module_ids: Collection[str]) -> list[str]:
    hooks = {ALL_HOOK, *(i for i in module_ids if i not in HIDDEN_HOOK_IDS)}
    return sorted({*(event_for_hook(h) for h in hooks), *EVENT_ALIASES})


def _action(body: Mapping[str, Any]) -> tuple[str, str]:
    """``(http_verb, uri)`` from Webitel's ``action``."""
    action = body.get("action")
    if not isinstance(action, Mapping) or not all(
        isinstance(action.get(k), str) and action.get(k) for k in ("type", "url", "method")
    ):
        raise WebitelError(400, "Bad request: action options is required.")
    if action["type"] != "web":
        raise WebitelError(400, f"Bad request: action type {action['type']} is not supported.")
    verb = str(action["method"]).lower()
    if verb not in ("get", "post", "put"):
        raise WebitelError(400, "Bad request: action method must be GET, POST or PUT.")
    return verb, str(action["url"])


def _retries(value: Any) -> Any:
    """Webitel allows up to 100 retries, we up to 4: larger numbers are capped."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return max(0, min(MAX_RETRIES, value))
    return value


def to_hook_doc(
    body: Mapping[str, Any], module_ids: Collection[str], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Our hook document for a Webitel create/update body (validated afterwards)."""
    event = body.get("event")
    if not isinstance(event, str) or not event.strip():
        raise WebitelError(400, "Bad request: event name is required.")
    verb, uri = _action(body)
    hook = hook_for_event(event, module_ids)
    if hook is None:
        known = ", ".join(known_events(module_ids))
        raise WebitelError(
            400, f"Bad request: event {event} has no hook module here; use one of: {known}."
        )
    doc = {k: v for k, v in (stored or {}).items() if k not in WEBITEL_OWNED}
    description = body.get("description")
    doc.update(
        hook=hook,
        name=description if isinstance(description, str) else "",
        uri=uri,
        http_verb=verb,
        # Webitel fires only hooks stored with enable: true
        enabled=body["enable"] if body.get("enable") is not None else False,
        format="json",
    )
    for theirs, ours in (
        ("fields", "fields"),
        ("map", "map"),
        ("filter", "filter"),
        ("headers", "custom_request_headers"),
        ("auth", "auth"),
    ):
        if body.get(theirs) is not None:
            doc[ours] = body[theirs]
    if body.get("customBody") is True:
        raw = body.get("rawBody")
        doc["body_template"] = "" if raw is None else raw
    if body.get("retries") is not None:
        doc["retries"] = _retries(body["retries"])
    return doc


def to_webitel(stored: HookDoc, domain: str) -> dict[str, Any]:
    """Webitel's view of a stored hook (keys in Webitel's order; secrets masked)."""
    doc = stored.doc
    auth = doc.get("auth")
    return {
        "_id": stored.id,
        "domain": domain,
        "event": event_for_hook(str(doc.get("hook", ""))),
        "enable": doc.get("enabled", True) is not False,
        "description": str(doc.get("name", "")),
        "action": {
            "type": "web",
            "method": str(doc.get("http_verb", "post")).upper(),
            "url": redact_url(str(doc.get("uri", ""))),
        },
        "fields": doc.get("fields", []),
        "map": doc.get("map", {}),
        "filter": doc.get("filter", {}),
        "headers": redact_headers(doc.get("custom_request_headers") or {}, lower=False),
        "auth": mask_auth(auth) if isinstance(auth, Mapping) else dict(NO_AUTH),
        "customBody": "body_template" in doc,
        "rawBody": str(doc.get("body_template", "")),
        "retries": doc.get("retries", 2),
    }


def insert_result(item: Mapping[str, Any]) -> dict[str, Any]:
    """MongoDB's insert answer, which Webitel returns for a create (``_id`` last)."""
    op = {k: v for k, v in item.items() if k != "_id"}
    op["_id"] = item["_id"]
    return {
        "result": {"ok": 1, "n": 1},
        "ops": [op],
        "insertedCount": 1,
        "insertedIds": [item["_id"]],
    }


def webitel_key(key: str) -> str:
    """A validation key in Webitel's terms (``body_template`` → ``rawBody``)."""
    head, dot, rest = key.partition(".")
    return f"{FIELD_NAMES.get(head, head)}{dot}{rest}"


def error_summary(errors: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Crossbar's validation errors as Webitel's ``info`` text plus keyed details."""
    renamed = {webitel_key(k): v for k, v in errors.items()}
    parts = []
    for key, entries in renamed.items():
        first: Any = next(iter(entries.values()), {}) if isinstance(entries, Mapping) else {}
        message = first.get("message", "invalid") if isinstance(first, Mapping) else "invalid"
        parts.append(f"{key}: {message}")
    return "Bad request: " + "; ".join(parts), renamed
