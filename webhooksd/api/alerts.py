"""An account's alert settings (our addition): where the account is told that the server
disabled one of its hooks, and that a hook disabled that way delivers again.

``GET``, ``POST`` (replace) and ``PATCH`` (merge; ``null`` deletes a key) of
``/accounts/{A}/webhooks/alerts``; kept in the account's settings, so a parent may set them
for a sub-account as it may its hooks. The secret is never shown back in full (as a hook's),
and a write carrying the masked value back keeps the stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from webhooksd.alerts.account import (
    MAX_EMAIL_LENGTH,
    MAX_EMAILS,
    MAX_URL_LENGTH,
    SETTINGS_KEY,
    AccountAlerts,
    address_valid,
)

from .envelope import Reply, validation_error
from .hookdocs import mask_secret
from .request import Call
from .validation import secret_allowed, uri_allowed

log = structlog.get_logger(__name__)

FIELDS = ("emails", "url", "secret")
#: shown, computed by the server: a client may send them back, and they are ignored
READ_ONLY = ("email_enabled",)
#: the schema's limits of a hook's ``secret``
SECRET_MIN, SECRET_MAX = 24, 256

Errors = dict[str, dict[str, Any]]


def _error(code: str, message: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": message, **extra}
    if value is not None:
        entry["value"] = value
    return {code: entry}


def _emails(value: Any, errors: Errors) -> tuple[str, ...]:
    if not isinstance(value, list):
        errors["emails"] = _error("type", "Value did not match type(s): array", value)
        return ()
    if len(value) > MAX_EMAILS:
        errors["emails"] = _error(
            "maxItems", f"List must not have more than {MAX_EMAILS} items", target=MAX_EMAILS
        )
        return ()
    for n, address in enumerate(value):
        if not isinstance(address, str):
            errors[f"emails.{n}"] = _error("type", "Value did not match type(s): string", address)
        elif len(address) > MAX_EMAIL_LENGTH:
            errors[f"emails.{n}"] = _error(
                "maxLength",
                f"String must not be more than {MAX_EMAIL_LENGTH} characters",
                target=MAX_EMAIL_LENGTH,
            )
        elif not address_valid(address):
            errors[f"emails.{n}"] = _error("format", "invalid e-mail address", address)
    # the same address twice would get each alert twice
    return tuple(dict.fromkeys(a.strip() for a in value if isinstance(a, str)))


def _url(value: Any, errors: Errors, *, allow_private: bool) -> str | None:
    if not isinstance(value, str):
        errors["url"] = _error("type", "Value did not match type(s): string", value)
    elif len(value) > MAX_URL_LENGTH:
        errors["url"] = _error(
            "maxLength",
            f"String must not be more than {MAX_URL_LENGTH} characters",
            target=MAX_URL_LENGTH,
        )
    elif not uri_allowed(value, allow_private=allow_private):
        errors["url"] = _error("error", "invalid client URL", value)
    else:
        return value
    return None


def _secret(value: Any, errors: Errors) -> str | None:
    # the value is never echoed: it is a secret, or a mistyped one
    if not isinstance(value, str):
        errors["secret"] = _error("type", "Value did not match type(s): string")
    elif not SECRET_MIN <= len(value) <= SECRET_MAX:
        errors["secret"] = _error(
            "minLength" if len(value) < SECRET_MIN else "maxLength",
            f"String must be {SECRET_MIN} to {SECRET_MAX} characters",
        )
    elif not secret_allowed(value):
        errors["secret"] = _error("format", "not a whsec_ secret (base64 of 24 to 64 bytes)")
    else:
        return value
    return None


def validate(doc: Mapping[str, Any], *, allow_private: bool) -> AccountAlerts:
    """An alert settings document (absent and ``null`` keys unset) → the settings, or the
    Crossbar 400 naming every problem at once."""
    errors: Errors = {}
    for key in doc:
        if key not in FIELDS:
            # a settings object has no free-form keys: a typo ("email") would otherwise be
            # stored and silently do nothing
            errors[key] = _error("unknown", "unknown alert setting", target=list(FIELDS))
    emails = _emails(doc["emails"], errors) if doc.get("emails") is not None else ()
    url = _url(doc["url"], errors, allow_private=allow_private) if doc.get("url") else None
    secret = _secret(doc["secret"], errors) if doc.get("secret") else None
    if errors:
        raise validation_error(errors)
    return AccountAlerts(emails=emails, url=url, secret=secret)


async def _stored(call: Call) -> AccountAlerts:
    settings = await call.deps.store.get_settings(call.account_id)
    return AccountAlerts.from_stored(settings.get(SETTINGS_KEY))


def _public(call: Call, alerts: AccountAlerts) -> dict[str, Any]:
    doc = alerts.stored()
    if alerts.secret is not None:
        doc["secret"] = mask_secret(alerts.secret)
    doc["email_enabled"] = bool(call.deps.settings.smtp_host)
    return doc


def _incoming(data: Mapping[str, Any], stored: AccountAlerts) -> dict[str, Any]:
    """Read-only keys dropped, a masked secret replaced by the stored one."""
    doc = {k: v for k, v in data.items() if k not in READ_ONLY}
    secret = doc.get("secret")
    if stored.secret is not None and secret == mask_secret(stored.secret):
        doc["secret"] = stored.secret
    return doc


async def _save(call: Call, doc: Mapping[str, Any]) -> Reply:
    alerts = validate(doc, allow_private=call.deps.settings.allow_private_targets)
    await call.deps.store.set_setting(call.account_id, SETTINGS_KEY, alerts.stored())
    log.info(
        "alert settings saved",
        account_id=call.account_id,
        emails=len(alerts.emails),
        url=alerts.url is not None,
    )
    return Reply(data=_public(call, alerts))


async def get_alerts(call: Call) -> Reply:
    """``GET /accounts/{A}/webhooks/alerts``."""
    return Reply(data=_public(call, await _stored(call)))


async def replace_alerts(call: Call) -> Reply:
    """``POST /accounts/{A}/webhooks/alerts``: the whole settings (an absent key is unset)."""
    stored = await _stored(call)
    return await _save(call, _incoming(call.data_object, stored))


async def patch_alerts(call: Call) -> Reply:
    """``PATCH /accounts/{A}/webhooks/alerts``: the keys sent change, ``null`` unsets one."""
    stored = await _stored(call)
    merged = stored.stored()
    for key, value in _incoming(call.data_object, stored).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return await _save(call, merged)
