"""The operational events an account is told of, and their JSON form (documented in
``docs/alerts.md``): ``webhook.disabled`` and ``webhook.recovered``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

AlertType = Literal["webhook.disabled", "webhook.recovered"]
DISABLED: AlertType = "webhook.disabled"
RECOVERED: AlertType = "webhook.recovered"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    type: AlertType
    account_id: str
    hook_id: str
    hook_name: str
    #: why the server disabled the hook (for a recovery: why it had been disabled)
    reason: str
    #: the failed attempts that led to the disable (1 for a 410)
    failures: int
    #: when it happened (disabled, or delivered again), Unix milliseconds
    at_ms: int
    #: for a recovery, when the hook had been disabled
    disabled_at_ms: int | None = None
    #: alerts of this hook not sent since the last one (held back by the rate limit)
    suppressed: int = 0

    @property
    def id(self) -> str:
        """The same for every try of one alert (``webhook-id``), so a receiver can drop
        duplicates."""
        key = f"{self.type}:{self.hook_id}:{self.at_ms}"
        return "alert_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def iso(ms: int) -> str:
    """``2026-12-01T10:00:00.123Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_body(alert: Alert) -> dict[str, Any]:
    """The JSON object POSTed to an account's alert URL."""
    body: dict[str, Any] = {
        "id": alert.id,
        "type": alert.type,
        "account_id": alert.account_id,
        "hook_id": alert.hook_id,
        "hook_name": alert.hook_name,
        "reason": alert.reason,
        "failures": alert.failures,
        "at": iso(alert.at_ms),
        "suppressed": alert.suppressed,
    }
    if alert.disabled_at_ms is not None:
        body["disabled_at"] = iso(alert.disabled_at_ms)
    return body
