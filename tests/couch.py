"""A real CouchDB-compatible server for tests: ``pouchdb-server --in-memory`` on a free port.

Apache CouchDB has no Debian package here; pouchdb-server (npm) speaks the same HTTP API for
what the Kazoo bridge uses (databases, documents, revisions, ``_all_docs``, ``_changes``,
attachments). ``.ci/run`` installs it where it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.waiting import eventually

#: the command, overridable for a machine where it lives elsewhere
POUCHDB = os.environ.get("WEBHOOKSD_TEST_POUCHDB", "pouchdb-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class CouchServer:
    """One pouchdb-server process; ``url`` is its base URL."""

    workdir: Path
    port: int = field(default_factory=_free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = shutil.which(POUCHDB)
        if command is None:
            raise RuntimeError(f"{POUCHDB} is not installed (npm install -g pouchdb-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            command,
            "--in-memory",
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            cwd=self.workdir,  # it writes its log and config files into the working directory
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as http:

            async def answers() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url) as resp:
                        return resp.status == 200
                return False

            await eventually(answers, timeout=30, what="pouchdb-server answering")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        self.process = None

    async def put(self, db: str, doc: Mapping[str, Any]) -> str:
        """Create the database if needed and write ``doc`` (its ``_rev`` if it has one); the
        new revision."""
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{self.url}/{db}") as resp:
                assert resp.status in (201, 412), resp.status
            async with http.put(f"{self.url}/{db}/{doc['_id']}", json=dict(doc)) as resp:
                body = await resp.json(content_type=None)
                assert resp.status == 201, body
                rev: str = body["rev"]
                return rev

    async def bulk(self, db: str, docs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Create the database if needed and write ``docs`` in one ``_bulk_docs``; the new
        revision of each id."""
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{self.url}/{db}") as resp:
                assert resp.status in (201, 412), resp.status
            payload = {"docs": [dict(d) for d in docs]}
            async with http.post(f"{self.url}/{db}/_bulk_docs", json=payload) as resp:
                body = await resp.json(content_type=None)
                assert resp.status == 201, body
        assert all("rev" in row for row in body), body
        return {row["id"]: row["rev"] for row in body}

    async def put_attachment(
        self, db: str, doc_id: str, rev: str, name: str, data: bytes, content_type: str
    ) -> str:
        """Attach ``data`` to the document at ``rev``; the document's new revision."""
        url = f"{self.url}/{db}/{doc_id}/{name}"
        async with (
            aiohttp.ClientSession() as http,
            http.put(
                url, params={"rev": rev}, data=data, headers={"Content-Type": content_type}
            ) as resp,
        ):
            body = await resp.json(content_type=None)
            assert resp.status == 201, body
            new_rev: str = body["rev"]
            return new_rev

    async def get(self, db: str, doc_id: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/{db}/{doc_id}") as resp:
            assert resp.status == 200, resp.status
            doc: dict[str, Any] = await resp.json(content_type=None)
            return doc

    async def update(self, db: str, doc_id: str, **changes: Any) -> str:
        """Change fields of a stored document (a new revision); the new revision."""
        doc = await self.get(db, doc_id)
        doc.update(changes)
        return await self.put(db, doc)

    async def delete(self, db: str, doc_id: str) -> None:
        doc = await self.get(db, doc_id)
        async with aiohttp.ClientSession() as http:
            url = f"{self.url}/{db}/{doc_id}"
            async with http.delete(url, params={"rev": doc["_rev"]}) as resp:
                assert resp.status == 200, resp.status
