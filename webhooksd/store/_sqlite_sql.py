"""Statement helpers for the SQLite store: results as values, errors as the project's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiosqlite

from webhooksd.errors import Conflict, RealmTaken, StoreError
from webhooksd.store._schema import REALM_INDEX


@contextmanager
def translated() -> Iterator[None]:
    """Backend errors become the project's: a uniqueness violation is a Conflict."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            if REALM_INDEX in str(exc):
                raise RealmTaken(str(exc)) from exc
            raise Conflict(str(exc)) from exc
        raise StoreError(f"sqlite: {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"sqlite: {exc}") from exc


async def rowcount(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    async with conn.execute(sql, params) as cursor:
        return cursor.rowcount


async def one(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> sqlite3.Row | None:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def fetch_all(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> Iterable[sqlite3.Row]:
    return await conn.execute_fetchall(sql, params)
