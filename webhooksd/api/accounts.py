"""Accounts, as much as hooks need (Kazoo ``cb_accounts``, ``cb_search``): create a
sub-account, fetch, replace, patch, delete, children, descendants and search.

A new account's API key is returned once, in ``data.api_key`` (Kazoo shows admins the
account doc's ``pvt_api_key``). Deleting an account deletes its hooks everywhere: each
instance hears a ``doc_deleted`` per hook and one for the account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson
import structlog

from webhooksd.accounts import create_account, master_account_id
from webhooksd.errors import Conflict, RealmTaken
from webhooksd.kazoo.docchanges import DocAction, publish_account_change, publish_hook_change
from webhooksd.kazoo.ids import is_account_id
from webhooksd.records import Account

from .deps import ACCOUNTS
from .envelope import Refusal, Reply, forbidden, list_revision, validation_error
from .paging import page_request, page_sorted
from .request import Call

log = structlog.get_logger(__name__)

#: account fields kept on the record itself rather than in its free-form doc
_RECORD_FIELDS = ("id", "name", "realm", "enabled")


def account_doc(account: Account) -> dict[str, Any]:
    """The account's public document (``pvt_*`` fields, such as a mirrored account's Kazoo
    revision, are never shown, as Crossbar's ``kz_doc:public_fields/1``)."""
    doc: dict[str, Any] = {
        **{k: v for k, v in account.doc.items() if not k.startswith("pvt_")},
        "id": account.id,
        "name": account.name,
        "enabled": account.enabled,
    }
    if account.realm is not None:
        doc["realm"] = account.realm
    return doc


def _revision(account: Account) -> str:
    digest = hashlib.md5(
        orjson.dumps(account_doc(account), option=orjson.OPT_SORT_KEYS), usedforsecurity=False
    ).hexdigest()
    return f"{account.revision}-{digest}"


def _type_error(key: str, expected: str, value: Any) -> dict[str, Any]:
    return {
        key: {
            "type": {
                "message": f"Value did not match type(s): {expected}",
                "target": expected,
                "value": value,
            }
        }
    }


def _check_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Kazoo's ``accounts.json`` essentials: a non-empty ``name``, a string ``realm``."""
    errors: dict[str, Any] = {}
    name = data.get("name")
    if name is None:
        errors["name"] = {"required": {"message": "Field is required but missing", "value": "name"}}
    elif not isinstance(name, str):
        errors.update(_type_error("name", "string", name))
    elif not name.strip():
        errors["name"] = {
            "minLength": {
                "message": "String must be at least 1 characters",
                "target": 1,
                "value": name,
            }
        }
    realm = data.get("realm")
    if realm is not None and not isinstance(realm, str):
        errors.update(_type_error("realm", "string", realm))
    enabled = data.get("enabled", True)
    if isinstance(enabled, str) and enabled.lower() in ("true", "false"):
        enabled = enabled.lower() == "true"
    if not isinstance(enabled, bool):
        errors.update(_type_error("enabled", "boolean", enabled))
    if errors:
        raise validation_error(errors)
    return {**data, "enabled": enabled}


def _free_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _RECORD_FIELDS}


#: what an outside account id must look like (webhooksd.kazoo.ids.is_account_id)
_ID_PATTERN = "^[0-9a-z]{32}$"


def _realm_taken(realm: Any) -> Refusal:
    """Kazoo's cb_accounts refuses a realm another account has (400 ``unique``)."""
    unique = {"message": "Account realm already in use", "cause": realm}
    return validation_error({"realm": {"unique": unique}})


def _refuse_if_mirrored(call: Call) -> None:
    """Beside Kazoo (``kazoo_couch_url`` set) the accounts are Kazoo's: the mirror would undo
    a write of what Kazoo owns at its next change, so such writes are refused, not lost."""
    if call.deps.settings.kazoo_couch_url:
        raise Refusal(
            403,
            "forbidden",
            {
                "cause": "kazoo_accounts",
                "message": "accounts are managed by Kazoo: change them through Kazoo's Crossbar;"
                " webhooksd mirrors them from Kazoo's accounts database",
            },
        )


def _outside_id(data: Mapping[str, Any]) -> str | None:
    """``data.id`` on create: a Kazoo account id to keep (else None: a new id is minted)."""
    account_id = data.get("id")
    if account_id is None:
        return None
    if not isinstance(account_id, str):
        raise validation_error(_type_error("id", "string", account_id))
    if not is_account_id(account_id):
        pattern = {
            "message": f"Failed to match pattern '{_ID_PATTERN}'",
            "target": _ID_PATTERN,
            "value": account_id,
        }
        raise validation_error({"id": {"pattern": pattern}})
    return account_id


async def _announce(call: Call, action: DocAction, account_id: str) -> None:
    # this instance forgets at once; the others when the notice reaches their config listener
    call.request.app[ACCOUNTS].forget(account_id)
    await publish_account_change(
        call.deps.bus, action, account_id=account_id, node=call.deps.settings.node
    )


async def get_account(call: Call) -> Reply:
    """``GET /accounts/{A}``."""
    return Reply(data=account_doc(call.url_account), revision=_revision(call.url_account))


