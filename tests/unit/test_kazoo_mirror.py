"""The kazoo_accounts child against a real pouchdb-server, a SQLite store and the in-process
bus: the full read, following _changes, the checkpoint, the master account."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.couch import CouchServer
from tests.kazoodocs import (
    CUSTOMER_ID,
    MASTER_ID,
    RESELLER_ID,
    account_doc,
    kazoo_tree,
    master_config,
)
from tests.waiting import eventually
from webhooksd.accounts import hash_api_key, master_account_id
from webhooksd.bus import open_bus
from webhooksd.children.kazoo_accounts import CHECKPOINT_KEY, KazooAccounts
from webhooksd.records import HookDoc
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import SYSTEM, Store, open_store

NEW_ID = "ab" * 16


@pytest.fixture(name="store")
async def fixture_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/mirror.sqlite3") as store:
        yield store


@contextlib.asynccontextmanager
async def running(url: str, store: Store, **options: Any) -> AsyncIterator[KazooAccounts]:
    async with open_bus("memory://") as bus:
        mirror = KazooAccounts(
            url=url, store=store, bus=bus, metrics=Metrics(), node="test", wait_s=1.0, **options
        )
        task = asyncio.create_task(mirror(ChildHandle("kazoo_accounts")))
        try:
            yield mirror
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def seed(couch: CouchServer) -> None:
    await couch.put("system_config", master_config())
    for doc in kazoo_tree():
        await couch.put("accounts", doc)
    await couch.put("accounts", {"_id": "_design/accounts", "views": {}})
    await couch.put("accounts", {"_id": "notanaccount0000000000000000000x", "pvt_type": "user"})


async def test_full_read_then_changes(couch_server: CouchServer, store: Store) -> None:
    """The tree is read in full (design and non-account documents skipped), the master is
    Kazoo's; then a new account, a disabled one and a deleted one (with its hooks) follow."""
    await seed(couch_server)
    async with running(couch_server.url, store) as mirror:
        assert not mirror.loaded
        await eventually(lambda: mirror.loaded, timeout=10, what="first full read")
        assert mirror.in_step
        assert [a.id for a in await store.list_accounts()] == [MASTER_ID, RESELLER_ID, CUSTOMER_ID]
        assert [a.id for a in await store.list_descendants(MASTER_ID)] == [RESELLER_ID, CUSTOMER_ID]
        assert await master_account_id(store) == MASTER_ID
        assert (await store.get_settings(SYSTEM))[CHECKPOINT_KEY]["seq"]
        customer = await store.get_account(CUSTOMER_ID)
        assert customer is not None and customer.parent_id == RESELLER_ID

        await couch_server.put("accounts", account_doc(NEW_ID, "Late", [MASTER_ID, RESELLER_ID]))
        await eventually(lambda: store.get_account(NEW_ID), timeout=5, what="new account")
        await couch_server.update("accounts", CUSTOMER_ID, pvt_enabled=False)

        async def disabled() -> bool:
            found = await store.get_account(CUSTOMER_ID)
            return found is not None and not found.enabled

        await eventually(disabled, timeout=5, what="customer disabled")
        await store.create_hook(HookDoc(id="h" * 32, account_id=NEW_ID, doc={"hook": "all"}))
        await couch_server.delete("accounts", NEW_ID)

        async def gone() -> bool:
            return await store.get_account(NEW_ID) is None

        await eventually(gone, timeout=5, what="deleted account gone")
        assert await store.get_hook("h" * 32) is None


async def test_restart_resumes_from_the_checkpoint(couch_server: CouchServer, store: Store) -> None:
    """A second run reads only what changed since the first stopped, not everything again."""
    await seed(couch_server)
    async with running(couch_server.url, store) as first:
        await eventually(lambda: first.loaded, timeout=10, what="first full read")
        assert first.docs_read >= 5
    await couch_server.put("accounts", account_doc(NEW_ID, "Meanwhile", [MASTER_ID]))
    async with running(couch_server.url, store) as second:
        await eventually(lambda: second.loaded, timeout=10, what="catch-up")
        assert await store.get_account(NEW_ID) is not None
        assert second.docs_read == 1


async def test_shared_api_key_and_unreachable_start(
    couch_server: CouchServer, store: Store
) -> None:
    """Two Kazoo accounts sharing one key both mirror (the key finds the lower id); with
    CouchDB away at start the mirror is neither loaded nor in step, and loads once it is back."""
    url = couch_server.url
    await couch_server.stop()
    async with running(url, store) as mirror:
        await eventually(lambda: mirror.docs_read == 0 and not mirror.in_step, what="down")
        assert not mirror.loaded
        await couch_server.start()
        await couch_server.put("system_config", master_config())
        key = "k" * 64
        for account_id in (CUSTOMER_ID, RESELLER_ID):
            await couch_server.put(
                "accounts", account_doc(account_id, "Same key", [MASTER_ID], api_key=key)
            )
        await eventually(lambda: mirror.loaded, timeout=20, what="loaded after the outage")

        async def both() -> bool:
            return len(await store.list_accounts()) == 2

        await eventually(both, timeout=5, what="both accounts mirrored")
        found = await store.account_by_api_key(hash_api_key(key))
        assert found is not None and found.id == RESELLER_ID


async def test_an_outage_is_logged_once_per_interval(store: Store) -> None:
    """Retrying every few milliseconds, the mirror logs the outage once (per minute), not per
    retry."""
    with structlog.testing.capture_logs() as logs:
        async with running(
            "http://127.0.0.1:9", store, min_backoff_s=0.01, max_backoff_s=0.01
        ) as m:
            await eventually(lambda: m._retries >= 20, what="retries")
    interrupted = [e for e in logs if e["event"].startswith("Kazoo accounts mirror interrupted")]
    assert len(interrupted) == 1, interrupted
    assert not m.loaded and not m.in_step
