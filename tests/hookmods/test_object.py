"""The ``object`` module (Kazoo ``webhooks_object``): account resolution from the database,
the type/action matching table of kazoo-daemon §2.2, and Kazoo's object samples."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.errors import MalformedMessage
from webhooksd.hooks.contract import ModuleSettings
from webhooksd_hooks import object as object_hook

from .helpers import (
    ACCOUNT,
    ENVELOPE,
    MASTER,
    OBJECT_ACCOUNT,
    OTHER,
    RESELLER,
    SUB,
    RecordingContext,
    doc_update,
    encoded_db,
    event,
    hook,
    samples,
)

USER_ID = "c4c0ad092e57bc1d28e69bbd20dad932"


def test_metadata_and_modifiers() -> None:
    """The metadata is Kazoo's, with `type` and `action` array modifiers led by `all`."""
    doc = object_hook.METADATA.to_doc()
    assert doc["name"] == "Object"
    assert doc["description"] == (
        "Receive notifications when objects (like JSON document objects) in Kazoo are changed"
    )
    assert doc["modifiers"]["action"] == {
        "type": "array",
        "description": "A list of object actions to handle",
        "items": ["all", "doc_created", "doc_edited", "doc_deleted"],
    }
    assert doc["modifiers"]["type"]["description"] == "A list of object types to handle"
    assert doc["modifiers"]["type"]["items"][0] == "all"


async def test_init_takes_object_types_from_settings(ctx: RecordingContext) -> None:
    """init writes the `type` items as "all" followed by the configured object_types."""
    ctx.module_settings = ModuleSettings(cluster_id="c", object_types=("user", "device"))
    await object_hook.init(ctx)
    (meta,) = ctx.metadata
    assert meta.id == "object"
    assert meta.modifiers is not None
    assert meta.modifiers["type"]["items"] == ["all", "user", "device"]


async def test_init_with_default_object_types(ctx: RecordingContext) -> None:
    """With the shipped defaults the `type` items are Kazoo's document types."""
    await object_hook.init(ctx)
    (meta,) = ctx.metadata
    assert meta.modifiers is not None
    assert meta.modifiers["type"]["items"] == [
        "all",
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
    ]


def test_bindings_are_document_actions_only() -> None:
    """The shared queue binds the three doc actions on configuration, not `#`."""
    bindings, responders = object_hook.bindings_and_responders()
    assert [(b.exchange, b.routing_key) for b in bindings] == [
        ("configuration", "doc_created.#"),
        ("configuration", "doc_edited.#"),
        ("configuration", "doc_deleted.#"),
    ]
    assert [(r.category, r.name) for r in responders] == [
        ("configuration", "doc_created"),
        ("configuration", "doc_edited"),
        ("configuration", "doc_deleted"),
        ("configuration", "*"),
    ]


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_payload_matches_kazoo_samples(ctx: RecordingContext, index: int) -> None:
    """A user created/deleted/edited in the account DB gives exactly Kazoo's sample payload."""
    expected = samples("object")[index]
    ctx.table.put(hook("h", OBJECT_ACCOUNT, "object", custom_data={"type": "all", "action": "all"}))
    message = doc_update(expected["action"], encoded_db(OBJECT_ACCOUNT), "user", USER_ID)
    await object_hook.handle_event(message, ctx)
    assert ctx.only().payload == expected


@pytest.mark.parametrize(
    ("database", "doc_id", "account_id"),
    [
        (encoded_db(ACCOUNT), USER_ID, ACCOUNT),
        (encoded_db(ACCOUNT).replace("%2F", "%2f"), USER_ID, ACCOUNT),
        (f"account/{ACCOUNT[:2]}/{ACCOUNT[2:4]}/{ACCOUNT[4:]}", USER_ID, ACCOUNT),
        (f"{encoded_db(ACCOUNT)}-201905", "201905-abc", ACCOUNT),
        (f"account/{ACCOUNT[:2]}/{ACCOUNT[2:4]}/{ACCOUNT[4:]}-202001", "202001-abc", ACCOUNT),
        (ACCOUNT, USER_ID, ACCOUNT),
        ("accounts", ACCOUNT, ACCOUNT),
        ("webhooks", USER_ID, None),
        ("system_config", "webhooks", None),
        (f"{encoded_db(ACCOUNT)}-2019", USER_ID, None),
        ("account%2Fzz%2Fzz%2Fnot-an-account", USER_ID, None),
    ],
)
def test_find_account_id(database: str, doc_id: str, account_id: str | None) -> None:
    """Account and MODb databases (every encoding) name the account; `accounts` gives ID."""
    assert object_hook.find_account_id(database, doc_id) == account_id


async def test_account_doc_in_accounts_db_fires_for_that_account(ctx: RecordingContext) -> None:
    """An account doc edited in `accounts` fires the hooks of the account it is."""
    ctx.table.put(hook("h", ACCOUNT, "object"))
    await object_hook.handle_event(doc_update("doc_edited", "accounts", "account", ACCOUNT), ctx)
    assert ctx.only().payload == {
        "id": ACCOUNT,
        "account_id": ACCOUNT,
        "action": "doc_edited",
        "type": "account",
    }


async def test_other_databases_are_ignored(ctx: RecordingContext) -> None:
    """Changes in non-account databases fire nothing."""
    ctx.table.put(hook("h", MASTER, "all"))
    await object_hook.handle_event(doc_update("doc_edited", "webhooks", "webhook", USER_ID), ctx)
    await object_hook.handle_event(doc_update("doc_created", "system_config", None, "x"), ctx)
    assert ctx.fired == []


