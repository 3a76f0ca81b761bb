"""A small client for Kazoo's CouchDB: documents, ``_all_docs`` pages, ``_changes``, attachments.

Only what the Kazoo bridge needs, and only what CouchDB 2.x/3.x documents (the tests run it
against pouchdb-server, a CouchDB-compatible server): no views, no Mango. One
:class:`aiohttp.ClientSession` per client, opened with :meth:`Couch.open`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from webhooksd.errors import CouchError

#: documents per ``_all_docs`` page: large enough to read 10,000 accounts in a few requests,
#: small enough that one page of Kazoo account documents stays a few megabytes
PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Changes:
    """One answer of ``_changes``: the changed documents and the sequence to resume from."""

    results: tuple[Mapping[str, Any], ...]
    last_seq: str


def _seq(value: object) -> str:
    # CouchDB 2+ sequences are opaque strings, CouchDB 1.x and PouchDB use integers: keep the
    # text either way and hand it back unchanged
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class Couch:
    """CouchDB over HTTP; the URL may carry ``user:pass@`` (sent as basic auth)."""

    def __init__(self, session: aiohttp.ClientSession, base: URL) -> None:
        self._session = session
        self._base = base

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, *, timeout_s: float = 30.0) -> AsyncIterator[Couch]:
        parsed = URL(url)
        auth = (
            aiohttp.BasicAuth(parsed.user or "", parsed.password or "")
            if parsed.user is not None
            else None
        )
        base = parsed.with_user(None).with_password(None)
        async with aiohttp.ClientSession(
            auth=auth, timeout=aiohttp.ClientTimeout(total=timeout_s), trust_env=False
        ) as session:
            yield cls(session, base)

    def _url(self, db: str, *path: str) -> URL:
        # database names such as ``account%2Fab%2Fcd%2F…`` must reach CouchDB still encoded
        parts = "/".join(quote(p, safe="") for p in (db, *path))
        return URL(f"{str(self._base).rstrip('/')}/{parts}", encoded=True)

    async def _get(
        self, url: URL, params: Mapping[str, str] | None = None, *, timeout_s: float | None = None
    ) -> Any:
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s is not None else None
        try:
            async with self._session.get(url, params=params, timeout=timeout) as resp:
                body = await resp.read()
                if resp.status == 404:
                    return None
                if resp.status >= 400:
                    raise CouchError(f"GET {url.path} answered {resp.status}: {body[:200]!r}")
                return orjson.loads(body)
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise CouchError(f"GET {url.path} failed: {exc!r}") from exc

    async def get_doc(self, db: str, doc_id: str) -> dict[str, Any] | None:
        """The document, or None when it (or the database) does not exist."""
        doc = await self._get(self._url(db, doc_id))
        return doc if isinstance(doc, dict) else None

    async def attachment(self, db: str, doc_id: str, name: str) -> bytes | None:
        """An attachment's bytes, or None when there is none."""
        url = self._url(db, doc_id, name)
        try:
            async with self._session.get(url) as resp:
                if resp.status == 404:
                    return None
                if resp.status >= 400:
                    raise CouchError(f"GET {url.path} answered {resp.status}")
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CouchError(f"GET {url.path} failed: {exc!r}") from exc

    async def update_seq(self, db: str) -> str | None:
        """The database's current sequence (where a full read's ``_changes`` resumes), or None
        when the database does not exist."""
        info = await self._get(self._url(db))
        return _seq(info["update_seq"]) if isinstance(info, dict) else None

    async def all_docs(
        self, db: str, *, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[dict[str, Any]]:
        """Every document of ``db`` (design documents included), read a page at a time."""
        start: str | None = None
        while True:
            params = {"include_docs": "true", "limit": str(page_size + 1)}
            if start is not None:
                params["startkey"] = orjson.dumps(start).decode()
            page = await self._get(self._url(db, "_all_docs"), params)
            if page is None:
                return
            rows = page.get("rows", [])
            for row in rows[:page_size]:
                if isinstance(row.get("doc"), dict):
                    yield row["doc"]
            if len(rows) <= page_size:
                return
            start = rows[page_size]["id"]

    async def changes(
        self, db: str, *, since: str, wait_s: float, limit: int = PAGE_SIZE
    ) -> Changes:
        """Changes after ``since`` with their documents; waits up to ``wait_s`` for one.

        The wait is enforced here as well as asked of the server, since pouchdb-server does
        not honour ``timeout`` on a long poll: an empty answer is returned when it passes.
        """
        params = {
            "feed": "longpoll",
            "since": since,
            "include_docs": "true",
            "limit": str(limit),
            "timeout": str(int(wait_s * 1000)),
        }
        try:
            answer = await self._get(self._url(db, "_changes"), params, timeout_s=wait_s + 5)
        except CouchError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                return Changes((), since)
            raise
        if answer is None:
            raise CouchError(f"database {db} does not exist")
        results = tuple(r for r in answer.get("results", []) if isinstance(r, dict))
        return Changes(results, _seq(answer.get("last_seq", since)))
