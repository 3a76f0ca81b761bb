"""Fixtures of the store conformance suite: each test runs once per backend.

The SQLite store gets a fresh file under the test's tmp_path; the PostgreSQL store gets a
fresh schema (``?search_path=…``) of the database named by ``WEBHOOKSD_TEST_PG_URL``,
dropped when the test ends, so tests are isolated and parallel runs never collide.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from webhooksd.store import Store, open_store
from webhooksd.store.sqlite import path_from_url

PG_URL = os.environ.get("WEBHOOKSD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def with_search_path(url: str, schema: str) -> str:
    """``url`` with its tables in ``schema`` (asyncpg passes unknown query keys to the server)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("search_path", schema)]
    return urlunsplit(parts._replace(query=urlencode(query)))


async def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """Run ``sql`` against the store at ``url`` behind the store's back, to check its tables."""
    if url.startswith("sqlite"):
        with sqlite3.connect(path_from_url(url)) as db:
            return [tuple(row) for row in db.execute(sql)]
    parts = urlsplit(url)
    schema = dict(parse_qsl(parts.query))["search_path"]
    conn = await asyncpg.connect(urlunsplit(parts._replace(query="")))
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()


@pytest.fixture(
    name="store_url",
    params=[
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.integration),
    ],
)
async def fixture_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a new, empty store of each backend (nothing created on disk or server yet)."""
    if request.param == "sqlite":
        # a directory that does not exist yet: opening must create it
        yield f"sqlite:///{tmp_path / 'var' / 'store.sqlite3'}"
        return
    schema = f"webhooksd_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_search_path(PG_URL, schema)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture(name="store")
async def fixture_store(store_url: str) -> AsyncIterator[Store]:
    """An open, migrated, empty store of each backend, closed after the test."""
    async with open_store(store_url) as store:
        yield store
