"""The ``object`` hook, Kazoo's ``webhooks_object.erl``: document changes in an account.

A ``doc_update`` message on ``configuration`` (``<action>.<database>.<type>.<id>``) fires
``{id, account_id, action, type}`` at the account's ``object`` hooks whose ``custom_data``
``type``/``action`` match (``all`` a wildcard), and at its ``all`` hooks.

Bindings: Kazoo binds ``#`` (its ``restrict_to [doc_updates]`` carries no action, db or type),
so the shared queue receives every message on ``configuration``, ``db_*`` and
``doc_type_update`` included. webhooksd binds ``doc_created.#``, ``doc_edited.#`` and
``doc_deleted.#`` only: those are the actions the documentation and the ``action`` modifier
list, a ``db_*`` message is not an object change, and an unrelated message never reaches the
shared queue just to be dropped. Anything else that reaches the handler (the responder is
``configuration``/``*``) is ignored without an error.

The account is the one the database belongs to (``account%2FAA%2FBB%2F<rest>``, its unencoded
and raw forms, and monthly ``-YYYYMM`` databases), or the document id for the ``accounts``
database; changes in other databases (``webhooks``, ``system_config``...) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    hook_custom_data,
    is_true,
    ne_str,
    require_envelope,
    sanitize_event,
    str_field,
    v2_envelope,
)

log = structlog.get_logger(__name__)

HOOK_EVENT = "object"

#: Kazoo's ``?DOC_ACTIONS``
DOC_ACTIONS: tuple[str, ...] = ("doc_created", "doc_edited", "doc_deleted")

#: Kazoo's ``?DOC_TYPES``, the default of ``webhooks.object_types``
DEFAULT_OBJECT_TYPES: tuple[str, ...] = (
    "account",
    "callflow",
    "device",
    "faxbox",
    "media",
    "user",
    "vmbox",
    "fax",
    "mailbox_message",
    "call_recording",
)

_SEP = r"(?:/|%2[fF])"
#: an account database (encoded, unencoded or raw), optionally a ``-YYYYMM`` MODb
_ACCOUNT_DB = re.compile(
    rf"(?:account{_SEP}(?P<a>[0-9a-f]{{2}}){_SEP}(?P<b>[0-9a-f]{{2}}){_SEP}(?P<rest>[0-9a-f]{{28}})"
    r"|(?P<raw>[0-9a-f]{32}))"
    r"(?:-\d{6})?"
)


def modifiers(object_types: Sequence[str]) -> dict[str, Any]:
    """The ``type`` and ``action`` modifiers crossbar checks ``custom_data`` against."""
    return {
        "type": {
            "type": "array",
            "description": "A list of object types to handle",
            "items": ["all", *(object_types or DEFAULT_OBJECT_TYPES)],
        },
        "action": {
            "type": "array",
            "description": "A list of object actions to handle",
            "items": ["all", *DOC_ACTIONS],
        },
    }


METADATA = Metadata(
    id=HOOK_EVENT,
    name="Object",
    description=(
        "Receive notifications when objects (like JSON document objects) in Kazoo are changed"
    ),
    modifiers=modifiers(DEFAULT_OBJECT_TYPES),
)


async def init(ctx: HookContext) -> None:
    """Write the metadata, its ``type`` items taken from ``object_types``."""
    types = ctx.settings.object_types or DEFAULT_OBJECT_TYPES
    await ctx.init_metadata(
        Metadata(
            id=METADATA.id,
            name=METADATA.name,
            description=METADATA.description,
            modifiers=modifiers(types),
        )
    )


def bindings_and_responders() -> tuple[Sequence[Binding], Sequence[Responder]]:
    """The three document actions on ``configuration``; responder ``configuration``/``*``,
    after one per action so that the daemon knows their names (for its metrics labels)."""
    return (
        [Binding("configuration", f"{action}.#") for action in DOC_ACTIONS],
        [*(Responder("configuration", a) for a in DOC_ACTIONS), Responder("configuration", "*")],
    )


async def handle_event(event: Event, ctx: HookContext) -> None:
    """Fire a document change at the owning account's matching hooks."""
    body = event.body
    bound = log.bind(event_id=event.event_id, event_name=event.name)
    if event.name not in DOC_ACTIONS:
        bound.debug("not a document change; ignored")
        return
    require_envelope(body)  # kapi_conf:doc_update_v, which Kazoo asserts
    doc_id, database = str_field(body, "ID"), str_field(body, "Database")
    if doc_id is None or database is None:
        bound.warning("doc_update without ID or Database; ignored")
        return
    account_id = find_account_id(database, doc_id)
    if account_id is None:
        bound.debug("not an account database; ignored", database=database)
        return
    doc_type = str_field(body, "Type")
    hooks = [
        h
        for h in ctx.find_hooks(HOOK_EVENT, account_id)
        if match_action_type(h, event.name, doc_type)
    ]
    if hooks:
        payload = format_event(doc_id, account_id, event.name, doc_type)
        await ctx.fire(event, payload, hooks, v2=v2_event(body, event.name))


def v2_event(body: Mapping[str, Any], action: str) -> dict[str, Any]:
    """Kazoo 5's ``format_v2_event/1``: the sanitized change with ``metadata`` (``id``,
    ``created``, ``modified``, ``deleted`` for a deletion or a soft delete). Kazoo 5 also adds
    the changed document when it can open it; webhooksd has no document database to read."""
    metadata = from_pairs(
        [
            ("id", body.get("ID")),
            ("created", body.get("Date-Created")),
            ("modified", body.get("Date-Modified")),
            (
                "deleted",
                True if action == "doc_deleted" or is_true(body.get("Is-Soft-Deleted")) else None,
            ),
        ]
    )
    return v2_envelope(action, {**sanitize_event(body), "metadata": metadata})


def find_account_id(database: str, doc_id: str) -> str | None:
    """``find_account_id/1``: the account of an account database or MODb, the doc id in
    ``accounts``, None elsewhere."""
    if database == "accounts":
        return doc_id
    match = _ACCOUNT_DB.fullmatch(database)
    if match is None:
        return None
    return match["raw"] or f"{match['a']}{match['b']}{match['rest']}"


def match_action_type(hook: Hook, action: str, doc_type: str | None) -> bool:
    """``match_action_type/3,4``: ``all`` hooks and object hooks without ``custom_data``
    match; otherwise ``custom_data.action`` and ``.type`` must each equal the event's or be
    ``all``. A ``custom_data`` lacking either never matches."""
    if hook.hook != HOOK_EVENT:
        return True
    custom_data = hook_custom_data(hook)
    if custom_data is None:
        return True
    return _matches(custom_data, "action", action) and _matches(custom_data, "type", doc_type)


def _matches(custom_data: Mapping[str, Any], key: str, value: str | None) -> bool:
    wanted = ne_str(custom_data.get(key))
    return wanted is not None and (wanted == "all" or wanted == value)


def format_event(doc_id: str, account_id: str, action: str, doc_type: str | None) -> dict[str, Any]:
    """``format_event/2``: ``{id, account_id, action, type}`` (``type`` absent if unknown)."""
    return from_pairs(
        [("id", doc_id), ("account_id", account_id), ("action", action), ("type", doc_type)]
    )
