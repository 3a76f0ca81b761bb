"""Kazoo-shaped documents for tests, as Kazoo's Crossbar saves them in CouchDB."""

from __future__ import annotations

from typing import Any

from webhooksd.kazoo.timeutil import unix_to_gregorian

CREATED = unix_to_gregorian(1_700_000_000)


def kazoo_hook(n: int, account_id: str, **fields: Any) -> dict[str, Any]:
    """A hook document as Kazoo's Crossbar saves it in the ``webhooks`` database."""
    return {
        "_id": f"{n:032x}",
        "name": f"hook {n}",
        "uri": f"https://receiver.example/{n}",
        "hook": "channel_create",
        "http_verb": "post",
        "retries": 2,
        "enabled": True,
        "custom_data": {"n": str(n)},
        "pvt_type": "webhook",
        "pvt_account_id": account_id,
        "pvt_account_db": "webhooks",
        "pvt_created": CREATED,
        "pvt_modified": CREATED,
        "pvt_vsn": "1",
        **fields,
    }
