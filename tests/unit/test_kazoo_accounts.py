"""Kazoo account documents → webhooksd accounts (webhooksd.kazoo.accounts)."""

from __future__ import annotations

from tests.kazoodocs import CUSTOMER_ID, MASTER_ID, RESELLER_ID, account_doc, fixture
from webhooksd.accounts import hash_api_key
from webhooksd.kazoo import accounts as kazoo


def test_kazoo_fixture_documents_map() -> None:
    """Kazoo's own fixture accounts: id, tree (parent last), realm, reseller, enabled, the
    key hashed, the revision number, public fields kept and private ones dropped."""
    reseller = kazoo.from_kazoo(fixture(RESELLER_ID))
    customer = kazoo.from_kazoo(fixture(CUSTOMER_ID))
    assert reseller is not None and customer is not None
    r, c = reseller.account, customer.account
    assert (r.id, r.name, r.parent_id, r.tree) == (
        RESELLER_ID,
        "Sub Account",
        MASTER_ID,
        (MASTER_ID,),
    )
    assert (c.parent_id, c.tree) == (RESELLER_ID, (MASTER_ID, RESELLER_ID))
    assert (r.is_reseller, c.is_reseller) == (True, False)
    assert r.enabled and c.enabled
    assert r.realm == "3237c8.sip.2600hz.local"
    assert r.revision == 743
    assert r.created_ms == (63636183145 - 62167219200) * 1000
    key = "apikey0000000000000000000000000000000000000000000000000000000001"
    assert reseller.api_key_hash == customer.api_key_hash == hash_api_key(key)
    assert r.doc["timezone"] == "America/Los_Angeles"
    assert [k for k in r.doc if k.startswith(("pvt_", "_"))] == ["pvt_kazoo_rev"]
    assert r.doc["pvt_kazoo_rev"] == "743-4867d4561fb4bdde734e8e5539a89155"


def test_enabled_as_kazoo_decides() -> None:
    """kzd_accounts:is_enabled/1: pvt_enabled alone decides; absent means enabled."""

    def enabled(**fields: object) -> bool:
        doc = {**account_doc(CUSTOMER_ID, "c", [MASTER_ID]), **fields}
        if doc["pvt_enabled"] == "absent":
            del doc["pvt_enabled"]
        mapped = kazoo.from_kazoo(doc)
        assert mapped is not None
        return mapped.account.enabled

    assert enabled(pvt_enabled=False) is False
    assert enabled(pvt_enabled="false") is False
    assert enabled(pvt_enabled="true") is True
    assert enabled(pvt_enabled="absent", enabled=False) is True


def test_what_is_not_an_account() -> None:
    """Design documents, other pvt_types and ids webhooksd cannot take map to nothing;
    deletions (CouchDB's or Kazoo's soft delete) are recognised."""
    doc = account_doc(CUSTOMER_ID, "c", [MASTER_ID])
    assert kazoo.from_kazoo({**doc, "_id": "_design/accounts"}) is None
    assert kazoo.from_kazoo({**doc, "pvt_type": "user"}) is None
    assert kazoo.from_kazoo({**doc, "_id": "Not/An/Account/Id"}) is None
    assert kazoo.is_deleted({"_id": CUSTOMER_ID, "_deleted": True})
    assert kazoo.is_deleted({**doc, "pvt_deleted": True})
    assert not kazoo.is_deleted(doc)


def test_master_from_system_config() -> None:
    assert kazoo.master_account_id(fixture("system_config.accounts")) == MASTER_ID
    assert kazoo.master_account_id({"default": {}}) is None
    assert kazoo.master_account_id(None) is None
