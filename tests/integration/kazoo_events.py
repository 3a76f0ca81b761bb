"""Kazoo-format AMQP messages as Kazoo's publishers send them (reference: kazoo-daemon §3)."""

from __future__ import annotations

import uuid
from typing import Any


def account_db(account_id: str) -> str:
    """Kazoo's encoded account database name, ``account%2FAA%2FBB%2Frest``."""
    return f"account%2F{account_id[:2]}%2F{account_id[2:4]}%2F{account_id[4:]}"


def channel_create(account_id: str, call_id: str | None = None) -> tuple[str, dict[str, Any]]:
    call_id = call_id or uuid.uuid4().hex
    body = {
        "Event-Category": "call_event",
        "Event-Name": "CHANNEL_CREATE",
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Msg-ID": "1557184198071108",
        "Node": "freeswitch@fs1.example.net",
        "Timestamp": 63724349409,
        "Call-ID": call_id,
        "Call-Direction": "inbound",
        "Channel-Name": "sofia/sipinterface_1/+15556783945@10.20.0.1",
        "Channel-Is-Loopback": False,
        "Caller-ID-Name": "Test Man",
        "Caller-ID-Number": "+15556783945",
        "Callee-ID-Name": "Caller Test",
        "Callee-ID-Number": "+15556783945",
        "From": "+15556783945@matrix.test.com",
        "To": "+15552345678@matrix.test.com",
        "Request": "+15552345678@matrix.test.com",
        "Other-Leg-Call-ID": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "Custom-Channel-Vars": {
            "Account-ID": account_id,
            "Authorizing-ID": "7f2b66a620cf9523d349cc5de8f21f37",
            "Authorizing-Type": "device",
            "Owner-ID": "d860229e722bf8f738737365b0b1e333",
            "Global-Resource": "false",
            "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
        },
        "Custom-Application-Vars": {},
    }
    return f"call.CHANNEL_CREATE.{call_id}", body


def doc_change(
    account_id: str, action: str, doc_type: str, doc_id: str
) -> tuple[str, dict[str, Any]]:
    database = account_db(account_id)
    body = {
        "Event-Category": "configuration",
        "Event-Name": action,
        "App-Name": "datamgr",
        "App-Version": "4.0.0",
        "Node": "kazoo_apps@apps1.example.net",
        "Msg-ID": uuid.uuid4().hex,
        "ID": doc_id,
        "Type": doc_type,
        "Database": database,
        "Rev": "1-7b1f0c7f8e2e5d1a9c3b4a5d6e7f8091",
        "Account-ID": account_id,
        "Is-Soft-Deleted": False,
        "Origin-Cache": "kazoo_data_cache",
    }
    return f"{action}.{database}.{doc_type}.{doc_id}", body


def channel_event(
    event_name: str, account_id: str, call_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``channel_create``'s message as another call event (``CHANNEL_HOLD``, …) of the same leg,
    with the ``Custom-SIP-Headers`` mod_kazoo's ``call_event`` definition adds."""
    routing_key, body = channel_create(account_id, call_id)
    body["Event-Name"] = event_name
    body["Custom-SIP-Headers"] = {"X-Kazoo-Customer": "acme"}
    return routing_key.replace("CHANNEL_CREATE", event_name, 1), body


def cdr_report(account_id: str, call_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """A CDR as ecallmgr publishes it (mod_kazoo ``KZ_CDR``, ``kapi_cdr:publish_report/1``):
    on the ``cdr`` exchange, routing key ``cdr.report.<Account-ID>.<Call-ID>``."""
    call_id = call_id or uuid.uuid4().hex
    body = {
        "Event-Category": "cdr",
        "Event-Name": "report",
        "Msg-ID": "1557184198071108",
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Timestamp": 63724349409,
        "Call-ID": call_id,
        "Node": "freeswitch@fs1.example.net",
        "Account-ID": account_id,
        "Call-Direction": "inbound",
        "Channel-Name": "sofia/sipinterface_1/+15556783945@10.20.0.1",
        "Channel-Is-Loopback": False,
        "Caller-ID-Name": "Test Man",
        "Caller-ID-Number": "+15556783945",
        "Callee-ID-Name": "Caller Test",
        "Callee-ID-Number": "+15556783945",
        "From": "+15556783945@matrix.test.com",
        "To": "+15552345678@matrix.test.com",
        "Request": "+15552345678@matrix.test.com",
        "Other-Leg-Call-ID": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "Custom-Channel-Vars": {
            "Account-ID": account_id,
            "Authorizing-ID": "7f2b66a620cf9523d349cc5de8f21f37",
            "Authorizing-Type": "device",
            "Owner-ID": "d860229e722bf8f738737365b0b1e333",
            "Global-Resource": "false",
            "Call-Forward": "false",
        },
        "Custom-Application-Vars": {},
        "Custom-SIP-Headers": {"X-Kazoo-Customer": "acme"},
        "Duration-Seconds": 6,
        "Billing-Seconds": 6,
        "Ringing-Seconds": 0,
        "Hangup-Cause": "NORMAL_CLEARING",
        "Hangup-Code": "sip:200",
    }
    return f"cdr.report.{account_id}.{call_id}", body
