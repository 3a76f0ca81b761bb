"""The ``cdr`` hook type Kazoo 5 added (``webhooks_cdr.erl``) against a CDR report as
ecallmgr publishes it (mod_kazoo's ``KZ_CDR`` event, ``kapi_cdr:publish_report/1``).

The expected payloads are written from ``webhooks_cdr:base_hook_event/3``: a smaller set than
the channel payload (no custom vars, inception, local resource id or hangup fields), typed as
``kz_call_event``'s accessors return them, then ``hook_event``.
"""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.hooks import MalformedMessage
from webhooksd_hooks import cdr

from .helpers import ACCOUNT, RESELLER, SUB, RecordingContext, event, hook, sample

CALL_ID = "NDlkNGI3OTZlMDgzNWQxNGYxNTA3NjQ4NDZjNDFkOTc"


def cdr_report(**overrides: Any) -> dict[str, Any]:
    """A ``cdr``/``report`` message with the fields mod_kazoo's ``KZ_CDR`` definition sends."""
    body: dict[str, Any] = {
        "Event-Category": "cdr",
        "Event-Name": "report",
        "Msg-ID": "1557184198071108",
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Timestamp": 63724349409,
        "Call-ID": CALL_ID,
        "Channel-Created-Time": 1557184198071108,
        "Node": "freeswitch@fs1.example.net",
        "Domain-Name": "matrix.test.com",
        "Account-ID": ACCOUNT,
        "Call-Interaction": {
            "Id": "63724349409-af5b9a0e",
            "Key": "af5b9a0e",
            "Timestamp": 63724349409,
            "Is-Root": True,
        },
        "Call-Direction": "inbound",
        "Channel-State": "CS_REPORTING",
        "Channel-Call-State": "HANGUP",
        "Channel-Name": "sofia/sipinterface_1/+15556783945@10.20.0.1",
        "Caller-ID-Name": "Test Man",
        "Caller-ID-Number": "+15556783945",
        "Callee-ID-Name": "Caller Test",
        "Callee-ID-Number": "+15556783945",
        "Channel-Is-Loopback": False,
        "Custom-Channel-Vars": {
            "Account-ID": ACCOUNT,
            "Authorizing-ID": "7f2b66a620cf9523d349cc5de8f21f37",
            "Authorizing-Type": "device",
            "Owner-ID": "d860229e722bf8f738737365b0b1e333",
            "Global-Resource": "false",
            "Resource-ID": "d88c4e753d18755ca71adbae784e5f10",
            "Call-Interaction-ID": "63724349409-af5b9a0e",
        },
        "Custom-Application-Vars": {},
        "Custom-SIP-Headers": {"X-Kazoo-Customer": "acme"},
        "From": "+15556783945@matrix.test.com",
        "To": "+15552345678@matrix.test.com",
        "Request": "+15552345678@matrix.test.com",
        "Other-Leg-Call-ID": "af1e1e12f1bcf519a96f2235ab8eeec4",
        "Duration-Seconds": 6,
        "Ringing-Seconds": "0",
        "Billing-Seconds": 6,
        "Hangup-Cause": "NORMAL_CLEARING",
        "Hangup-Code": "sip:200",
    }
    body.update(overrides)
    return body


def report_event(body: dict[str, Any]) -> Any:
    """The report on the ``cdr`` exchange, ``cdr.report.<Account-ID>.<Call-ID>``."""
    return event("cdr", f"cdr.report.{body.get('Account-ID')}.{body.get('Call-ID')}", body)


#: what Kazoo 5 builds from :func:`cdr_report`, key for key in order
EXPECTED = {
    "account_id": ACCOUNT,
    "authorizing_id": "7f2b66a620cf9523d349cc5de8f21f37",
    "authorizing_type": "device",
    "call_direction": "inbound",
    "call_id": CALL_ID,
    "callee_id_name": "Caller Test",
    "callee_id_number": "+15556783945",
    "caller_id_name": "Test Man",
    "caller_id_number": "+15556783945",
    "emergency_resource_used": False,
    "from": "+15556783945@matrix.test.com",
    "is_internal_leg": False,
    "local_resource_used": True,
    "other_leg_call_id": "af1e1e12f1bcf519a96f2235ab8eeec4",
    "owner_id": "d860229e722bf8f738737365b0b1e333",
    "request": "+15552345678@matrix.test.com",
    "reseller_id": RESELLER,
    "timestamp": 63724349409,
    "to": "+15552345678@matrix.test.com",
    "hook_event": "cdr",
}


def test_metadata() -> None:
    """Kazoo 5's meta doc ``webhooks_cdr``, listed as ``cdr``, verbatim: its description is
    the SMS module's (a copy in Kazoo 5's source) and it has no modifiers."""
    assert cdr.METADATA.to_doc() == {
        "id": "cdr",
        "name": "CDR",
        "description": "Receive notifications when sms is received",
    }


def test_bindings() -> None:
    """``kapi_cdr`` ``restrict_to [report]``: ``cdr.report.*.*`` on the ``cdr`` exchange."""
    bindings, responders = cdr.bindings_and_responders()
    assert [(b.exchange, b.routing_key) for b in bindings] == [("cdr", "cdr.report.*.*")]
    assert [(r.category, r.name) for r in responders] == [("cdr", "report")]


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the module's metadata through the context."""
    await cdr.init(ctx)
    assert ctx.metadata == [cdr.METADATA]


