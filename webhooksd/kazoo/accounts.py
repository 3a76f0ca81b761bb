"""Kazoo's account documents (the ``accounts`` database) as webhooksd accounts.

Only what hooks and Crossbar's auth need is taken: the id, ``name``, ``realm``, ``pvt_tree``
(ancestors root first, the last the parent), whether the account is enabled (Kazoo's
``kzd_accounts:is_enabled/1`` reads ``pvt_enabled`` alone, absent meaning enabled), whether it
is a reseller (``pvt_reseller`` or ``is_reseller``) and its API key, kept only as a hash. The
other public fields go into ``doc`` as Crossbar would show them; ``pvt_*`` and ``_*`` fields
are dropped, except Kazoo's ``_rev``, kept as the private ``pvt_kazoo_rev`` (as imported hooks
keep theirs): its number is what makes mirroring an idempotent upsert
(:meth:`webhooksd.store.Store.put_mirrored_accounts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhooksd.accounts import hash_api_key
from webhooksd.kazoo.docchanges import ACCOUNTS_DB
from webhooksd.kazoo.ids import is_account_id
from webhooksd.kazoo.timeutil import gregorian_to_unix
from webhooksd.records import Account

__all__ = ["ACCOUNTS_DB", "KazooAccount", "from_kazoo", "is_deleted", "master_account_id"]

#: the private field keeping the Kazoo ``_rev`` a record was copied from, as imported hooks
#: do (``webhooksd.kazoo.import_hooks.KAZOO_REV``; not imported: that pulls in the whole API)
KAZOO_REV = "pvt_kazoo_rev"

#: where Kazoo names its master account
SYSTEM_CONFIG_DB = "system_config"
ACCOUNTS_CONFIG_DOC = "accounts"


@dataclass(frozen=True, slots=True)
class KazooAccount:
    """One account document, mapped: the record and its API key's hash (None: no key)."""

    account: Account
    api_key_hash: str | None


def is_deleted(doc: Mapping[str, Any]) -> bool:
    """Deleted in CouchDB (``_deleted``) or soft-deleted by Kazoo (``pvt_deleted``)."""
    return doc.get("_deleted") is True or _is_true(doc.get("pvt_deleted"), default=False)


def is_account(doc: Mapping[str, Any]) -> bool:
    """An account document (not a design document, not another ``pvt_type``)."""
    doc_id = doc.get("_id")
    return (
        isinstance(doc_id, str)
        and not doc_id.startswith("_design/")
        and doc.get("pvt_type") == "account"
    )


def from_kazoo(doc: Mapping[str, Any]) -> KazooAccount | None:
    """The account a live document describes, or None for what is not an account of ours
    (another type, a design document, an id webhooksd cannot take). Deleted documents are the
    caller's to handle (:func:`is_deleted`) before this."""
    if not is_account(doc):
        return None
    account_id = str(doc["_id"])
    if not is_account_id(account_id):
        return None
    raw_tree = doc.get("pvt_tree")
    tree = tuple(a for a in raw_tree if isinstance(a, str)) if isinstance(raw_tree, list) else ()
    name = doc.get("name")
    realm = doc.get("realm")
    key = doc.get("pvt_api_key")
    account = Account(
        id=account_id,
        name=name if isinstance(name, str) and name else account_id,
        parent_id=tree[-1] if tree else None,
        tree=tree,
        realm=realm if isinstance(realm, str) and realm else None,
        is_reseller=_is_true(doc.get("pvt_reseller"), default=False)
        or _is_true(doc.get("is_reseller"), default=False),
        enabled=_is_true(doc.get("pvt_enabled"), default=True),
        doc={
            **{
                k: v
                for k, v in doc.items()
                if not k.startswith(("_", "pvt_")) and k not in ("id", "name", "realm", "enabled")
            },
            KAZOO_REV: str(doc.get("_rev", "")),
        },
        created_ms=_ms(doc.get("pvt_created")),
        modified_ms=_ms(doc.get("pvt_modified")),
        revision=revision_number(doc.get("_rev")),
    )
    hashed = hash_api_key(key) if isinstance(key, str) and key else None
    return KazooAccount(account, hashed)


def master_account_id(config_doc: Mapping[str, Any] | None) -> str | None:
    """``default.master_account_id`` of ``system_config/accounts``, where Kazoo keeps it."""
    default = (config_doc or {}).get("default")
    master = default.get("master_account_id") if isinstance(default, Mapping) else None
    return master if is_account_id(master) else None


def revision_number(rev: object) -> int:
    """The generation of a CouchDB ``_rev`` (``743-4867d4…`` → 743); 0 when there is none."""
    if not isinstance(rev, str):
        return 0
    head = rev.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _is_true(value: object, *, default: bool) -> bool:
    # kz_json:is_true/3: absent is the default; present, only true (or "true") is true
    if value is None:
        return default
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _ms(gregorian: object) -> int:
    if isinstance(gregorian, bool) or not isinstance(gregorian, int) or gregorian <= 0:
        return 0
    return max(0, gregorian_to_unix(gregorian) * 1000)
