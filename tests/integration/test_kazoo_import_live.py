"""After `webhooksd kazoo import-hooks`, running daemons fire the imported hooks: the import
announces each hook on the shared broker as the API does (real RabbitMQ, pouchdb-server)."""

from __future__ import annotations

import io

import pytest

from tests.conftest import Receiver
from tests.couch import CouchServer
from tests.integration.conftest import DaemonFactory, KazooPublisher
from tests.integration.kazoo_events import channel_create
from tests.kazoodocs import kazoo_hook
from tests.waiting import eventually
from webhooksd.cli.kazoo import import_hooks_command
from webhooksd.records import Account

pytestmark = pytest.mark.integration

KAZOO_ACCOUNT = "4e6f" * 8


async def test_running_daemons_see_imported_hooks(
    couch_server: CouchServer,
    daemons: DaemonFactory,
    sqlite_store_url: str,
    receiver: Receiver,
    kazoo: KazooPublisher,
) -> None:
    """Two instances on one store: both load the imported hooks without a restart, and a
    Kazoo CHANNEL_CREATE for the account is delivered to the imported hook's URI."""
    first = await daemons(sqlite_store_url)
    second = await daemons(sqlite_store_url)
    await first.daemon.store.create_account(Account(id=KAZOO_ACCOUNT, name="kazoo customer"))
    docs = [kazoo_hook(n, KAZOO_ACCOUNT, uri=f"{receiver.url}/hook/{n}") for n in range(20)]
    await couch_server.bulk("webhooks", docs)

    out = io.StringIO()
    assert await import_hooks_command(first.daemon.settings, couch_server.url, out) == 0
    assert f"account {KAZOO_ACCOUNT}: 20 imported, 0 updated, 0 unchanged, 0 skipped" in (
        out.getvalue()
    )

    def loaded() -> bool:
        return all(len(d.daemon.table.hooks(KAZOO_ACCOUNT)) == 20 for d in (first, second))

    await eventually(loaded, what="imported hooks loaded by both instances")

    await kazoo.publish("callevt", *channel_create(KAZOO_ACCOUNT, "kazoo-import-call"))
    got = await receiver.wait_for(20, timeout=10)
    assert {r.path for r in got} == {f"/hook/{n}" for n in range(20)}
