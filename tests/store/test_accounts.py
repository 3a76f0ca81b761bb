"""Conformance: accounts, their ancestry and their API keys, on every backend."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from webhooksd.errors import Conflict, NotFound, RealmTaken
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import Account
from webhooksd.store import Store

from .factories import account, attempt, hook


async def test_create_and_get_round_trip(store: Store) -> None:
    """Every field of a created account comes back as stored, with revision 1 and times set."""
    before = now_ms()
    doc = {"timezone": "Europe/Paris", "nested": {"ü": [1, 2.5, None, True]}}
    given = account("a1", "r0", "p0", realm="a1.sip.example", is_reseller=True, doc=doc)
    created = await store.create_account(given)
    assert created.revision == 1
    assert before <= created.created_ms == created.modified_ms <= now_ms()
    fetched = await store.get_account("a1")
    assert fetched == created
    assert fetched is not None
    assert fetched.tree == ("r0", "p0")
    assert fetched.parent_id == "p0"
    assert fetched.doc == doc
    assert fetched.is_reseller is True
    assert fetched.enabled is True


async def test_create_keeps_given_times(store: Store) -> None:
    """An imported account keeps the creation time it came with."""
    created = await store.create_account(account("a1", created_ms=1000, revision=7))
    assert (created.created_ms, created.modified_ms, created.revision) == (1000, 1000, 1)
    assert await store.get_account("a1") == created


async def test_get_missing_is_none(store: Store) -> None:
    """An unknown id reads as None, not an error."""
    assert await store.get_account("nope") is None


async def test_duplicate_id_conflicts(store: Store) -> None:
    """Creating an id twice is a Conflict and leaves the first account untouched."""
    first = await store.create_account(account("a1", name="first"))
    with pytest.raises(Conflict):
        await store.create_account(account("a1", name="second"))
    assert await store.get_account("a1") == first


async def test_update_increments_revision(store: Store) -> None:
    """An update with the read revision stores the record at revision+1 with a new mtime."""
    created = await store.create_account(account("a1", created_ms=1000))
    changed = replace(created, name="renamed", enabled=False, doc={"k": "v"}, created_ms=5)
    updated = await store.update_account(changed)
    assert updated.revision == 2
    assert updated.created_ms == 1000
    assert updated.modified_ms >= created.modified_ms
    assert (updated.name, updated.enabled, updated.doc) == ("renamed", False, {"k": "v"})
    assert await store.get_account("a1") == updated


async def test_update_stale_revision_conflicts(store: Store) -> None:
    """An update carrying an old revision is a Conflict and changes nothing."""
    created = await store.create_account(account("a1"))
    updated = await store.update_account(replace(created, name="one"))
    with pytest.raises(Conflict):
        await store.update_account(replace(created, name="two"))
    assert await store.get_account("a1") == updated


async def test_update_missing_is_not_found(store: Store) -> None:
    """Updating an account that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        await store.update_account(account("ghost"))


async def test_list_accounts_children_descendants(store: Store) -> None:
    """Listings are ordered by id; children are direct, descendants the whole subtree."""
    for acc in (
        account("r"),
        account("c2", "r"),
        account("c1", "r"),
        account("g1", "r", "c1"),
        account("gg", "r", "c1", "g1"),
        account("other"),
    ):
        await store.create_account(acc)
    assert [a.id for a in await store.list_accounts()] == ["c1", "c2", "g1", "gg", "other", "r"]
    assert [a.id for a in await store.list_children("r")] == ["c1", "c2"]
    assert [a.id for a in await store.list_descendants("r")] == ["c1", "c2", "g1", "gg"]
    assert [a.id for a in await store.list_descendants("c1")] == ["g1", "gg"]
    assert await store.list_descendants("gg") == []
    assert await store.list_children("nope") == []


async def test_descendants_exclude_self_in_tree(store: Store) -> None:
    """An account whose tree names itself is still not its own descendant."""
    await store.create_account(account("a1", "a1"))
    assert await store.list_descendants("a1") == []


