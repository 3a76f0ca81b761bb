"""An account's webhooks (Kazoo ``cb_webhooks``: summary, create, fetch, replace, patch,
delete, bulk re-enable) and the test-fire endpoint.

Every write publishes Kazoo's document-change notice on ``configuration`` so that the hook
table of every instance follows. Hook ids of another account are 404, as if unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from webhooksd.errors import Conflict
from webhooksd.hooks.reenable import reenable
from webhooksd.kazoo.docchanges import DocAction, publish_hook_change
from webhooksd.kazoo.ids import new_id
from webhooksd.kazoo.timeutil import now_gregorian
from webhooksd.records import ALL_HOOK, Hook, HookDoc

from . import hookdocs
from .attempts import attempt_item
from .catalogue import load_samples
from .envelope import Refusal, Reply, bad_identifier, list_revision, validation_error
from .paging import doc_filter, is_true, page_request, page_sorted
from .request import Call
from .validation import validate_hook

log = structlog.get_logger(__name__)


def _conflict() -> Refusal:
    return Refusal(409, "datastore_conflict", {"message": "conflicting documents"})


def _location(account_id: str, hook_id: str) -> str:
    return f"/v2/accounts/{account_id}/webhooks/{hook_id}"


async def owned_hook(call: Call) -> HookDoc:
    """The URL's hook, which must belong to the URL's account (else 404, as if unknown)."""
    hook_id = call.path["hook_id"]
    if _CONTROL.search(hook_id):  # no stored id has one (refused at create)
        raise bad_identifier(hook_id.encode("unicode_escape").decode()[:128])
    stored = await call.deps.store.get_hook(hook_id)
    if stored is None or stored.account_id != call.account_id:
        raise bad_identifier(hook_id)
    return stored


async def _validated(call: Call, doc: Any) -> dict[str, Any]:
    return validate_hook(
        doc,
        module_meta=await call.deps.store.list_module_meta(),
        allow_private=call.deps.settings.allow_private_targets,
        is_master=call.identity is not None and call.identity.is_master,
    )


def _unchanged_legacy_data(doc: Mapping[str, Any], stored: HookDoc | None) -> dict[str, Any]:
    """``custom_data`` values that are not strings, which older clients and Kazoo imports
    stored before the schema wanted strings, sent back exactly as stored: a client that
    writes back what it read is not refused for them, and they stay (a new one is refused)."""
    sent = doc.get("custom_data")
    kept = stored.doc.get("custom_data") if stored is not None else None
    if not isinstance(sent, Mapping) or not isinstance(kept, Mapping):
        return {}
    return {
        k: v
        for k, v in sent.items()
        if not isinstance(v, str) and k in kept and type(kept[k]) is type(v) and kept[k] == v
    }


async def _validated_keeping(
    call: Call, doc: dict[str, Any], stored: HookDoc | None
) -> dict[str, Any]:
    """:func:`_validated`, with the unchanged legacy ``custom_data`` values set aside."""
    legacy = _unchanged_legacy_data(doc, stored)
    if not legacy:
        return await _validated(call, doc)
    custom = {k: v for k, v in doc["custom_data"].items() if k not in legacy}
    valid = await _validated(call, {**doc, "custom_data": custom})
    valid["custom_data"] = {**valid.get("custom_data", {}), **legacy}
    return valid


async def _announce(call: Call, action: DocAction, hook_id: str) -> None:
    await publish_hook_change(
        call.deps.bus,
        action,
        hook_id=hook_id,
        account_id=call.account_id,
        node=call.deps.settings.node,
    )


def _reply(stored: HookDoc, status: int = 200) -> Reply:
    return Reply(
        data=hookdocs.public_doc(stored), status=status, revision=hookdocs.revision(stored)
    )


async def list_hooks(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks``: summaries by id, descending by default."""
    keep = doc_filter(call, secret_paths=hookdocs.SECRET_PATHS)
    hooks = [
        h for h in await call.deps.store.list_hooks(call.account_id) if keep(hookdocs.filter_doc(h))
    ]
    page, paging = page_sorted(hooks, lambda h: h.id, page_request(call))
    items = [hookdocs.summary(h) for h in page]
    return Reply(
        data=items, page_size=paging is not None, paging=paging, revision=list_revision(items)
    )


#: the literal segments after ``/webhooks/``: a hook with such an id could be created but
#: never read, edited or deleted under ``/webhooks/{id}`` (the literal route wins)
RESERVED_IDS = frozenset({"attempts", "samples", "health", "alerts", "replay"})
#: characters no id may hold: C0 controls (NUL dropped the connection: it cannot be put in
#: a Location header) and DEL
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _client_id(data: Mapping[str, Any]) -> str:
    """A client-supplied ``data.id`` becomes the document id (Crossbar's PUT)."""
    supplied = data.get("id")
    if supplied is None:
        return new_id()
    if (
        not isinstance(supplied, str)
        or not supplied
        or "/" in supplied
        or len(supplied) > 128
        or _CONTROL.search(supplied)
        or supplied in (".", "..")
    ):
        shown = (
            supplied.encode("unicode_escape").decode() if isinstance(supplied, str) else supplied
        )
        raise validation_error({"id": {"type": {"message": "invalid document id", "value": shown}}})
    if supplied in RESERVED_IDS:
        message = f"{supplied} is a path of the webhooks API, not a hook id"
        raise validation_error({"id": {"reserved": {"message": message, "value": supplied}}})
    return supplied


