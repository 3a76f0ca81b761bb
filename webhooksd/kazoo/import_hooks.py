"""Copying Kazoo's hooks into the store (``webhooksd kazoo import-hooks``).

Kazoo keeps every hook in the ``webhooks`` database (``pvt_type: "webhook"``, the owner in
``pvt_account_id``, Crossbar's public fields beside; ``webhooks_util:load_hooks``). Each one is
copied under its own ``_id`` after the same validation the API applies, so what the import lets
in is what ``PUT /v2/accounts/{A}/webhooks`` would have let in. Kazoo's ``_rev`` is kept in the
stored document's private ``pvt_kazoo_rev``: a second import leaves an unchanged document alone
and updates a changed one. An auto-disabled hook (``enabled: false`` with
``pvt_disabled_message``, ``kzd_webhooks:is_auto_disabled/1``) keeps Kazoo's reason.

Hooks deleted from Kazoo after an import are not deleted here: the import only adds and updates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from webhooksd.api.envelope import Refusal
from webhooksd.api.validation import validate_hook
from webhooksd.errors import Conflict, CouchError
from webhooksd.kazoo.couch import Couch
from webhooksd.kazoo.docchanges import WEBHOOKS_DB, DocAction
from webhooksd.kazoo.timeutil import gregorian_to_unix
from webhooksd.records import HookDoc
from webhooksd.store import Store

log = structlog.get_logger(__name__)

#: where the stored document keeps the Kazoo revision it was copied from
KAZOO_REV = "pvt_kazoo_rev"

#: told about each hook the import created or changed (to publish the change notice)
OnChange = Callable[[DocAction, HookDoc], Awaitable[None]]


@dataclass(slots=True)
class Tally:
    """What the import did with one account's hooks."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def line(self, account_id: str) -> str:
        return (
            f"account {account_id}: {self.imported} imported, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped"
        )


@dataclass(frozen=True, slots=True)
class Skip:
    """A Kazoo hook document that was not imported, and why."""

    hook_id: str
    account_id: str
    reason: str

    def line(self) -> str:
        return f"skipped {self.hook_id} (account {self.account_id}): {self.reason}"


@dataclass(slots=True)
class Report:
    """The outcome of one import: a tally per account (in the order first met) and the skips."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [t.line(a) for a, t in self.tallies.items()] + [s.line() for s in self.skips]

    def total(self, kind: str) -> int:
        return sum(int(getattr(t, kind)) for t in self.tallies.values())


def public_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Kazoo's ``kz_doc:public_fields/1``: the document without ``_*``, ``pvt_*`` and ``id``."""
    return {k: v for k, v in doc.items() if not k.startswith(("_", "pvt_")) and k != "id"}


def refusal_reason(refusal: Refusal) -> str:
    """The validator's errors on one line: ``key.code: message`` for each."""
    if not isinstance(refusal.data, Mapping):
        return refusal.message
    parts = []
    for key, codes in refusal.data.items():
        for code, entry in codes.items() if isinstance(codes, Mapping) else ():
            message = entry.get("message") if isinstance(entry, Mapping) else entry
            parts.append(f"{key}.{code}: {message}")
    return "; ".join(parts) or refusal.message


