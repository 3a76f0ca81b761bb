"""The store: accounts, hooks, attempts, hook-module metadata and settings.

One :class:`Store` protocol, two implementations that pass the same conformance suite
(``tests/store``): SQLite (aiosqlite), the embedded default, and PostgreSQL (asyncpg), the
store shared by many instances. :func:`open_store` picks one by URL scheme.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from webhooksd.errors import ConfigError
from webhooksd.records import (
    Account,
    AttemptRecord,
    AttemptSearch,
    FailureCount,
    HookActivity,
    HookDoc,
)

#: hooks read per query when loading them all
HOOK_BATCH = 2_000

#: the settings scope that is not an account
SYSTEM = "system"


class Store(Protocol):
    """Protocol: everything webhooksd keeps. Times are Unix milliseconds.

    Methods raise :class:`webhooksd.errors.Conflict` for duplicate ids and stale revisions,
    and :class:`webhooksd.errors.StoreError` when the backend fails.
    """

    # -- accounts ------------------------------------------------------------------------
    async def create_account(self, account: Account, api_key_hash: str | None = None) -> Account:
        """Insert an account; Conflict if the id exists."""

    async def get_account(self, account_id: str) -> Account | None: ...

    async def update_account(self, account: Account) -> Account:
        """Replace an account; ``account.revision`` must equal the stored one (else Conflict).
        Returns the stored record with the revision incremented and ``modified_ms`` set."""

    async def delete_account(self, account_id: str) -> bool:
        """Delete the account, its API key, its settings and its hooks. True if it existed."""

    async def list_accounts(self) -> list[Account]: ...

    async def count_accounts(self) -> int: ...

    async def list_children(self, account_id: str) -> list[Account]: ...

    async def list_descendants(self, account_id: str) -> list[Account]:
        """Every account whose ``tree`` contains ``account_id``."""

    async def set_api_key(self, account_id: str, api_key_hash: str) -> None: ...

    async def account_by_api_key(self, api_key_hash: str) -> Account | None:
        """The account holding the key; when several hold it (Kazoo allows a shared key),
        the one whose id sorts first, as Crossbar's ``listing_by_api`` view answers."""

    async def put_mirrored_accounts(
        self, accounts: Sequence[tuple[Account, str | None]]
    ) -> list[str]:
        """Insert or replace accounts copied from outside (Kazoo's ``accounts`` database),
        each with its key hash (None: no key), in one transaction; return the ids written.
        Keyed by the number of the Kazoo revision each came from (``doc["pvt_kazoo_rev"]``,
        ``743-…``): a copy older than the stored one is skipped, the same or a newer one is
        written (as is any copy over an account that has none), so several mirrors writing
        one store cannot move it back, and an API edit in between does not hide the next
        Kazoo change. The stored ``revision`` counts writes as for any account. A key another
        account holds too is shared, never a Conflict."""

    # -- hooks ---------------------------------------------------------------------------
    async def create_hook(self, hook: HookDoc) -> HookDoc:
        """Insert a hook; Conflict if the id exists. Sets created/modified, revision 1."""

    async def get_hook(self, hook_id: str) -> HookDoc | None: ...

    async def update_hook(self, hook: HookDoc) -> HookDoc:
        """Replace a hook; ``hook.revision`` must equal the stored one (else Conflict).
        Returns the stored record with the revision incremented and ``modified_ms`` set."""

    async def delete_hook(self, hook_id: str) -> HookDoc | None:
        """Delete a hook and return what was stored, or None if there was none."""

    async def list_hooks(self, account_id: str) -> list[HookDoc]:
        """The hooks of one account, ordered by id ascending."""

    async def list_all_hooks(self, *, enabled_only: bool) -> list[HookDoc]: ...

    def hook_batches(
        self, *, enabled_only: bool, size: int = HOOK_BATCH
    ) -> AsyncIterator[list[HookDoc]]:
        """Every hook (or every enabled one) in id order, ``size`` at a time, each batch its
        own short query: loading 100k hooks never holds every row and document at once."""

    async def delete_account_hooks(self, account_id: str) -> list[str]:
        """Delete every hook of one account; return their ids."""

    # -- attempts ------------------------------------------------------------------------
    async def add_attempts(self, attempts: Sequence[AttemptRecord]) -> None:
        """Append attempts (one transaction)."""

    async def list_attempts(
        self,
        account_id: str,
        *,
        hook_id: str | None = None,
        created_from_ms: int,
        created_to_ms: int,
        descending: bool = True,
        after: tuple[int, str] | None = None,
        limit: int = 50,
        search: AttemptSearch | None = None,
    ) -> list[AttemptRecord]:
        """Attempts of one account (optionally one hook) with ``created_from_ms <= created_ms
        <= created_to_ms`` that match ``search``, ordered by ``(created_ms, id)``; ``after``
        is the last key of the previous page (exclusive) in the same direction."""

    async def get_attempt(self, attempt_id: str) -> AttemptRecord | None: ...

    async def count_failures(
        self, since_ms: int, *, account_id: str | None = None
    ) -> list[FailureCount]:
        """Attempts that count as failures with ``created_ms > since_ms``, per hook."""

    async def hook_activity(
        self, account_id: str, *, since_ms: int, hour_from_ms: int, recent: int
    ) -> list[HookActivity]:
        """Per hook of the account with attempts at or after ``since_ms``, ordered by hook id:
        its newest attempt (payload not read), attempts and successes since ``since_ms`` and
        since ``hour_from_ms``, and failures among its ``recent`` newest attempts."""

    async def flush_failures(self, account_id: str, hook_id: str | None = None) -> int:
        """Stop counting the failures of one hook (or of every hook of the account).
        Returns how many attempts stopped counting."""

    async def prepare_attempts(self, now_ms: int, days_ahead: int) -> list[str]:
        """Make ready where the attempts of the UTC day of ``now_ms`` and of the
        ``days_ahead`` days after it go (PostgreSQL: their partitions); return what was made.
        Safe to run from several instances at once. SQLite has nothing to make."""

    async def prune_attempts(self, older_than_ms: int) -> int:
        """Delete attempts created before ``older_than_ms``; return how many (PostgreSQL
        drops whole partitions older than it and deletes rows only in the one it falls in)."""

    async def ping(self) -> None:
        """A round trip to the database; raises :class:`StoreError` when it is unreachable."""

    async def probe_write(self, instance: str) -> None:
        """Prove the store can write now: upsert ``instance``'s heartbeat row (and, where a
        small write can succeed while an attempt's cannot, check for room as an attempt
        needs it). Raises :class:`StoreError` when it cannot write — a full disk, a read-only
        database — even while reads still work, which :meth:`ping` cannot tell."""

    # -- hook-module metadata ------------------------------------------------------------
    async def list_module_meta(self) -> dict[str, dict[str, Any]]: ...

    async def put_module_meta(self, module_id: str, meta: Mapping[str, Any]) -> bool:
        """Store a module's metadata; False (and no write) when it is unchanged."""

    async def delete_module_meta(self, module_id: str) -> bool: ...

    # -- settings ------------------------------------------------------------------------
    async def get_settings(self, scope: str) -> dict[str, Any]:
        """Settings of ``SYSTEM`` or of one account id."""

    async def set_setting(self, scope: str, key: str, value: Any) -> None: ...

    async def setdefault_setting(self, scope: str, key: str, value: Any) -> Any:
        """Store ``value`` unless the key exists; return the stored value (atomic across
        instances: the first writer wins)."""

    async def take_setting(self, scope: str, key: str) -> Any:
        """Delete a setting and return its value, or None if there was none. Atomic across
        instances: of several taking one key, exactly one gets the value."""


@asynccontextmanager
async def open_store(url: str) -> AsyncIterator[Store]:
    """Open the store named by ``url`` (``sqlite:///path`` or ``postgresql://…``), create or
    migrate its schema, and close it on exit."""
    if url.startswith("sqlite://"):
        from webhooksd.store.sqlite import SqliteStore

        async with SqliteStore.open(url) as sqlite_store:
            yield sqlite_store
    elif url.startswith(("postgresql://", "postgres://")):
        from webhooksd.store.postgres import PostgresStore

        async with PostgresStore.open(url) as pg_store:
            yield pg_store
    else:
        raise ConfigError(
            "store_url", f"unsupported scheme in {url!r} (sqlite:// or postgresql://)"
        )
