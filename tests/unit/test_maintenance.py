"""Kazoo's webhooks_maintenance commands, as the CLI runs them against a real store."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from webhooksd.cli import maintenance
from webhooksd.config import load
from webhooksd.kazoo.timeutil import now_ms
from webhooksd.records import Account, AttemptRecord, HookDoc
from webhooksd.store import SYSTEM, Store, open_store

ACCOUNT = "a" * 32


@pytest.fixture(name="store")
async def _store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store with one account, one enabled and one disabled hook."""
    async with open_store(f"sqlite:///{tmp_path}/s.sqlite3") as store:
        await store.create_account(Account(id=ACCOUNT, name="acct"))
        for n, enabled in enumerate((True, False)):
            await store.create_hook(
                HookDoc(
                    id=f"{n}" * 32,
                    account_id=ACCOUNT,
                    doc={
                        "name": f"h{n}",
                        "uri": f"http://h{n}.example/",
                        "hook": "channel_create",
                        "http_verb": "get",
                        "retries": 3,
                        "enabled": enabled,
                    },
                )
            )
        yield store


async def test_hooks_list_prints_enabled_hooks(store: Store) -> None:
    """`hooks list` prints Kazoo's columns for enabled hooks and the count."""
    out = io.StringIO()
    assert await maintenance.hooks_list(store, ACCOUNT, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["URI", "VERB", "EVENT", "RETRIES"]
    assert "http://h0.example/" in lines[1] and "get" in lines[1]
    assert lines[-1] == "found 1 webhooks"


async def test_failures_and_flush(store: Store) -> None:
    """`hooks failures` counts in-window failures; `flush-failures` clears them."""
    hook_id = "0" * 32
    await store.add_attempts(
        [
            AttemptRecord(
                id=uuid.uuid4().hex,
                account_id=ACCOUNT,
                hook_id=hook_id,
                event_id="e",
                created_ms=now_ms() - 10,
                result="failure",
                counts_as_failure=True,
                doc={},
            )
            for _ in range(3)
        ]
    )
    out = io.StringIO()
    await maintenance.hooks_failures(store, load(environ={}), None, out)
    assert out.getvalue().splitlines()[1].split() == [ACCOUNT, hook_id, "3"]
    out = io.StringIO()
    await maintenance.flush_failures(store, ACCOUNT, hook_id, out)
    assert out.getvalue() == "flushed 3 failures\n"
    assert await store.count_failures(0) == []


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("attempt_failure_count", "3", True),
        ("attempt_failure_expiry_ms", "120000", True),
        ("attempt_failure_count", "-1", False),
        ("attempt_failure_count", "x", False),
        ("cluster_id", "1", False),
    ],
)
async def test_settings_set_validates(store: Store, key: str, value: str, ok: bool) -> None:
    """`settings set` accepts the two tunables as positive integers, system or per account."""
    out = io.StringIO()
    code = await maintenance.settings_set(store, key, value, None, out)
    assert (code == 0) is ok
    stored = (await store.get_settings(SYSTEM)).get(key)
    assert (stored == int(value)) if ok else stored is None
    if ok:
        await maintenance.settings_set(store, key, value, ACCOUNT, io.StringIO())
        assert (await store.get_settings(ACCOUNT))[key] == int(value)