def _created_ms(doc: Mapping[str, Any]) -> int:
    created = doc.get("pvt_created")
    if isinstance(created, int) and not isinstance(created, bool) and created > 0:
        return gregorian_to_unix(created) * 1000
    return 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Importer:
    """One import run's fixed inputs: the store, the hook types known, the URI policy."""

    store: Store
    module_meta: Mapping[str, Mapping[str, Any]]
    allow_private: bool
    on_change: OnChange

    def candidate(self, doc: Mapping[str, Any]) -> HookDoc | str:
        """The hook to store for a Kazoo document, or why it cannot be stored."""
        try:
            validated = validate_hook(
                public_fields(doc),
                module_meta=self.module_meta,
                allow_private=self.allow_private,
                # the operator importing acts for the whole platform, as Kazoo's master does
                is_master=True,
            )
        except Refusal as refusal:
            return f"invalid: {refusal_reason(refusal)}"
        validated[KAZOO_REV] = str(doc.get("_rev", ""))
        enabled = validated.get("enabled", True) is not False
        message = doc.get("pvt_disabled_message")
        reason = message if not enabled and isinstance(message, str) and message else None
        return HookDoc(
            id=str(doc["_id"]),
            account_id=str(doc["pvt_account_id"]),
            doc=validated,
            disabled_reason=reason,
            created_ms=_created_ms(doc),
        )

    async def one(
        self, doc: Mapping[str, Any], account_id: str, stored: Mapping[str, HookDoc] | None
    ) -> str:
        """imported/updated/unchanged for one Kazoo document, or why it was skipped;
        ``stored`` is the account's hooks by id, None when the account is unknown."""
        if stored is None:
            return f"account {account_id} is not known to webhooksd"
        hook = self.candidate(doc)
        if isinstance(hook, str):
            return hook
        return await self.save(hook, stored.get(hook.id))

    async def save(self, hook: HookDoc, existing: HookDoc | None) -> str:
        """Create or update ``hook``; which of imported/updated/unchanged it was, or a reason
        to skip it."""
        if existing is None:
            try:
                await self.store.create_hook(hook)
            except Conflict:
                # the id is taken by another account's hook (ours, not Kazoo's)
                other = await self.store.get_hook(hook.id)
                owner = other.account_id if other is not None else "another account"
                return f"the id is already a hook of account {owner}"
            await self.on_change("doc_created", hook)
            return "imported"
        if existing.doc.get(KAZOO_REV) == hook.doc[KAZOO_REV]:
            return "unchanged"
        try:
            saved = await self.store.update_hook(
                replace(existing, doc=hook.doc, disabled_reason=hook.disabled_reason)
            )
        except Conflict:
            return "changed in webhooksd while importing; run the import again"
        await self.on_change("doc_edited", saved)
        return "updated"


async def import_hooks(
    couch: Couch,
    store: Store,
    *,
    module_meta: Mapping[str, Mapping[str, Any]],
    allow_private: bool,
    on_change: OnChange,
) -> Report:
    """Copy every hook document of Kazoo's ``webhooks`` database into ``store``.

    Raises :class:`CouchError` when CouchDB cannot be read (or has no ``webhooks`` database);
    a document that cannot be imported is a :class:`Skip` in the report, never an exception.
    """
    if await couch.update_seq(WEBHOOKS_DB) is None:
        raise CouchError(f"Kazoo's CouchDB has no {WEBHOOKS_DB!r} database")
    importer = Importer(
        store=store, module_meta=module_meta, allow_private=allow_private, on_change=on_change
    )
    report = Report()
    # the stored hooks of each account, read once when the account is first met
    known: dict[str, dict[str, HookDoc] | None] = {}
    async for doc in couch.all_docs(WEBHOOKS_DB):
        if doc.get("pvt_type") != "webhook":
            continue  # design documents and anything else that is not a hook
        account_id = doc.get("pvt_account_id")
        account_key = account_id if isinstance(account_id, str) and account_id else "(none)"
        tally = report.tallies.setdefault(account_key, Tally())
        if account_key not in known:
            exists = await store.get_account(account_key) is not None
            known[account_key] = (
                {h.id: h for h in await store.list_hooks(account_key)} if exists else None
            )
        hook_id = str(doc["_id"])
        outcome = await importer.one(doc, account_key, known[account_key])
        if outcome in ("imported", "updated", "unchanged"):
            setattr(tally, outcome, getattr(tally, outcome) + 1)
        else:
            tally.skipped += 1
            report.skips.append(Skip(hook_id, account_key, outcome))
            log.info("kazoo hook skipped", hook_id=hook_id, account_id=account_key, reason=outcome)
    log.info(
        "kazoo hooks imported",
        imported=report.total("imported"),
        updated=report.total("updated"),
        unchanged=report.total("unchanged"),
        skipped=report.total("skipped"),
    )
    return report
