"""Kazoo's document-change notices on the ``configuration`` exchange (``kapi_conf``,
``kzs_publish``): how every instance learns that a hook or an account changed."""

from __future__ import annotations

import secrets
from typing import Any, Literal

import orjson

from webhooksd.bus import Bus
from webhooksd.kazoo.timeutil import now_gregorian

DocAction = Literal["doc_created", "doc_edited", "doc_deleted"]

#: the database Kazoo keeps every hook in, and the aggregate database of accounts
WEBHOOKS_DB = "webhooks"
ACCOUNTS_DB = "accounts"

#: not Kazoo's: the ``ID`` of an account notice meaning "many accounts changed, reload them
#: all from the store" (sent after the Kazoo mirror's full read instead of one per account)
ALL_ACCOUNTS = "*"


def encode_routing_part(value: str) -> str:
    """Kazoo's ``kz_amqp_util:encode/1``: ``.`` → ``%2E``, space → ``+``, other unsafe → %XX."""
    out: list[str] = []
    for ch in value:
        if ch.isalnum() or ch in "-_~":
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    return "".join(out)


def doc_change_body(
    *,
    action: DocAction,
    database: str,
    doc_type: str,
    doc_id: str,
    account_id: str,
    node: str,
    soft_deleted: bool = False,
) -> dict[str, Any]:
    now = now_gregorian()
    return {
        "Event-Category": "configuration",
        "Event-Name": action,
        "App-Name": "webhooksd",
        "App-Version": "4.0.0",
        "Node": node,
        "Msg-ID": secrets.token_hex(16),
        "ID": doc_id,
        "Type": doc_type,
        "Database": database,
        "Account-ID": account_id,
        "Date-Created": now,
        "Date-Modified": now,
        "Is-Soft-Deleted": soft_deleted,
    }


def doc_change_routing_key(action: str, database: str, doc_type: str, doc_id: str) -> str:
    """``<action>.<db>.<type>.<id>``; Kazoo inserts the database name raw (already encoded)."""
    return f"{action}.{database}.{doc_type}.{encode_routing_part(doc_id)}"


async def publish_doc_change(
    bus: Bus,
    *,
    action: DocAction,
    database: str,
    doc_type: str,
    doc_id: str,
    account_id: str,
    node: str,
) -> None:
    body = doc_change_body(
        action=action,
        database=database,
        doc_type=doc_type,
        doc_id=doc_id,
        account_id=account_id,
        node=node,
    )
    await bus.publish(
        "configuration",
        doc_change_routing_key(action, database, doc_type, doc_id),
        orjson.dumps(body),
    )


async def publish_hook_change(
    bus: Bus, action: DocAction, *, hook_id: str, account_id: str, node: str
) -> None:
    """Tell every instance that a hook document changed (``<action>.webhooks.webhook.<id>``)."""
    await publish_doc_change(
        bus,
        action=action,
        database=WEBHOOKS_DB,
        doc_type="webhook",
        doc_id=hook_id,
        account_id=account_id,
        node=node,
    )


async def publish_account_change(
    bus: Bus, action: DocAction, *, account_id: str, node: str
) -> None:
    """Tell every instance that an account changed (``<action>.accounts.account.<id>``)."""
    await publish_doc_change(
        bus,
        action=action,
        database=ACCOUNTS_DB,
        doc_type="account",
        doc_id=account_id,
        account_id=account_id,
        node=node,
    )
