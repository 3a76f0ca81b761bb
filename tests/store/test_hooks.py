"""Conformance: hook documents, on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from webhooksd.errors import Conflict, NotFound
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import AUTO_DISABLE_REASON, HookDoc
from webhooksd.store import Store

from .factories import hook


def ids(hooks: list[HookDoc]) -> list[str]:
    """Hook ids in id order (list_all_hooks promises no order)."""
    return sorted(h.id for h in hooks)


async def test_create_and_get_round_trip(store: Store) -> None:
    """A created hook reads back equal, at revision 1 with its times set."""
    before = now_ms()
    given = hook("h1", "a1", custom_data={"tag": "é", "n": [1, {"x": None}]}, retries=4)
    created = await store.create_hook(replace(given, revision=9))
    assert created.revision == 1
    assert before <= created.created_ms == created.modified_ms <= now_ms()
    assert created.doc == given.doc
    assert await store.get_hook("h1") == created
    assert await store.get_hook("nope") is None


async def test_duplicate_id_conflicts(store: Store) -> None:
    """Creating a hook id twice is a Conflict and keeps the first document."""
    first = await store.create_hook(hook("h1", "a1", name="first"))
    with pytest.raises(Conflict):
        await store.create_hook(hook("h1", "a2", name="second"))
    assert await store.get_hook("h1") == first


async def test_update_increments_revision(store: Store) -> None:
    """An update with the read revision is stored at revision+1, keeping created_ms."""
    created = await store.create_hook(hook("h1", "a1"))
    off = replace(
        created,
        doc={**created.doc, "enabled": False},
        disabled_reason=AUTO_DISABLE_REASON,
        created_ms=1,
    )
    updated = await store.update_hook(off)
    assert updated.revision == 2
    assert updated.created_ms == created.created_ms
    assert updated.modified_ms >= created.modified_ms
    assert updated.is_auto_disabled
    assert await store.get_hook("h1") == updated


async def test_update_stale_revision_conflicts(store: Store) -> None:
    """An update carrying an old revision is a Conflict and changes nothing."""
    created = await store.create_hook(hook("h1", "a1"))
    updated = await store.update_hook(replace(created, doc={**created.doc, "name": "one"}))
    with pytest.raises(Conflict):
        await store.update_hook(replace(created, doc={**created.doc, "name": "two"}))
    assert await store.get_hook("h1") == updated


async def test_update_missing_is_not_found(store: Store) -> None:
    """Updating a hook that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        await store.update_hook(hook("ghost", "a1"))


async def test_concurrent_updates_one_wins(store: Store) -> None:
    """Of many concurrent updates from the same revision exactly one is stored."""
    created = await store.create_hook(hook("h1", "a1"))
    results = await asyncio.gather(
        *(store.update_hook(replace(created, doc={**created.doc, "n": n})) for n in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    assert await store.get_hook("h1") == winners[0]


async def test_list_hooks_by_account_ordered(store: Store) -> None:
    """list_hooks returns only that account's hooks, ordered by id ascending."""
    for hook_id, owner in (("b", "a1"), ("c", "a2"), ("a", "a1"), ("B", "a1"), ("a_", "a1")):
        await store.create_hook(hook(hook_id, owner))
    assert [h.id for h in await store.list_hooks("a1")] == ["B", "a", "a_", "b"]
    assert [h.id for h in await store.list_hooks("a2")] == ["c"]
    assert await store.list_hooks("a3") == []


async def test_list_all_hooks_enabled_only(store: Store) -> None:
    """enabled_only follows the document's ``enabled`` through creates and updates."""
    await store.create_hook(hook("on", "a1"))
    unset = hook("default", "a1")
    await store.create_hook(
        replace(unset, doc={k: v for k, v in unset.doc.items() if k != "enabled"})
    )
    off = await store.create_hook(hook("off", "a2", enabled=False))
    assert ids(await store.list_all_hooks(enabled_only=False)) == ["default", "off", "on"]
    assert ids(await store.list_all_hooks(enabled_only=True)) == ["default", "on"]
    await store.update_hook(replace(off, doc={**off.doc, "enabled": True}))
    enabled = await store.list_all_hooks(enabled_only=True)
    assert ids(enabled) == ["default", "off", "on"]
    assert all(h.enabled for h in enabled)


async def test_hook_batches(store: Store) -> None:
    """Batches come in id order, ``size`` at a time, and cover every hook exactly once;
    enabled_only leaves out disabled hooks without leaving a batch short of the rest."""
    for n in (6, 2, 0, 5, 3, 1, 4):
        await store.create_hook(hook(f"h{n}", f"a{n % 2}", enabled=n != 3))
    batches = [b async for b in store.hook_batches(enabled_only=False, size=3)]
    assert [[h.id for h in b] for b in batches] == [["h0", "h1", "h2"], ["h3", "h4", "h5"], ["h6"]]
    assert batches[0][1] == await store.get_hook("h1")
    enabled = [[h.id for h in b] async for b in store.hook_batches(enabled_only=True, size=3)]
    assert enabled == [["h0", "h1", "h2"], ["h4", "h5", "h6"]]
    (whole,) = [b async for b in store.hook_batches(enabled_only=True, size=100)]
    assert len(whole) == 6 and whole[-1].id == "h6"


async def test_hook_batches_empty(store: Store) -> None:
    assert [b async for b in store.hook_batches(enabled_only=False)] == []


async def test_delete_hook_returns_stored(store: Store) -> None:
    """delete_hook hands back what was stored, then None once it is gone."""
    created = await store.create_hook(hook("h1", "a1"))
    assert await store.delete_hook("h1") == created
    assert await store.get_hook("h1") is None
    assert await store.delete_hook("h1") is None


async def test_delete_account_hooks(store: Store) -> None:
    """delete_account_hooks removes one account's hooks and names them."""
    for hook_id, owner in (("h2", "a1"), ("h1", "a1"), ("h3", "a2")):
        await store.create_hook(hook(hook_id, owner))
    assert await store.delete_account_hooks("a1") == ["h1", "h2"]
    assert await store.list_hooks("a1") == []
    assert ids(await store.list_all_hooks(enabled_only=False)) == ["h3"]
    assert await store.delete_account_hooks("a1") == []