async def test_payload_is_kazoo5s(ctx: RecordingContext) -> None:
    """The payload is Kazoo 5's, key for key and in order; the hangup fields, durations and
    custom vars the report carries are not in it."""
    ctx.table.put(hook("h1", ACCOUNT, "cdr"))
    await cdr.handle_event(report_event(cdr_report()), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"h1"}
    assert fired.payload == EXPECTED
    assert list(fired.payload) == list(EXPECTED)


async def test_payload_matches_sample(ctx: RecordingContext) -> None:
    """The shipped sample is the payload of a report whose call was not forwarded."""
    ctx.table.put(hook("h1", ACCOUNT, "cdr"))
    body = cdr_report()
    body["Custom-Channel-Vars"]["Call-Forward"] = "false"
    await cdr.handle_event(report_event(body), ctx)
    assert ctx.only().payload == sample("cdr")


@pytest.mark.parametrize(
    ("ccvs", "expected"),
    [
        ({"Call-Forward": "true"}, {"call_forwarded": True}),
        ({"Call-Forward": "false"}, {"call_forwarded": False}),
        ({"Emergency-Resource": "true"}, {"emergency_resource_used": True}),
        ({"Global-Resource": "true"}, {"local_resource_used": False}),
        ({"Global-Resource": True}, {"local_resource_used": False}),
    ],
    ids=["forwarded", "not-forwarded", "emergency", "global", "global-boolean"],
)
async def test_ccv_flags(
    ctx: RecordingContext, ccvs: dict[str, Any], expected: dict[str, Any]
) -> None:
    """``call_forwarded`` is sent only when the CCV is there (``is_call_forwarded/1``); the
    resource flags are ``kz_term:is_true`` of the CCV cast to a string."""
    ctx.table.put(hook("h1", ACCOUNT, "cdr"))
    body = cdr_report()
    body["Custom-Channel-Vars"].update(ccvs)
    await cdr.handle_event(report_event(body), ctx)
    payload = ctx.only().payload
    assert {key: payload.get(key) for key in expected} == expected


async def test_types_follow_kazoos_accessors(ctx: RecordingContext) -> None:
    """A string ``Timestamp`` becomes an integer; ``Channel-Is-Loopback`` "true" is true;
    empty strings are absent; ``From``/``To``/``Request`` are passed as they are."""
    ctx.table.put(hook("h1", ACCOUNT, "cdr"))
    body = cdr_report(
        Timestamp="63724349410",
        **{"Channel-Is-Loopback": "true", "Caller-ID-Name": "", "Request": {"user": "x"}},
    )
    await cdr.handle_event(report_event(body), ctx)
    payload = ctx.only().payload
    assert payload["timestamp"] == 63724349410
    assert payload["is_internal_leg"] is True
    assert "caller_id_name" not in payload
    assert payload["request"] == {"user": "x"}


async def test_loopback_cdr_fires_without_include_internal_legs(ctx: RecordingContext) -> None:
    """Kazoo 5's CDR module has no loopback filter: every hook found fires."""
    ctx.table.put(hook("h1", ACCOUNT, "cdr", include_internal_legs=False))
    body = cdr_report(**{"Channel-Is-Loopback": True, "Channel-Name": "loopback/callflow-a"})
    await cdr.handle_event(report_event(body), ctx)
    assert ctx.only().hook_ids == {"h1"}


async def test_account_from_the_ccvs(ctx: RecordingContext) -> None:
    """The account is CCV ``Account-ID`` (``kz_call_event:account_id/1``), not the top-level
    one; the account's own, ``all`` and ancestors' ``include_subaccounts`` hooks fire."""
    ctx.table.put(hook("own", SUB, "cdr"))
    ctx.table.put(hook("every", SUB, "all"))
    ctx.table.put(hook("parent", ACCOUNT, "cdr", include_subaccounts=True))
    ctx.table.put(hook("top-level", ACCOUNT, "cdr"))
    body = cdr_report()
    body["Custom-Channel-Vars"]["Account-ID"] = SUB
    await cdr.handle_event(report_event(body), ctx)
    fired = ctx.only()
    assert fired.hook_ids == {"own", "every", "parent"}
    assert fired.payload["account_id"] == SUB


async def test_no_ccv_account_no_fire(ctx: RecordingContext) -> None:
    """Without CCV ``Account-ID`` Kazoo 5 logs "no account identifiable" and fires nothing,
    even though the report's top-level ``Account-ID`` is set."""
    ctx.table.put(hook("h1", ACCOUNT, "cdr"))
    ctx.table.put(hook("every", ACCOUNT, "all"))
    body = cdr_report()
    del body["Custom-Channel-Vars"]["Account-ID"]
    await cdr.handle_event(report_event(body), ctx)
    assert ctx.fired == []


async def test_channel_hooks_do_not_fire(ctx: RecordingContext) -> None:
    """A CDR reaches ``cdr`` and ``all`` hooks only, not the channel hook types."""
    for other in ("channel_destroy", "channel_create", "channel_hold"):
        ctx.table.put(hook(other, ACCOUNT, other))
    await cdr.handle_event(report_event(cdr_report()), ctx)
    assert ctx.fired == []


async def test_wrongly_typed_account_is_malformed(ctx: RecordingContext) -> None:
    """A CCV ``Account-ID`` that is not a string is a malformed message (dead-lettered with
    the reason), as for the channel modules."""
    body = cdr_report()
    body["Custom-Channel-Vars"]["Account-ID"] = 42
    with pytest.raises(MalformedMessage, match=r"Custom-Channel-Vars\.Account-ID"):
        await cdr.handle_event(report_event(body), ctx)
