"""The CouchDB client against a real CouchDB-compatible server (pouchdb-server)."""

from __future__ import annotations

import pytest

from tests.couch import CouchServer
from webhooksd.errors import CouchError
from webhooksd.kazoo.couch import Couch


async def test_all_docs_reads_every_document_across_pages(couch_server: CouchServer) -> None:
    for n in range(7):
        await couch_server.put("accounts", {"_id": f"acct{n:02}", "name": f"n{n}"})
    async with Couch.open(couch_server.url) as couch:
        docs = [d async for d in couch.all_docs("accounts", page_size=3)]
    assert [d["_id"] for d in docs] == [f"acct{n:02}" for n in range(7)]
    assert docs[3]["name"] == "n3"


async def test_changes_resume_from_the_sequence_they_returned(couch_server: CouchServer) -> None:
    await couch_server.put("accounts", {"_id": "a", "name": "first"})
    async with Couch.open(couch_server.url) as couch:
        since = await couch.update_seq("accounts")
        assert since is not None
        await couch_server.put("accounts", {"_id": "b", "name": "second"})
        page = await couch.changes("accounts", since=since, wait_s=5)
        assert [r["doc"]["name"] for r in page.results] == ["second"]
        empty = await couch.changes("accounts", since=page.last_seq, wait_s=0.5)
    assert empty.results == ()
    assert empty.last_seq == page.last_seq


async def test_missing_documents_and_databases_are_none(couch_server: CouchServer) -> None:
    async with Couch.open(couch_server.url) as couch:
        assert await couch.get_doc("system_config", "accounts") is None
        assert await couch.update_seq("nothing_here") is None
        assert [d async for d in couch.all_docs("nothing_here")] == []
        with pytest.raises(CouchError, match="does not exist"):
            await couch.changes("nothing_here", since="0", wait_s=0.5)


async def test_an_unreachable_server_is_a_couch_error(couch_server: CouchServer) -> None:
    url = couch_server.url
    await couch_server.stop()
    async with Couch.open(url) as couch:
        with pytest.raises(CouchError, match="failed"):
            await couch.get_doc("accounts", "a")