def _object_hook(custom_data: Any = ..., hook_event: str = "object") -> Any:
    doc = {} if custom_data is ... else {"custom_data": custom_data}
    return hook("h", ACCOUNT, hook_event, **doc)


@pytest.mark.parametrize(
    ("custom_data", "fires"),
    [
        # no custom_data: everything
        (..., True),
        (None, True),
        # the four clauses of match_action_type/4
        ({"action": "all", "type": "all"}, True),
        ({"action": "all", "type": "user"}, True),
        ({"action": "doc_edited", "type": "all"}, True),
        ({"action": "doc_edited", "type": "user"}, True),
        # mismatches
        ({"action": "doc_created", "type": "user"}, False),
        ({"action": "doc_edited", "type": "device"}, False),
        ({"action": "all", "type": "device"}, False),
        ({"action": "doc_deleted", "type": "all"}, False),
        # custom_data without action or type never fires
        ({}, False),
        ({"type": "all"}, False),
        ({"action": "all"}, False),
        ({"other": "x"}, False),
    ],
)
async def test_type_action_matching(ctx: RecordingContext, custom_data: Any, fires: bool) -> None:
    """kazoo-daemon §2.2: an object hook fires for a user edit only as its custom_data allows."""
    ctx.table.put(_object_hook(custom_data))
    await object_hook.handle_event(doc_update("doc_edited", encoded_db(ACCOUNT), "user", "u"), ctx)
    assert len(ctx.fired) == (1 if fires else 0)


async def test_all_hooks_bypass_the_type_action_filter(ctx: RecordingContext) -> None:
    """An `all` hook fires for object events whatever its custom_data says."""
    ctx.table.put(_object_hook({"action": "doc_deleted", "type": "device"}, hook_event="all"))
    await object_hook.handle_event(doc_update("doc_edited", encoded_db(ACCOUNT), "user", "u"), ctx)
    assert ctx.only().hook_ids == {"h"}


async def test_ancestors_and_all_hooks_reach_object(ctx: RecordingContext) -> None:
    """Sub-account changes reach ancestors' include_subaccounts hooks and the account's `all`."""
    ctx.table.put(hook("own-all", SUB, "all"))
    ctx.table.put(hook("parent-sub", ACCOUNT, "object", include_subaccounts=True))
    ctx.table.put(hook("parent-own", ACCOUNT, "object"))
    ctx.table.put(hook("reseller-sub", RESELLER, "all", include_subaccounts=True))
    ctx.table.put(hook("other-sub", OTHER, "object", include_subaccounts=True))
    await object_hook.handle_event(doc_update("doc_created", encoded_db(SUB), "device", "d"), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"own-all", "parent-sub", "reseller-sub"}
    assert fired.payload["account_id"] == SUB


@pytest.mark.parametrize(
    "body",
    [
        {
            "Event-Category": "configuration",
            "Event-Name": "doc_type_update",
            "Type": "webhook",
            "Action": "account",
            "Account-ID": ACCOUNT,
        },
        {"Event-Category": "configuration", "Event-Name": "db_created", "ID": "x", "Database": "x"},
        {**ENVELOPE, "Event-Category": "configuration", "Event-Name": "doc_edited", "ID": ACCOUNT},
        {
            **ENVELOPE,
            "Event-Category": "configuration",
            "Event-Name": "doc_edited",
            "Database": "accounts",
        },
    ],
)
async def test_non_doc_updates_are_ignored(ctx: RecordingContext, body: dict[str, Any]) -> None:
    """doc_type_update, db_* and doc_updates lacking ID/Database fire nothing and raise nothing."""
    ctx.table.put(hook("h", ACCOUNT, "all"))
    ctx.table.put(hook("o", ACCOUNT, "object"))
    await object_hook.handle_event(event("configuration", "configuration.x", body), ctx)
    assert ctx.fired == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ID": {}, "Database": "accounts"}, "ID is an object, not a string"),
        ({"ID": ACCOUNT, "Database": 5}, "Database is a number, not a string"),
        ({"ID": ACCOUNT, "Database": "accounts", "Type": ["user"]}, "Type is a list"),
    ],
)
async def test_wrongly_typed_doc_update_is_malformed(
    ctx: RecordingContext, fields: dict[str, Any], reason: str
) -> None:
    """ID, Database and Type of the wrong type are MalformedMessage naming the field."""
    ctx.table.put(hook("o", ACCOUNT, "object"))
    body = {**ENVELOPE, "Event-Category": "configuration", "Event-Name": "doc_edited", **fields}
    with pytest.raises(MalformedMessage, match=reason):
        await object_hook.handle_event(event("configuration", "configuration.x", body), ctx)
    assert ctx.fired == []


async def test_db_events_on_account_databases_are_not_object_changes(
    ctx: RecordingContext,
) -> None:
    """A db_created for an account database does not fire, not even unfiltered hooks."""
    ctx.table.put(hook("o", ACCOUNT, "object"))
    db = encoded_db(ACCOUNT)
    await object_hook.handle_event(doc_update("db_created", db, "database", db), ctx)
    assert ctx.fired == []


async def test_missing_type_is_absent_from_the_payload(ctx: RecordingContext) -> None:
    """A change without Type gives a payload without `type` and matches only type "all"."""
    ctx.table.put(hook("typed", ACCOUNT, "object", custom_data={"action": "all", "type": "user"}))
    ctx.table.put(hook("any", ACCOUNT, "object", custom_data={"action": "all", "type": "all"}))
    await object_hook.handle_event(doc_update("doc_deleted", encoded_db(ACCOUNT), None, "x"), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"any"}
    assert fired.payload == {"id": "x", "account_id": ACCOUNT, "action": "doc_deleted"}
