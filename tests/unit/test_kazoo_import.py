"""`webhooksd kazoo import-hooks` over Kazoo hook documents in a real pouchdb-server."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.couch import CouchServer
from tests.kazoodocs import kazoo_hook
from webhooksd.cli.kazoo import import_hooks_command
from webhooksd.config import Settings, load
from webhooksd.kazoo.import_hooks import KAZOO_REV
from webhooksd.records import Account, Hook
from webhooksd.store import Store, open_store

#: Kazoo-shaped account ids (32 hex characters), as the mirror would have stored them
ACCOUNTS = tuple(f"{n:x}" * 32 for n in range(10, 14))
UNKNOWN_ACCOUNT = "f" * 32
HOOKS = 1_000
DISABLED_ID = f"{0:032x}"
DISABLED_REASON = "disabled by Kazoo after 6 failed attempts"
INVALID_ID = "bad0" * 8
ORPHAN_ID = "0e1a" * 8


def kazoo_docs() -> list[dict[str, Any]]:
    docs = [kazoo_hook(n, ACCOUNTS[n % len(ACCOUNTS)]) for n in range(HOOKS)]
    # the first is one Kazoo's disabler switched off
    docs[0].update(enabled=False, pvt_disabled_message=DISABLED_REASON)
    docs.append(kazoo_hook(0, ACCOUNTS[1], _id=INVALID_ID, hook="no_such_event", retries=9))
    docs.append(kazoo_hook(0, UNKNOWN_ACCOUNT, _id=ORPHAN_ID))
    # not hooks: Kazoo's design document and a stray document of another type
    docs.append({"_id": "_design/webhooks", "language": "javascript", "views": {}})
    docs.append({"_id": "not-a-hook", "pvt_type": "something_else"})
    return docs


@pytest.fixture(name="settings")
def _settings(tmp_path: Path) -> Settings:
    """Settings for a SQLite store and no shared broker."""
    return load(environ={}).replace(
        store_url=f"sqlite:///{tmp_path}/import.sqlite3", amqp_url="memory://"
    )


@pytest.fixture(name="store")
async def _store(settings: Settings) -> AsyncIterator[Store]:
    """The store with the Kazoo accounts (created directly, under their Kazoo ids)."""
    async with open_store(settings.store_url) as store:
        for account_id in ACCOUNTS:
            await store.create_account(Account(id=account_id, name=f"kazoo {account_id[:4]}"))
        yield store


async def _import(settings: Settings, couch: CouchServer) -> tuple[int, list[str], float]:
    out = io.StringIO()
    started = time.monotonic()
    code = await import_hooks_command(settings, couch.url, out)
    return code, out.getvalue().splitlines(), time.monotonic() - started


async def test_import_twice_keeps_ids_and_changes_nothing_the_second_time(
    couch_server: CouchServer, settings: Settings, store: Store
) -> None:
    """1,000 Kazoo hooks arrive under their own ids in their own accounts; a second run finds
    every one unchanged; the invalid and the orphan document are skipped and named."""
    revs = await couch_server.bulk("webhooks", kazoo_docs())

    code, lines, seconds = await _import(settings, couch_server)
    print(f"\nimport of {HOOKS} Kazoo hook documents: {seconds:.2f} s")
    assert code == 0
    per_account = HOOKS // len(ACCOUNTS)
    assert f"account {ACCOUNTS[2]}: {per_account} imported, 0 updated, 0 unchanged, 0 skipped" in (
        lines
    )
    assert f"account {ACCOUNTS[1]}: {per_account} imported, 0 updated, 0 unchanged, 1 skipped" in (
        lines
    )
    assert f"account {UNKNOWN_ACCOUNT}: 0 imported, 0 updated, 0 unchanged, 1 skipped" in lines

    stored = await store.list_all_hooks(enabled_only=False)
    assert len(stored) == HOOKS
    expected = {d["_id"] for d in kazoo_docs() if d.get("pvt_type") == "webhook"}
    assert {h.id for h in stored} == expected - {INVALID_ID, ORPHAN_ID}
    one = await store.get_hook(f"{7:032x}")
    assert one is not None
    assert one.account_id == ACCOUNTS[7 % len(ACCOUNTS)]
    assert one.doc["uri"] == "https://receiver.example/7"
    assert one.doc[KAZOO_REV] == revs[one.id]
    assert one.created_ms == 1_700_000_000_000
    assert "pvt_account_id" not in one.doc and "_rev" not in one.doc
    assert Hook.from_doc(one).doc.get(KAZOO_REV) is None  # private fields never reach dispatch

    code, lines, _ = await _import(settings, couch_server)
    assert code == 0
    assert f"account {ACCOUNTS[3]}: 0 imported, 0 updated, {per_account} unchanged, 0 skipped" in (
        lines
    )
    assert len(await store.list_all_hooks(enabled_only=False)) == HOOKS


async def test_skipped_documents_are_named_with_the_validators_reason(
    couch_server: CouchServer, settings: Settings, store: Store
) -> None:
    """The invalid hook is named with what the API's validator found; the orphan with its
    unknown account."""
    await couch_server.bulk("webhooks", kazoo_docs()[-4:])
    code, lines, _ = await _import(settings, couch_server)
    assert code == 0
    invalid = next(line for line in lines if line.startswith(f"skipped {INVALID_ID}"))
    assert f"(account {ACCOUNTS[1]}): invalid:" in invalid
    assert "hook.enum: Value not found in enumerated list of values" in invalid
    assert "retries.maximum" in invalid
    orphan = next(line for line in lines if line.startswith(f"skipped {ORPHAN_ID}"))
    assert orphan.endswith(f"account {UNKNOWN_ACCOUNT} is not known to webhooksd")
    assert await store.get_hook(INVALID_ID) is None
    assert await store.get_hook(ORPHAN_ID) is None


async def test_an_auto_disabled_hook_keeps_kazoos_reason(
    couch_server: CouchServer, settings: Settings, store: Store
) -> None:
    """`enabled: false` with `pvt_disabled_message` is auto-disabled here, with that reason."""
    await couch_server.bulk("webhooks", kazoo_docs()[:1])
    await _import(settings, couch_server)
    stored = await store.get_hook(DISABLED_ID)
    assert stored is not None
    assert stored.is_auto_disabled
    assert stored.disabled_reason == DISABLED_REASON


async def test_a_changed_document_is_updated(
    couch_server: CouchServer, settings: Settings, store: Store
) -> None:
    """A document edited in Kazoo after the first import (a new `_rev`) is updated; the others
    stay as they were."""
    docs = [kazoo_hook(n, ACCOUNTS[0]) for n in range(3)]
    revs = await couch_server.bulk("webhooks", docs)
    await _import(settings, couch_server)
    before = await store.get_hook(docs[1]["_id"])
    assert before is not None

    changed = {**docs[1], "_rev": revs[docs[1]["_id"]], "uri": "https://moved.example/"}
    new_rev = await couch_server.put("webhooks", changed)
    code, lines, _ = await _import(settings, couch_server)
    assert code == 0
    assert f"account {ACCOUNTS[0]}: 0 imported, 1 updated, 2 unchanged, 0 skipped" in lines
    after = await store.get_hook(docs[1]["_id"])
    assert after is not None
    assert after.doc["uri"] == "https://moved.example/"
    assert after.doc[KAZOO_REV] == new_rev
    assert after.revision == before.revision + 1


def test_without_couchdb_the_command_fails(tmp_path: Path) -> None:
    """An unreachable CouchDB is a non-zero exit with the reason; no CouchDB named is 2."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": "/usr/bin:/bin",
        "WEBHOOKSD_STORE_URL": f"sqlite:///{tmp_path}/cli.sqlite3",
        "WEBHOOKSD_AMQP_URL": "memory://",
        "WEBHOOKSD_LOG_LEVEL": "warning",
    }
    webhooksd = str(Path(sys.executable).parent / "webhooksd")
    down = subprocess.run(
        [webhooksd, "kazoo", "import-hooks", "--couch-url", f"http://127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1
    assert "failed" in down.stderr
    unnamed = subprocess.run(
        [webhooksd, "kazoo", "import-hooks"], env=env, capture_output=True, text=True, timeout=60
    )
    assert unnamed.returncode == 2
    assert "--couch-url" in unnamed.stdout
