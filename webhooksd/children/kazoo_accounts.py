"""The ``kazoo_accounts`` child: a live mirror of Kazoo's ``accounts`` database in the store.

Beside a real Kazoo the events name Kazoo's account ids, so webhooksd must know Kazoo's
accounts under the same ids, in the same tree. This child reads the ``accounts`` database in
full once (``_all_docs`` pages, after noting its ``update_seq``), then follows ``_changes``
from a checkpoint kept in the store's settings, so a restart or a CouchDB outage resumes where
it stopped instead of reading everything again. Each change is written to the store and
announced on the ``configuration`` exchange (the notice the config listener already hears),
so every instance's hook table has it within a moment.

Several instances may run it on one shared store: writes are upserts keyed by the CouchDB
revision (an older copy never replaces a newer one) and a re-applied change is harmless, so
concurrent mirrors cost duplicate work and duplicate notices, not wrong data.

While CouchDB cannot be reached the last known accounts keep serving; the outage is logged
once per ``log_interval_s`` (not per retry), retried with backoff, shown by :attr:`in_step`
(``/readyz``'s ``kazoo_accounts`` check) and by the sync-age gauge, and caught up afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from yarl import URL

from webhooksd.accounts import MASTER_ACCOUNT_KEY
from webhooksd.bus import Bus
from webhooksd.errors import BusError, CouchError, StoreError
from webhooksd.kazoo import accounts as kazoo
from webhooksd.kazoo.couch import Couch
from webhooksd.kazoo.docchanges import (
    ALL_ACCOUNTS,
    publish_account_change,
    publish_hook_change,
)
from webhooksd.records import Account
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import SYSTEM, Store

log = structlog.get_logger(__name__)

#: the SYSTEM setting holding where the mirror resumes: ``{"source": …, "seq": …}``
CHECKPOINT_KEY = "kazoo_accounts_checkpoint"

#: change notices published concurrently while a page of accounts is announced
_NOTICES_IN_FLIGHT = 100


def source_of(url: str) -> str:
    """The CouchDB the checkpoint belongs to, without credentials: pointed at another
    CouchDB, the mirror reads in full again rather than resume from a foreign sequence."""
    parsed = URL(url)
    return str(parsed.with_user(None).with_password(None).with_query(None)).rstrip("/")


class KazooAccounts:
    """The supervised child; :attr:`loaded` and :attr:`in_step` feed ``/readyz``."""

    def __init__(
        self,
        *,
        url: str,
        store: Store,
        bus: Bus,
        metrics: Metrics,
        node: str,
        wait_s: float = 25.0,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        log_interval_s: float = 60.0,
        page_size: int = 1000,
    ) -> None:
        self._url = url
        self._source = source_of(url)
        self._store = store
        self._bus = bus
        self._metrics = metrics
        self._node = node
        self._wait_s = wait_s
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._log_interval_s = log_interval_s
        # documents per _all_docs page, _changes answer and store transaction
        self._page_size = page_size
        self._loaded = False
        self._in_step = False
        self._last_sync = time.monotonic()
        self._outage_since: float | None = None
        self._outage_logged = 0.0
        self._retries = 0
        self._backoff_s = min_backoff_s
        #: documents read from CouchDB since this process started (full reads and changes)
        self.docs_read = 0
        metrics.kazoo_accounts_sync_age.set_function(lambda: time.monotonic() - self._last_sync)

    @property
    def loaded(self) -> bool:
        """The store holds Kazoo's accounts: the first full read finished, or (resuming from
        a checkpoint) the first catch-up of ``_changes`` did."""
        return self._loaded

    @property
    def in_step(self) -> bool:
        """The last request to CouchDB succeeded (False during an outage)."""
        return self._in_step

    async def __call__(self, handle: ChildHandle) -> None:
        # ready at once: the daemon must start (and deliver with the accounts it has) while
        # CouchDB is away; /readyz waits for ``loaded`` instead
        handle.ready()
        while True:
            try:
                async with Couch.open(self._url, timeout_s=30.0) as couch:
                    await self._follow(couch)
            except (CouchError, StoreError, BusError) as exc:
                # the store or the broker away is an outage of the mirror too: crashing
                # would soon make the supervisor give up on the whole daemon. Nothing is lost:
                # the checkpoint moves only after a page is written and announced
                self._unreachable(exc)
                await asyncio.sleep(self._backoff_s)
                self._backoff_s = min(self._backoff_s * 2, self._max_backoff_s)

    # -- one session with CouchDB ----------------------------------------------------------
    async def _follow(self, couch: Couch) -> None:
        await self._read_master(couch)
        since = await self._checkpoint()
        if since is None:
            since = await self.full_read(couch)
        elif await couch.update_seq(kazoo.ACCOUNTS_DB) == since:
            self._caught_up()  # nothing changed while this instance was away
        self._recovered()
        while True:
            # until caught up, poll briefly: a long poll on a feed with nothing new would keep
            # /readyz waiting for the whole wait
            wait_s = self._wait_s if self._loaded else min(1.0, self._wait_s)
            changes = await couch.changes(
                kazoo.ACCOUNTS_DB, since=since, wait_s=wait_s, limit=self._page_size
            )
            self._recovered()
            docs = []
            for result in changes.results:
                doc = result.get("doc")
                if not isinstance(doc, Mapping):
                    doc = {"_id": result.get("id"), "_deleted": result.get("deleted") is True}
                docs.append(doc)
            changed = await self._apply(docs)
            if changes.last_seq != since:
                since = changes.last_seq
                await self._save_checkpoint(since)
            if changed:
                await self._count_accounts()
            if len(changes.results) < self._page_size:
                self._caught_up()

    def _caught_up(self) -> None:
        if not self._loaded:
            self._loaded = True
            log.info("kazoo accounts caught up from the checkpoint", docs_read=self.docs_read)

    async def full_read(self, couch: Couch) -> str:
        """Read every account document once; return the sequence ``_changes`` resumes from.
        The sequence is taken first, so whatever changes during the read comes again as a
        change (and applying it twice is harmless)."""
        started = time.monotonic()
        seq = await couch.update_seq(kazoo.ACCOUNTS_DB)
        if seq is None:
            raise CouchError(f"Kazoo's {kazoo.ACCOUNTS_DB!r} database does not exist")
        applied = 0
        page: list[Mapping[str, Any]] = []
        async for doc in couch.all_docs(kazoo.ACCOUNTS_DB, page_size=self._page_size):
            page.append(doc)
            if len(page) >= self._page_size:
                applied += await self._apply(page, announce=False)
                page = []
        applied += await self._apply(page, announce=False)
        # one notice for the lot: one per account made every instance re-read each account
        # and, on a real broker, took most of a 10,000-account read
        await publish_account_change(
            self._bus, "doc_edited", account_id=ALL_ACCOUNTS, node=self._node
        )
        await self._save_checkpoint(seq)
        await self._count_accounts()
        self._loaded = True
        log.info(
            "kazoo accounts read in full",
            accounts=applied,
            docs_read=self.docs_read,
            seconds=round(time.monotonic() - started, 2),
        )
        return seq

    # -- applying one document -------------------------------------------------------------
    async def _apply(self, docs: Sequence[Mapping[str, Any]], *, announce: bool = True) -> int:
        """Write a page of documents' accounts (and deletions); how many changed the store.
        Accounts go in one transaction per page: one each made the first full read of 10,000
        accounts take several times longer."""
        self.docs_read += len(docs)
        self._metrics.kazoo_accounts_docs_read.inc(len(docs))
        changed = 0
        upserts: list[tuple[Account, str | None]] = []
        for doc in docs:
            doc_id = doc.get("_id")
            if not isinstance(doc_id, str) or doc_id.startswith("_design/"):
                continue
            if kazoo.is_deleted(doc):
                changed += await self._delete(doc_id)
                continue
            mapped = kazoo.from_kazoo(doc)
            if mapped is not None:
                upserts.append((mapped.account, mapped.api_key_hash))
        if not upserts:
            return changed
        # skipped ones: the store has a newer revision (another mirror got there first)
        written = await self._store.put_mirrored_accounts(upserts)
        # doc_edited for new accounts too: the config listener re-reads the account either
        # way, and telling new from known would cost a read per account. A hundred notices in
        # flight at once: one confirmed publish after another made a first read of 10,000
        # accounts several times slower on a real broker
        for start in range(0, len(written) if announce else 0, _NOTICES_IN_FLIGHT):
            await asyncio.gather(
                *(
                    publish_account_change(
                        self._bus, "doc_edited", account_id=account_id, node=self._node
                    )
                    for account_id in written[start : start + _NOTICES_IN_FLIGHT]
                )
            )
        log.debug(
            "kazoo accounts mirrored", accounts=len(written), skipped=len(upserts) - len(written)
        )
        return changed + len(written)

    async def _delete(self, account_id: str) -> int:
        hooks = await self._store.list_hooks(account_id)
        if not await self._store.delete_account(account_id):
            return 0
        for hook in hooks:
            await publish_hook_change(
                self._bus, "doc_deleted", hook_id=hook.id, account_id=account_id, node=self._node
            )
        await publish_account_change(
            self._bus, "doc_deleted", account_id=account_id, node=self._node
        )
        log.info("kazoo account deleted", account_id=account_id, hooks=len(hooks))
        return 1

    async def _read_master(self, couch: Couch) -> None:
        config = await couch.get_doc(kazoo.SYSTEM_CONFIG_DB, kazoo.ACCOUNTS_CONFIG_DOC)
        master = kazoo.master_account_id(config)
        if master is None:
            log.warning("Kazoo names no master account (system_config/accounts)")
            return
        current = (await self._store.get_settings(SYSTEM)).get(MASTER_ACCOUNT_KEY)
        if current != master:
            await self._store.set_setting(SYSTEM, MASTER_ACCOUNT_KEY, master)
            log.info("master account taken from Kazoo", account_id=master, previous=current)

    # -- checkpoint, gauges, outage --------------------------------------------------------
    async def _checkpoint(self) -> str | None:
        saved = (await self._store.get_settings(SYSTEM)).get(CHECKPOINT_KEY)
        if isinstance(saved, dict) and saved.get("source") == self._source:
            seq = saved.get("seq")
            return seq if isinstance(seq, str) else None
        return None

    async def _save_checkpoint(self, seq: str) -> None:
        await self._store.set_setting(SYSTEM, CHECKPOINT_KEY, {"source": self._source, "seq": seq})

    async def _count_accounts(self) -> None:
        self._metrics.kazoo_accounts.set(await self._store.count_accounts())

    def _recovered(self) -> None:
        self._last_sync = time.monotonic()
        self._in_step = True
        self._backoff_s = self._min_backoff_s
        if self._outage_since is not None:
            log.info(
                "Kazoo accounts mirror resumed",
                seconds=round(time.monotonic() - self._outage_since, 1),
                retries=self._retries,
            )
            self._outage_since = None
            self._retries = 0

    def _unreachable(self, exc: Exception) -> None:
        self._in_step = False
        now = time.monotonic()
        self._retries += 1
        if self._outage_since is None:
            self._outage_since = now
        elif now - self._outage_logged < self._log_interval_s:
            return
        self._outage_logged = now
        log.warning(
            "Kazoo accounts mirror interrupted; serving the last known accounts",
            error=str(exc),
            seconds=round(now - self._outage_since, 1),
            retries=self._retries,
        )
