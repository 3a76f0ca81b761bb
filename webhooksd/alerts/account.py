"""An account's alert settings: where its alerts go (kept in the account's settings under
``alerts``; set through ``/v2/accounts/{A}/webhooks/alerts``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: the key of the account's settings (``Store.get_settings(account_id)``)
SETTINGS_KEY = "alerts"
MAX_EMAILS = 10
#: RFC 5321's limits: 254 for a whole path, 64 for the local part
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64
MAX_URL_LENGTH = 2048

#: the HTML standard's "valid e-mail address" (what browsers accept in type=email), which
#: also keeps out what could break a header: spaces, CR/LF, commas, angle brackets, quotes
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def address_valid(address: str) -> bool:
    local, _, _ = address.partition("@")
    return (
        len(address) <= MAX_EMAIL_LENGTH
        and len(local) <= MAX_LOCAL_LENGTH
        and _ADDRESS.match(address) is not None
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountAlerts:
    emails: tuple[str, ...] = ()
    url: str | None = None
    #: signs the POSTs (Standard Webhooks, as a hook's ``secret``); unsigned when None
    secret: str | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.emails or self.url)

    @classmethod
    def from_stored(cls, stored: Any) -> AccountAlerts:
        """What the store holds (validated when it was written; anything else is ignored)."""
        if not isinstance(stored, Mapping):
            return cls()
        emails = stored.get("emails")
        url, secret = stored.get("url"), stored.get("secret")
        return cls(
            emails=tuple(e for e in emails if isinstance(e, str))
            if isinstance(emails, list)
            else (),
            url=url if isinstance(url, str) and url else None,
            secret=secret if isinstance(secret, str) and secret else None,
        )

    def stored(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"emails": list(self.emails)}
        if self.url is not None:
            doc["url"] = self.url
        if self.secret is not None:
            doc["secret"] = self.secret
        return doc