async def test_update_moves_descendants(store: Store) -> None:
    """Re-parenting an account rewrites its ancestry, so descendant reads follow it."""
    await store.create_account(account("r1"))
    await store.create_account(account("r2"))
    moved = await store.create_account(account("a", "r1"))
    await store.update_account(replace(moved, parent_id="r2", tree=("r2",)))
    assert await store.list_descendants("r1") == []
    assert [a.id for a in await store.list_descendants("r2")] == ["a"]
    assert [a.id for a in await store.list_children("r2")] == ["a"]


async def test_api_key_lookup_and_replace(store: Store) -> None:
    """The key given at creation finds the account; set_api_key replaces it."""
    created = await store.create_account(account("a1"), api_key_hash="hash-1")
    assert await store.account_by_api_key("hash-1") == created
    await store.set_api_key("a1", "hash-2")
    assert await store.account_by_api_key("hash-1") is None
    assert await store.account_by_api_key("hash-2") == created
    await store.set_api_key("a1", "hash-2")  # setting the same key again is harmless
    assert await store.account_by_api_key("hash-2") == created
    assert await store.account_by_api_key("unknown") is None


async def test_api_key_of_another_account_conflicts(store: Store) -> None:
    """A key hash belongs to one account: reusing it is a Conflict and writes nothing."""
    await store.create_account(account("a1"), api_key_hash="shared")
    await store.create_account(account("a2"), api_key_hash="own")
    with pytest.raises(Conflict):
        await store.set_api_key("a2", "shared")
    assert (await store.account_by_api_key("own") or account("x")).id == "a2"
    with pytest.raises(Conflict):
        await store.create_account(account("a3", "a1"), api_key_hash="shared")
    assert await store.get_account("a3") is None
    assert await store.list_descendants("a1") == []


async def test_set_api_key_of_missing_account(store: Store) -> None:
    """A key cannot be set for an account that does not exist."""
    with pytest.raises(NotFound):
        await store.set_api_key("ghost", "hash")
    assert await store.account_by_api_key("hash") is None


async def test_delete_account_removes_what_it_owns(store: Store) -> None:
    """Deleting an account removes it, its key, settings, hooks and ancestry, not attempts."""
    await store.create_account(account("r"))
    await store.create_account(account("a", "r"), api_key_hash="key-a")
    await store.create_account(account("b", "r"), api_key_hash="key-b")
    for owner in ("a", "b"):
        await store.create_hook(hook(f"h-{owner}", owner))
        await store.set_setting(owner, "expiry", 60)
        await store.add_attempts([attempt(owner, f"h-{owner}", 1000, attempt_id=f"t-{owner}")])

    assert await store.delete_account("a") is True

    assert await store.get_account("a") is None
    assert await store.account_by_api_key("key-a") is None
    assert await store.get_settings("a") == {}
    assert await store.list_hooks("a") == []
    assert await store.get_hook("h-a") is None
    assert [x.id for x in await store.list_descendants("r")] == ["b"]
    assert await store.get_attempt("t-a") is not None
    # the sibling keeps everything
    assert (await store.account_by_api_key("key-b") or account("x")).id == "b"
    assert await store.get_settings("b") == {"expiry": 60}
    assert [h.id for h in await store.list_hooks("b")] == ["h-b"]
    assert await store.delete_account("a") is False


def kazoo(account_id: str, rev: str, *ancestors: str, **fields: Any) -> Account:
    """An account as the Kazoo mirror hands it over: Kazoo's ``_rev`` in ``pvt_kazoo_rev``."""
    doc = {"pvt_kazoo_rev": rev, **fields.pop("doc", {})}
    return account(account_id, *ancestors, doc=doc, revision=int(rev.split("-")[0]), **fields)


