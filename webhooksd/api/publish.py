"""``POST /v2/bus/publish``: put a Kazoo event on the bus by hand (no Kazoo original; the
master account's tool for trying hooks without a telephony platform)."""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from webhooksd.bus import KAZOO_EXCHANGES

from .envelope import Reply, validation_error
from .request import Call

log = structlog.get_logger(__name__)

_EXCHANGES = sorted(name for name, _ in KAZOO_EXCHANGES)


def _required(name: str) -> dict[str, Any]:
    return {"required": {"message": "Field is required but missing", "value": name}}


def _check(data: dict[str, Any]) -> tuple[str, str, Any]:
    errors: dict[str, Any] = {}
    exchange, routing_key = data.get("exchange"), data.get("routing_key")
    if exchange is None:
        errors["exchange"] = _required("exchange")
    elif exchange not in _EXCHANGES:
        errors["exchange"] = {
            "enum": {
                "message": "Value not found in enumerated list of values",
                "target": _EXCHANGES,
                "value": exchange,
            }
        }
    if routing_key is None:
        errors["routing_key"] = _required("routing_key")
    elif not isinstance(routing_key, str):
        errors["routing_key"] = {
            "type": {
                "message": "Value did not match type(s): string",
                "target": "string",
                "value": routing_key,
            }
        }
    if "payload" not in data:
        errors["payload"] = _required("payload")
    if errors:
        raise validation_error(errors)
    return str(exchange), str(routing_key), data["payload"]


async def publish(call: Call) -> Reply:
    """Publish ``data.payload`` as JSON on ``data.exchange`` with ``data.routing_key``."""
    exchange, routing_key, payload = _check(call.data_object)
    await call.deps.bus.publish(exchange, routing_key, orjson.dumps(payload))
    log.info("event published by hand", exchange=exchange, routing_key=routing_key)
    return Reply(data="published")