async def create_sub_account(call: Call) -> Reply:
    """``PUT /accounts/{PARENT}``: 201 with the new account, including its ``api_key``.
    A ``data.id`` (a Kazoo account id) is kept; an id that exists is 409."""
    _refuse_if_mirrored(call)
    data = _check_fields(call.data_object)
    account_id = _outside_id(data)
    try:
        account, api_key = await create_account(
            call.deps.store,
            name=data["name"],
            account_id=account_id,
            parent_id=call.account_id,
            realm=data.get("realm"),
            doc=_free_fields(data),
        )
    except RealmTaken:
        raise _realm_taken(data.get("realm")) from None
    except Conflict:
        raise Refusal(409, "datastore_conflict", {"message": "conflicting documents"}) from None
    if not data["enabled"]:
        account = await call.deps.store.update_account(replace(account, enabled=False))
    await _announce(call, "doc_created", account.id)
    log.info("account created", account_id=account.id, parent_id=call.account_id)
    return Reply(
        data={**account_doc(account), "api_key": api_key},
        status=201,
        revision=_revision(account),
        location=f"/v2/accounts/{account.id}",
    )


async def _save(call: Call, data: Mapping[str, Any]) -> Reply:
    checked = _check_fields(data)
    stored = call.url_account
    if (checked["name"], checked.get("realm"), checked["enabled"]) != (
        stored.name,
        stored.realm,
        stored.enabled,
    ):
        # beside Kazoo these are Kazoo's; other fields (MonsterUI's ui_flags) may be saved,
        # until Kazoo's next change of the account replaces the document
        _refuse_if_mirrored(call)
    if checked["enabled"] != stored.enabled and (
        call.identity is None or call.identity.account.id == stored.id
    ):
        # only an ancestor switches an account on or off: a disabled account's token no
        # longer authenticates, and an enabled one may not lock itself (or the master) out
        raise forbidden()
    changed = replace(
        stored,
        name=checked["name"],
        realm=checked.get("realm"),
        enabled=checked["enabled"],
        # a client never sends the private fields: keep them (a mirrored account's revision)
        doc={
            **{k: v for k, v in stored.doc.items() if k.startswith("pvt_")},
            **{k: v for k, v in _free_fields(checked).items() if not k.startswith("pvt_")},
        },
    )
    try:
        saved = await call.deps.store.update_account(changed)
    except RealmTaken:
        raise _realm_taken(data.get("realm")) from None
    except Conflict:
        raise Refusal(409, "datastore_conflict", {"message": "conflicting documents"}) from None
    await _announce(call, "doc_edited", saved.id)
    return Reply(data=account_doc(saved), revision=_revision(saved))


async def replace_account(call: Call) -> Reply:
    """``POST /accounts/{A}``: a full replace of the public fields."""
    return await _save(call, call.data_object)


async def patch_account(call: Call) -> Reply:
    """``PATCH /accounts/{A}``: a shallow merge (``null`` deletes a key)."""
    merged = account_doc(call.url_account)
    for key, value in call.data_object.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return await _save(call, merged)


async def delete_account(call: Call) -> Reply:
    """``DELETE /accounts/{A}``: the account and its hooks, announced to every instance."""
    _refuse_if_mirrored(call)
    account = call.url_account
    store = call.deps.store
    if account.id == await master_account_id(store):
        raise forbidden()
    if await store.list_children(account.id):
        raise Refusal(400, "account_has_descendants", {"message": "account has descendants"})
    hooks = await store.list_hooks(account.id)
    await store.delete_account(account.id)
    for hook in hooks:
        await publish_hook_change(
            call.deps.bus,
            "doc_deleted",
            hook_id=hook.id,
            account_id=account.id,
            node=call.deps.settings.node,
        )
    await _announce(call, "doc_deleted", account.id)
    log.info("account deleted", account_id=account.id, hooks=len(hooks))
    return Reply(data={**account_doc(account), "_read_only": {"deleted": True}})


def _listing(call: Call, accounts: list[Account]) -> Reply:
    page, paging = page_sorted(accounts, lambda a: a.id, page_request(call))
    # ours, additive: ``tree`` (``pvt_tree``, ancestors root first), so a picker can nest
    items = [
        {
            "id": a.id,
            "name": a.name,
            "tree": list(a.tree),
            **({"realm": a.realm} if a.realm else {}),
        }
        for a in page
    ]
    return Reply(
        data=items, page_size=paging is not None, paging=paging, revision=list_revision(items)
    )


async def list_children(call: Call) -> Reply:
    """``GET /accounts/{A}/children``."""
    return _listing(call, await call.deps.store.list_children(call.account_id))


async def list_descendants(call: Call) -> Reply:
    """``GET /accounts/{A}/descendants``."""
    return _listing(call, await call.deps.store.list_descendants(call.account_id))


async def search(call: Call) -> Reply:
    """``GET /accounts/{A}/search?t=account&q=name&v=…``: descendants whose field starts
    with the value (what pqc's clean-up uses)."""
    kind, field, value = call.param("t"), call.param("q"), call.param("v")
    if kind != "account":
        enum = {
            "message": "Value not found in enumerated list of values",
            "target": ["account"],
            "value": kind,
        }
        raise validation_error({"t": {"enum": enum}})
    if field not in ("name", "realm", "id") or not isinstance(value, str):
        raise validation_error(
            {
                "q": {
                    "enum": {
                        "message": "Value not found in enumerated list of values",
                        "target": ["id", "name", "realm"],
                        "value": field,
                    }
                }
            }
        )
    found = [
        a
        for a in await call.deps.store.list_descendants(call.account_id)
        if str(getattr(a, field) or "").lower().startswith(value.lower())
    ]
    return _listing(call, found)
