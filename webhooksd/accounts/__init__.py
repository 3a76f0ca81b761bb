"""Accounts as Kazoo shapes them: a 32-hex id, a parent, ``pvt_tree``, a hashed API key.

Shared by the CLI (``bootstrap``, ``accounts create``) and the API (``PUT /v2/accounts/{P}``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from webhooksd.errors import NotFound, StoreError
from webhooksd.kazoo.ids import is_account_id, new_api_key, new_id
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import Account
from webhooksd.store import SYSTEM, Store

#: the system setting naming the master (super-admin) account
MASTER_ACCOUNT_KEY = "master_account_id"


def hash_api_key(api_key: str) -> str:
    """API keys are 256 random bits, so one SHA-256 (no salt, no stretching) suffices and keeps
    the lookup by hash an index read."""
    return hashlib.sha256(api_key.encode()).hexdigest()


class InvalidAccountId(StoreError):
    """An account id given from outside is not 32 lower-case letters or digits."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"{account_id!r} is not an account id (32 lower-case letters or digits)")
        self.account_id = account_id


async def master_account_id(store: Store) -> str | None:
    value = (await store.get_settings(SYSTEM)).get(MASTER_ACCOUNT_KEY)
    return value if isinstance(value, str) else None


async def create_account(
    store: Store,
    *,
    name: str,
    account_id: str | None = None,
    parent_id: str | None = None,
    api_key: str | None = None,
    realm: str | None = None,
    is_reseller: bool = False,
    doc: Mapping[str, Any] | None = None,
) -> tuple[Account, str]:
    """Create an account under ``parent_id`` (or a root account) and return it with its API
    key (``api_key`` if given, else a new one). ``account_id`` keeps an id from outside (a
    Kazoo account's); without it a new one is minted. Raises InvalidAccountId for a malformed
    id, NotFound for an unknown parent, Conflict for an id that exists."""
    if account_id is not None and not is_account_id(account_id):
        raise InvalidAccountId(account_id)
    tree: tuple[str, ...] = ()
    if parent_id is not None:
        parent = await store.get_account(parent_id)
        if parent is None:
            raise NotFound(f"parent account {parent_id} does not exist")
        tree = (*parent.tree, parent.id)
    key = api_key or new_api_key()
    now = now_ms()
    account = Account(
        id=account_id or new_id(),
        name=name,
        parent_id=parent_id,
        tree=tree,
        realm=realm,
        is_reseller=is_reseller,
        doc=dict(doc or {}),
        created_ms=now,
        modified_ms=now,
    )
    stored = await store.create_account(account, hash_api_key(key))
    return stored, key


async def bootstrap_master(
    store: Store, *, api_key: str | None = None
) -> tuple[Account, str | None]:
    """Create the master account if the store has none. Returns it and its key, or the existing
    master and None (the key of an existing account is never shown again)."""
    existing_id = await master_account_id(store)
    if existing_id is not None:
        existing = await store.get_account(existing_id)
        if existing is not None:
            return existing, None
    account, key = await create_account(store, name="master", api_key=api_key, is_reseller=True)
    winner = await store.setdefault_setting(SYSTEM, MASTER_ACCOUNT_KEY, account.id)
    if winner != account.id:  # another instance bootstrapped at the same moment
        await store.delete_account(account.id)
        other = await store.get_account(winner)
        if other is None:
            raise NotFound(f"master account {winner} vanished")
        return other, None
    return account, key
