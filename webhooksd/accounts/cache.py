"""Accounts the API reads on every request, kept for a moment (Kazoo caches them too).

Every Crossbar request needs the token's account, the URL's account and the master account's
id: three store round trips before the handler's own work, which made them most of the cost
of listing an account's hooks. An entry lives ``ttl_s``; a write through this instance's API
forgets it at once, and the config listener forgets it when another instance announces a
change on the bus, so the time limit only covers a notice that was lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from webhooksd.accounts import master_account_id
from webhooksd.bounded import BoundedCache
from webhooksd.records import Account
from webhooksd.store import Store


class AccountCache:
    """Read-through cache of accounts by id (``None`` for an unknown id) and of the master id."""

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        #: account id → (when it was read, the account or None for an unknown id)
        self._accounts: BoundedCache[str, tuple[float, Account | None]] = BoundedCache(max_entries)
        self._master: tuple[float, str | None] | None = None

    async def get(self, account_id: str) -> Account | None:
        """The account, from the store when not cached or cached longer than the TTL."""
        now = self._clock()
        cached = self._accounts.get(account_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        account = await self._store.get_account(account_id)
        if self._ttl_s > 0:
            self._accounts.put(account_id, (now, account))
        return account

    async def master_id(self) -> str | None:
        """The master account's id (it changes only when the store is bootstrapped)."""
        now = self._clock()
        if self._master is not None and now - self._master[0] < self._ttl_s:
            return self._master[1]
        master = await master_account_id(self._store)
        if self._ttl_s > 0:
            self._master = (now, master)
        return master

    def forget(self, account_id: str) -> None:
        """Drop one account (it was written); the next read goes to the store."""
        self._accounts.pop(account_id)

    def clear(self) -> None:
        self._accounts.clear()
        self._master = None

    def __len__(self) -> int:
        return len(self._accounts)