async def create_hook(call: Call) -> Reply:
    """``PUT /accounts/{A}/webhooks``: 201 with the stored doc and a ``Location`` path."""
    data = call.data_object
    doc = await _validated(call, hookdocs.incoming(data, None))
    hook_id = _client_id(data)
    try:
        stored = await call.deps.store.create_hook(
            HookDoc(id=hook_id, account_id=call.account_id, doc=doc)
        )
    except Conflict:
        raise _conflict() from None
    await _announce(call, "doc_created", stored.id)
    log.info("hook created", account_id=call.account_id, hook_id=stored.id)
    return replace(_reply(stored, 201), location=_location(call.account_id, stored.id))


async def get_hook(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks/{ID}``."""
    return _reply(await owned_hook(call))


async def _save(call: Call, stored: HookDoc, doc: dict[str, Any]) -> Reply:
    """Save a replaced or patched doc; switching a hook on clears the auto-disable marker
    and stops counting its old failures (else the disabler would switch it off again)."""
    enabled = doc.get("enabled", True) is not False
    reason = None if enabled else stored.disabled_reason
    try:
        saved = await call.deps.store.update_hook(
            replace(stored, doc=hookdocs.keep_private(stored, doc), disabled_reason=reason)
        )
    except Conflict:
        raise _conflict() from None
    if enabled and stored.is_auto_disabled:
        await call.deps.store.flush_failures(call.account_id, stored.id)
    await _announce(call, "doc_edited", saved.id)
    log.info("hook saved", account_id=call.account_id, hook_id=saved.id, enabled=enabled)
    return _reply(saved)


async def replace_hook(call: Call) -> Reply:
    """``POST /accounts/{A}/webhooks/{ID}``: a full replace, defaults re-applied. As in
    Crossbar a schema error (400) wins over an unknown id (404)."""
    hook_id = call.path["hook_id"]
    found = await call.deps.store.get_hook(hook_id)
    stored = found if found is not None and found.account_id == call.account_id else None
    doc = await _validated_keeping(call, hookdocs.incoming(call.data_object, stored), stored)
    if stored is None:
        raise bad_identifier(hook_id)
    return await _save(call, stored, doc)


async def patch_hook(call: Call) -> Reply:
    """``PATCH /accounts/{A}/webhooks/{ID}``: shallow merge, ``null`` deletes, then validate."""
    stored = await owned_hook(call)
    merged = dict(stored.doc)
    for key, value in hookdocs.incoming(call.data_object, stored).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return await _save(call, stored, await _validated_keeping(call, merged, stored))


async def delete_hook(call: Call) -> Reply:
    """``DELETE /accounts/{A}/webhooks/{ID}``: the last doc plus ``_read_only.deleted``."""
    stored = await owned_hook(call)
    if await call.deps.store.delete_hook(stored.id) is None:
        raise bad_identifier(stored.id)
    await _announce(call, "doc_deleted", stored.id)
    log.info("hook deleted", account_id=call.account_id, hook_id=stored.id)
    data = {**hookdocs.public_doc(stored), "_read_only": {"deleted": True}}
    return Reply(data=data)


async def _reenable(call: Call, *, descendants: bool) -> Reply:
    flag = call.param("re-enable")
    if flag is None:
        message = "re-enable is required to patch collections"
        raise validation_error({"re-enable": {"required": {"message": message}}})
    if not is_true(flag):
        enum = {"message": "value not found in enumerated list of values", "target": [True]}
        raise validation_error({"re-enable": {"enum": enum}})
    ids = await reenable(
        call.deps.store,
        call.deps.bus,
        call.account_id,
        descendants=descendants,
        node=call.deps.settings.node,
    )
    log.info("bulk re-enable", account_id=call.account_id, count=len(ids), descendants=descendants)
    return Reply(data="hooks updated")


async def reenable_account(call: Call) -> Reply:
    """``PATCH /accounts/{A}/webhooks`` with ``re-enable``."""
    return await _reenable(call, descendants=False)


async def reenable_descendants(call: Call) -> Reply:
    """``PATCH /accounts/{A}/descendants/webhooks`` with ``re-enable``."""
    return await _reenable(call, descendants=True)


def test_payload(hook: str, account_id: str) -> dict[str, Any]:
    """The first Kazoo sample of the hook type (``channel_create``'s for ``all``) with the
    account replaced; a minimal payload for types without samples."""
    samples = load_samples(f"webhooks_{'channel_create' if hook == ALL_HOOK else hook}")
    if samples:
        return {**samples[0], "account_id": account_id}
    return {
        "hook_event": hook,
        "account_id": account_id,
        "timestamp": now_gregorian(),
        "test": True,
    }


def edited_payload(call: Call) -> dict[str, Any] | None:
    """``data.payload``: the payload the developer edited (from the sample), or None for the
    sample. Bounded by the request's own limits (body size, nesting depth); anything but a
    JSON object is a 400 naming ``payload``. ``payload`` sits under ``data`` (as for
    ``bus/publish``) so that its own ``_*``/``pvt_*`` keys are sent as written, not
    stripped as ``data``'s are."""
    data = call.data_object
    if "payload" not in data or data["payload"] is None:
        return None
    payload = data["payload"]
    if not isinstance(payload, dict):
        kind = {"message": "Value did not match type(s): object", "target": "object"}
        raise validation_error({"payload": {"type": kind}})
    return payload


async def test_hook(call: Call) -> Reply:
    """``POST /accounts/{A}/webhooks/{ID}/test``: send the sample payload now, or
    ``data.payload`` when given (one attempt through the dispatcher, recorded, never
    retried)."""
    stored = await owned_hook(call)
    hook = Hook.from_doc(stored)
    payload = edited_payload(call)
    if payload is None:
        payload = test_payload(hook.hook, call.account_id)
    attempt = await call.deps.tester.send_test(hook, payload)
    log.info("hook test sent", account_id=call.account_id, hook_id=stored.id, result=attempt.result)
    return Reply(data=attempt_item(attempt))
