"""How a stored hook is shown and filtered (Kazoo ``kzd_webhooks``, the
``webhooks/crossbar_listing`` view's value mapper).

Secrets are never shown in full: ``secret``, Kazoo 5's ``security_settings.sha256_key`` and the
secrets of ``auth`` are masked, the
``uri`` and ``custom_request_headers`` redacted by :mod:`webhooksd.redaction` (the rule
attempt records and logs follow), and a write that carries a masked value back keeps the
stored one (so a client can POST back what it GOT).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from webhooksd.kazoo.timeutil import unix_to_gregorian
from webhooksd.records import HookDoc
from webhooksd.redaction import redact_headers, redact_url, restore_headers, restore_url
from webhooksd.transforms.authspec import AUTH_SECRET_FIELDS, mask_auth, restore_auth

#: fields a client may send back but never sets: the server computes them
READ_ONLY_FIELDS = ("id", "disable_reason")

#: Kazoo 5's HMAC key of ``v2`` payloads (``webhooks.json``: ``security_settings.sha256_key``)
SHA256_KEY_PATH = "security_settings.sha256_key"

#: the fields of a hook that hold secrets (dotted): never shown in full, never filtered on
SECRET_PATHS = (
    "secret",
    SHA256_KEY_PATH,
    *(f"auth.{field}" for field in AUTH_SECRET_FIELDS),
    "custom_request_headers",
)


def _redact_shown(doc: dict[str, Any]) -> None:
    """The ``uri`` and custom header values as the redaction rule shows them."""
    if isinstance(doc.get("uri"), str):
        doc["uri"] = redact_url(doc["uri"])
    headers = doc.get("custom_request_headers")
    if isinstance(headers, Mapping):
        doc["custom_request_headers"] = redact_headers(headers, lower=False)


def mask_secret(secret: str) -> str:
    """``whsec_…`` plus the last four characters (``…`` + four for other secrets)."""
    prefix = "whsec_" if secret.startswith("whsec_") else ""
    return f"{prefix}…{secret[-4:]}"


def _mask_sha256_key(doc: dict[str, Any]) -> None:
    """``security_settings.sha256_key`` masked as ``secret`` is (a copy: the stored document
    is shared)."""
    settings = doc.get("security_settings")
    if isinstance(settings, Mapping) and isinstance(settings.get("sha256_key"), str):
        doc["security_settings"] = {**settings, "sha256_key": mask_secret(settings["sha256_key"])}


def _restore_sha256_key(doc: dict[str, Any], stored: HookDoc | None) -> None:
    """A masked ``sha256_key`` sent back as shown is the stored one."""
    settings, kept = (
        doc.get("security_settings"),
        stored.doc.get("security_settings") if stored else None,
    )
    if not isinstance(settings, Mapping) or not isinstance(kept, Mapping):
        return
    key, stored_key = settings.get("sha256_key"), kept.get("sha256_key")
    if isinstance(key, str) and isinstance(stored_key, str) and key == mask_secret(stored_key):
        doc["security_settings"] = {**settings, "sha256_key": stored_key}


def public_doc(stored: HookDoc) -> dict[str, Any]:
    """The single-hook answer: the stored public doc, ``id``, and ``disable_reason`` when the
    server switched the hook off (Kazoo computes it but forgets to return it)."""
    doc = public_fields(stored.doc)
    secret = doc.get("secret")
    if isinstance(secret, str):
        doc["secret"] = mask_secret(secret)
    _mask_sha256_key(doc)
    auth = doc.get("auth")
    if isinstance(auth, Mapping):
        doc["auth"] = mask_auth(auth)
    _redact_shown(doc)
    doc["id"] = stored.id
    if stored.is_auto_disabled and stored.disabled_reason:
        doc["disable_reason"] = stored.disabled_reason
    return doc


def public_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Kazoo's ``kz_doc:public_fields/1``: what a client sees of a stored doc (an imported
    hook keeps Kazoo's ``_rev`` as ``pvt_kazoo_rev``)."""
    return {k: v for k, v in doc.items() if not k.startswith("pvt_")}


def keep_private(stored: HookDoc, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A client's validated doc plus the stored doc's private fields, which a client never
    sends: an imported hook edited here still knows the Kazoo revision it came from."""
    return {**{k: v for k, v in stored.doc.items() if k.startswith("pvt_")}, **doc}


def summary(stored: HookDoc) -> dict[str, Any]:
    """One item of ``GET /accounts/{A}/webhooks`` (the listing view's value)."""
    doc = stored.doc
    item: dict[str, Any] = {
        "id": stored.id,
        "hook": doc.get("hook"),
        "name": doc.get("name"),
        "uri": redact_url(doc["uri"]) if isinstance(doc.get("uri"), str) else doc.get("uri"),
        "enabled": doc.get("enabled", True) is not False,
    }
    if "group" in doc:
        item["group"] = doc["group"]
    if stored.is_auto_disabled and stored.disabled_reason:
        item["disable_reason"] = stored.disabled_reason
    return item


def filter_doc(stored: HookDoc) -> dict[str, Any]:
    """The full document Crossbar's filters see: public fields plus Kazoo's private ones."""
    doc: dict[str, Any] = {**stored.doc, "_id": stored.id, "id": stored.id}
    # a filter must not be an oracle for secrets: value filters on them are refused (see
    # SECRET_PATHS), and the document they would see holds none anyway
    if isinstance(doc.get("secret"), str):
        doc["secret"] = mask_secret(doc["secret"])
    _mask_sha256_key(doc)
    if isinstance(doc.get("auth"), Mapping):
        doc["auth"] = mask_auth(doc["auth"])
    _redact_shown(doc)
    doc.update(
        pvt_type="webhook",
        pvt_account_id=stored.account_id,
        pvt_account_db="webhooks",
        pvt_created=unix_to_gregorian(stored.created_ms / 1000),
        pvt_modified=unix_to_gregorian(stored.modified_ms / 1000),
    )
    if stored.disabled_reason is not None:
        doc["pvt_disabled_message"] = stored.disabled_reason
    return doc


def revision(stored: HookDoc) -> str:
    """CouchDB-shaped ``<n>-<md5>``: the counter the store keeps plus a digest of the doc."""
    digest = hashlib.md5(
        orjson.dumps(dict(stored.doc), option=orjson.OPT_SORT_KEYS), usedforsecurity=False
    ).hexdigest()
    return f"{stored.revision}-{digest}"


def incoming(data: Mapping[str, Any], stored: HookDoc | None) -> dict[str, Any]:
    """A client's hook document before validation: read-only fields dropped, a masked
    secret replaced by the stored one."""
    doc = {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}
    secret = doc.get("secret")
    stored_secret = stored.doc.get("secret") if stored is not None else None
    if (
        isinstance(secret, str)
        and isinstance(stored_secret, str)
        and secret == mask_secret(stored_secret)
    ):
        doc["secret"] = stored_secret
    _restore_sha256_key(doc, stored)
    if "auth" in doc and stored is not None:
        doc["auth"] = restore_auth(doc["auth"], stored.doc.get("auth"))
    if stored is not None:
        if "uri" in doc:
            doc["uri"] = restore_url(doc["uri"], stored.doc.get("uri"))
        if "custom_request_headers" in doc:
            doc["custom_request_headers"] = restore_headers(
                doc["custom_request_headers"], stored.doc.get("custom_request_headers")
            )
    return doc
