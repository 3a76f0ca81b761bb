"""The API's account cache over a real SQLite store: hits, expiry, forgetting, bounds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from webhooksd.accounts import bootstrap_master
from webhooksd.accounts.cache import AccountCache
from webhooksd.records import Account
from webhooksd.store import Store


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


async def _account(store: Store, name: str = "acct") -> Account:
    return await store.create_account(Account(id=name.ljust(32, "0")[:32], name=name), "k" + name)


async def test_reads_once_within_ttl(store: Store) -> None:
    """A change made behind the cache's back shows only once the entry is older than the TTL."""
    clock = Clock()
    cache = AccountCache(store, ttl_s=1.0, clock=clock)
    stored = await _account(store)
    assert (await cache.get(stored.id)) == stored
    renamed = await store.update_account(replace(stored, name="renamed"))
    clock.now += 0.5
    assert (await cache.get(stored.id)) == stored
    clock.now += 0.6
    assert (await cache.get(stored.id)) == renamed


async def test_forget_reads_again(store: Store) -> None:
    """A write through the API forgets the entry: the next read sees the store at once."""
    cache = AccountCache(store, ttl_s=60.0, clock=Clock())
    stored = await _account(store)
    await cache.get(stored.id)
    await store.update_account(replace(stored, enabled=False))
    cache.forget(stored.id)
    got = await cache.get(stored.id)
    assert got is not None and not got.enabled


async def test_unknown_and_deleted(store: Store) -> None:
    """An unknown id is remembered as unknown; a deleted account, once forgotten, is unknown."""
    cache = AccountCache(store, ttl_s=60.0, clock=Clock())
    assert await cache.get("f" * 32) is None
    stored = await _account(store)
    await cache.get(stored.id)
    await store.delete_account(stored.id)
    assert await cache.get(stored.id) == stored
    cache.forget(stored.id)
    assert await cache.get(stored.id) is None


async def test_zero_ttl_caches_nothing(store: Store) -> None:
    cache = AccountCache(store, ttl_s=0, clock=Clock())
    stored = await _account(store)
    await cache.get(stored.id)
    assert len(cache) == 0
    renamed = await store.update_account(replace(stored, name="renamed"))
    assert await cache.get(stored.id) == renamed


async def test_bounded(store: Store) -> None:
    """Past ``max_entries`` the oldest entry goes."""
    cache = AccountCache(store, ttl_s=60.0, max_entries=2, clock=Clock())
    first, second, third = [await _account(store, name) for name in ("one", "two", "three")]
    for account in (first, second, third):
        await cache.get(account.id)
    assert len(cache) == 2
    await store.update_account(replace(first, name="changed"))
    assert (await cache.get(first.id)) is not None
    assert (await cache.get(first.id)).name == "changed"  # type: ignore[union-attr]


async def test_master_id(store: Store) -> None:
    cache = AccountCache(store, ttl_s=60.0, clock=Clock())
    assert await cache.master_id() is None
    cache.clear()
    master, _ = await bootstrap_master(store)
    assert await cache.master_id() == master.id
