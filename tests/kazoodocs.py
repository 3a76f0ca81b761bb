"""Kazoo-shaped documents for tests, as Kazoo's Crossbar saves them in CouchDB: hooks, and
accounts as Kazoo's fixture database has them (``tests/fixtures/kazoo/``, copied from Kazoo's
``core/kazoo_fixturedb/priv/dbs/accounts``) with a three-deep tree (master → reseller →
customer) built in the same shape."""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

from webhooksd.kazoo.timeutil import unix_to_gregorian

CREATED = unix_to_gregorian(1_700_000_000)


def kazoo_hook(n: int, account_id: str, **fields: Any) -> dict[str, Any]:
    """A hook document as Kazoo's Crossbar saves it in the ``webhooks`` database."""
    return {
        "_id": f"{n:032x}",
        "name": f"hook {n}",
        "uri": f"https://receiver.example/{n}",
        "hook": "channel_create",
        "http_verb": "post",
        "retries": 2,
        "enabled": True,
        "custom_data": {"n": str(n)},
        "pvt_type": "webhook",
        "pvt_account_id": account_id,
        "pvt_account_db": "webhooks",
        "pvt_created": CREATED,
        "pvt_modified": CREATED,
        "pvt_vsn": "1",
        **fields,
    }


FIXTURES = Path(__file__).parent / "fixtures" / "kazoo"

MASTER_ID = "account0000000000000000000000001"
RESELLER_ID = "account0000000000000000000000002"
CUSTOMER_ID = "account0000000000000000000000003"


def fixture(name: str) -> dict[str, Any]:
    """One of Kazoo's fixture documents (``account000…0002``, ``system_config.accounts``)."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def account_doc(
    account_id: str,
    name: str,
    tree: list[str],
    *,
    reseller: bool = False,
    api_key: str | None = None,
    enabled: bool = True,
) -> dict[str, Any]:
    """A Kazoo account document shaped like the fixture's (``_rev`` left to CouchDB)."""
    doc = copy.deepcopy(fixture(RESELLER_ID))
    doc.pop("_rev")
    for key in ("is_reseller", "pvt_reseller"):
        doc.pop(key, None)
    db = f"account%2F{account_id[:2]}%2F{account_id[2:4]}%2F{account_id[4:]}"
    doc.update(
        {
            "_id": account_id,
            "name": name,
            "realm": f"{name.lower().replace(' ', '-')}.sip.example.com",
            "pvt_account_id": account_id,
            "pvt_account_db": db,
            "pvt_tree": list(tree),
            "pvt_api_key": api_key or secrets.token_hex(32),
            "pvt_enabled": enabled,
            "enabled": enabled,
        }
    )
    if tree:
        doc["pvt_reseller_id"] = tree[-1]
    else:
        doc.pop("pvt_reseller_id", None)
    if reseller:
        doc["pvt_reseller"] = True
        doc["is_reseller"] = True
    return doc


def master_config(master_id: str = MASTER_ID) -> dict[str, Any]:
    """``system_config/accounts`` naming ``master_id`` as the master account."""
    doc = fixture("system_config.accounts")
    doc.pop("_rev")
    doc["default"]["master_account_id"] = master_id
    return doc


def kazoo_tree() -> list[dict[str, Any]]:
    """master → reseller → customer, with distinct API keys."""
    return [
        account_doc(MASTER_ID, "Master", [], reseller=True),
        account_doc(RESELLER_ID, "Reseller", [MASTER_ID], reseller=True),
        account_doc(CUSTOMER_ID, "Customer", [MASTER_ID, RESELLER_ID]),
    ]
