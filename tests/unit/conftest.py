"""Fixtures of the unit tests: a real SQLite store with one account, the in-process bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from webhooksd.bus import Bus, open_bus
from webhooksd.records import Account
from webhooksd.store import Store, open_store

ACCOUNT = "a" * 32


@pytest.fixture(name="store")
async def _store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store with one account (``ACCOUNT``)."""
    async with open_store(f"sqlite:///{tmp_path}/s.sqlite3") as store:
        await store.create_account(Account(id=ACCOUNT, name="acct"))
        yield store


@pytest.fixture(name="bus")
async def _bus() -> AsyncIterator[Bus]:
    """The in-process bus."""
    async with open_bus("memory://") as bus:
        yield bus