async def test_mirrored_account_upsert_by_revision(store: Store) -> None:
    """An account copied from outside is inserted, replaced by the same or a newer Kazoo
    revision, and left alone by an older one (so a lagging second mirror cannot move it
    back), also after a local edit moved its own revision on; the local revision counts
    every write."""
    first = kazoo("k1", "3-a", "r0", name="one", realm="one.sip", created_ms=5)
    assert await store.put_mirrored_accounts([(first, "key-1")]) == ["k1"]
    stored = await store.get_account("k1")
    assert stored is not None
    assert (stored.name, stored.created_ms, stored.tree) == ("one", 5, ("r0",))
    assert await store.account_by_api_key("key-1") == stored
    assert [a.id for a in await store.list_descendants("r0")] == ["k1"]
    for _ in range(3):  # local edits (MonsterUI's ui_flags) move the local revision on
        stored = await store.update_account(replace(stored, doc={**stored.doc, "ui": 1}))
    newer = replace(
        kazoo("k1", "4-b", "r1", name="two"), enabled=False, created_ms=5, parent_id="r1"
    )
    assert await store.put_mirrored_accounts([(newer, None)]) == ["k1"]
    assert await store.account_by_api_key("key-1") is None
    assert await store.list_descendants("r0") == []
    assert [a.id for a in await store.list_descendants("r1")] == ["k1"]
    after = await store.get_account("k1")
    assert after is not None and after.revision == stored.revision + 1
    older = kazoo("k1", "2-c", name="stale")
    assert await store.put_mirrored_accounts([(older, "key-old")]) == []
    after = await store.get_account("k1")
    assert after is not None and (after.name, after.enabled) == ("two", False)
    assert await store.account_by_api_key("key-old") is None
    # the same Kazoo revision again is written; a copy over an account without one is too;
    # in one batch with a stale copy of another account
    plain = await store.create_account(account("k9"))
    assert await store.put_mirrored_accounts([(kazoo(plain.id, "2-d"), None)]) == ["k9"]
    stale = kazoo("k9", "1-e")
    assert await store.put_mirrored_accounts([(newer, "key-2"), (stale, "x")]) == ["k1"]
    assert (await store.account_by_api_key("key-2") or account("x")).id == "k1"


async def test_mirrored_accounts_may_share_a_key(store: Store) -> None:
    """Kazoo accounts sharing one API key are all stored; the key finds the lowest id, and
    the next one when that account goes."""
    batch = [(kazoo(account_id, "1-a"), "shared") for account_id in ("k3", "k2", "k4")]
    assert await store.put_mirrored_accounts(batch) == ["k3", "k2", "k4"]
    assert (await store.account_by_api_key("shared") or account("x")).id == "k2"
    await store.delete_account("k2")
    assert (await store.account_by_api_key("shared") or account("x")).id == "k3"
    assert await store.count_accounts() == 2


async def test_realms_are_unique_case_insensitively(store: Store) -> None:
    """A realm names one account whatever its case: creating or renaming another account to
    it is RealmTaken; an account may keep its own, and a freed realm can be taken. A
    mirrored Kazoo account whose realm another holds is stored without it (the first keeps
    it), also within one batch."""
    await store.create_account(account("a1", realm="Sip.Example.com"))
    with pytest.raises(RealmTaken):
        await store.create_account(account("a2", realm="sip.example.COM"))
    other = await store.create_account(account("a3", realm="other.example.com"))
    with pytest.raises(RealmTaken):
        await store.update_account(replace(other, realm="SIP.example.com"))
    kept = await store.update_account(replace(other, name="renamed"))
    assert kept.realm == "other.example.com"
    freed = await store.update_account(replace(kept, realm=None))
    assert (await store.update_account(replace(freed, realm="other.example.com"))).realm
    await store.create_account(account("e1", realm=""))
    await store.create_account(account("e2", realm=""))  # an empty realm names nothing
    written = await store.put_mirrored_accounts(
        [
            (kazoo("k1", "1-a", realm="SIP.EXAMPLE.COM"), None),
            (kazoo("k2", "1-a", realm="kazoo.example.com"), None),
            (kazoo("k3", "1-a", realm="Kazoo.example.com"), None),
        ]
    )
    assert written == ["k1", "k2", "k3"]
    realms = {a.id: a.realm for a in await store.list_accounts()}
    assert (realms["a1"], realms["k1"]) == ("Sip.Example.com", None)
    assert (realms["k2"], realms["k3"]) == ("kazoo.example.com", None)
    again = kazoo("k2", "2-b", realm="kazoo.example.com", name="again")
    assert await store.put_mirrored_accounts([(again, None)]) == ["k2"]
    assert (await store.get_account("k2") or account("x")).realm == "kazoo.example.com"
