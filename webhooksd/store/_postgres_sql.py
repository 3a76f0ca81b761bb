"""Statement helpers for the PostgreSQL store: placeholders, command tags, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import asyncpg

from webhooksd.errors import Conflict, RealmTaken, StoreError
from webhooksd.store._schema import REALM_INDEX

#: one lock per schema, so instances migrating different schemas do not wait on each other
MIGRATION_LOCK: Final = (
    "SELECT pg_advisory_xact_lock("
    "hashtextextended('webhooksd.migrate:' || COALESCE(current_schema(), ''), 0))"
)


def numbered(sql: str) -> str:
    """``?`` placeholders (the shared query builders') to asyncpg's ``$1, $2, …``."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def values(count: int) -> str:
    return ", ".join(f"${i}" for i in range(1, count + 1))


def affected(status: str) -> int:
    """The row count of a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])


@contextmanager
def translated() -> Iterator[None]:
    """Backend errors become the project's: a uniqueness violation is a Conflict."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if REALM_INDEX in str(exc):
            raise RealmTaken(str(exc)) from exc
        raise Conflict(str(exc)) from exc
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        # asyncpg's own state error on a connection the server ended that it has not yet
        # noticed ("another operation is in progress"): the database went away, not a bug
        asyncpg.InternalClientError,
        OSError,
    ) as exc:
        raise StoreError(f"postgresql: {exc}") from exc
