"""The signed POST of an alert to an account's alert URL, signed as hook deliveries are
(Standard Webhooks ``webhook-id``/``webhook-timestamp``/``webhook-signature``) with the
account's alert secret, and sent through the hooks' :class:`~webhooksd.delivery.sender.Sender`
(the same SSRF guard, timeouts and per-endpoint limits)."""

from __future__ import annotations

import orjson

from webhooksd.alerts.events import Alert, event_body
from webhooksd.delivery.request import JSON, OutboundRequest
from webhooksd.delivery.signing import sign


def alert_request(alert: Alert, *, url: str, secret: str | None, timestamp: int) -> OutboundRequest:
    body = orjson.dumps(event_body(alert))
    headers = {
        "Content-Type": JSON,
        "X-Account-ID": alert.account_id,
        "X-Hook-ID": alert.hook_id,
        "webhook-id": alert.id,
        "webhook-timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = sign(secret, alert.id, timestamp, body)
    return OutboundRequest(method="POST", uri=url, url=url, headers=headers, body=body)
