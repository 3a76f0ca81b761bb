"""The ``notifications`` module (Kazoo ``webhooks_notifications``): bindings, account lookup,
type matching, normalisation and the callflow ``webhook`` event, against Kazoo's samples."""

from __future__ import annotations

from typing import Any

import pytest

from webhooksd.errors import MalformedMessage
from webhooksd.records import Account
from webhooksd_hooks import notifications
from webhooksd_hooks.notification_types import NOTIFICATION_TYPES

from .helpers import (
    ACCOUNT,
    ENVELOPE,
    MASTER,
    NOTIFY_ACCOUNT,
    OTHER,
    RESELLER,
    SUB,
    UNKNOWN,
    RecordingContext,
    event,
    hook,
    samples,
)

#: the notification types crossbar-api.md §2.4 lists as the `type` modifier's keys
CROSSBAR_TYPES = {
    "all", "account_zone_change", "bill_reminder", "cf_notification", "cnam_request",
    "customer_update", "denied_emergency_bridge", "deregister", "emergency_bridge",
    "first_occurrence", "inbound_fax", "inbound_fax_error", "low_balance", "missed_call",
    "new_account", "new_user", "number_feature_manual_action", "outbound_fax",
    "outbound_fax_error", "outbound_smtp_fax_error", "password_recovery", "port_cancel",
    "port_comment", "port_pending", "port_rejected", "port_request", "port_scheduled",
    "port_unconfirmed", "ported", "register", "service_added", "system_alert", "topup",
    "transaction", "voicemail_full", "voicemail_new", "voicemail_saved", "webhook",
    "webhook_disabled",
}  # fmt: skip

_SPECIAL_WORDS = {"id": "ID", "db": "DB", "jobid": "JobId"}


def kazoo_key(key: str) -> str:
    """A normalised key back in Kazoo's header style (``account_id`` → ``Account-ID``)."""
    return "-".join(_SPECIAL_WORDS.get(p, p.capitalize()) for p in key.split("_"))


def amqp_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The AMQP message a sample payload was normalised from (top-level keys re-cased)."""
    return {kazoo_key(k): v for k, v in payload.items()}


def notification(body: dict[str, Any]) -> Any:
    """The notification on the notifications exchange (routing key from its type)."""
    routing = {t.name: t.routing_key for t in NOTIFICATION_TYPES}
    return event("notifications", routing.get(body["Event-Name"], "notifications.x.y"), body)


def voicemail_new(**extra: Any) -> dict[str, Any]:
    """kazoo-daemon §3.6's voicemail_new example."""
    return {
        "Event-Category": "notification",
        "Event-Name": "voicemail_new",
        "App-Name": "callflow",
        "App-Version": "4.0.0",
        "Msg-ID": "123qwe",
        "Node": "kazoo_apps@host",
        "Account-ID": NOTIFY_ACCOUNT,
        "Voicemail-Box": "837fe7f1300142b532466a7a73bc3382",
        "Voicemail-ID": "201905-6e097cd291aed294d2018ecf4b3a6cb8",
        "Caller-ID-Name": "Wefwefwefwef",
        "Caller-ID-Number": "+15553456789",
        "Call-ID": "0_2921477642@10.126.0.9",
        "From-User": "+15553456789",
        "From-Realm": "somerealm.app.com",
        "To-User": "1000",
        "To-Realm": "fc.sip.2600hz.local",
        "Voicemail-Length": 4580,
        "Voicemail-Timestamp": 63724414024,
        **extra,
    }


def test_metadata_type_modifier() -> None:
    """The `type` modifier is an object of every notification with Kazoo's names."""
    doc = notifications.METADATA.to_doc()
    assert doc["name"] == "Notifications Webhook"
    assert doc["description"] == "Fire a webhook when a notification event is triggered in Kazoo"
    modifier = doc["modifiers"]["type"]
    assert modifier["type"] == "object"
    assert set(modifier["items"]) == CROSSBAR_TYPES
    assert modifier["items"]["all"] == {
        "friendly_name": "All",
        "description": "This event is triggered for any notification events",
    }
    assert modifier["items"]["voicemail_new"] == {
        "friendly_name": "New Voicemail Message",
        "description": "This event is triggered any time a voicemail message is left",
    }
    assert modifier["items"]["webhook"]["friendly_name"] == "Callflow Webhook Triggered"


def test_bindings_one_per_notification() -> None:
    """Each notification type is bound by its own routing key on the notifications exchange."""
    bindings, responders = notifications.bindings_and_responders()
    keys = {b.routing_key for b in bindings}
    assert {b.exchange for b in bindings} == {"notifications"}
    assert len(bindings) == len(keys) == 38
    assert {
        "notifications.voicemail.new",
        "notifications.user.new",
        "notifications.account.new",
        "notifications.account.reminder",
        "notifications.account.zone_change",
        "notifications.fax.outbound_smtp_error",
        "notifications.system.alert",
        "notifications.webhook.callflow",
        "notifications.webhook.disabled",
        "notifications.account.number_feature_manual_action",
    } <= keys
    assert "notifications.voicemail.deleted" not in keys
    # every known type by name (the daemon's metrics label only those), then all of them
    assert [(r.category, r.name) for r in responders] == [
        *(("notification", t.name) for t in NOTIFICATION_TYPES),
        ("notification", "*"),
    ]


@pytest.mark.parametrize("expected", samples("notifications"), ids=lambda s: str(s["event_name"]))
async def test_payload_matches_kazoo_samples(
    ctx: RecordingContext, expected: dict[str, Any]
) -> None:
    """Each sample's message, normalised, is exactly the sample (webhook: see the deviation)."""
    name = expected["event_name"]
    if ctx.table.account(expected["account_id"]) is None:  # system_alert's test account
        ctx.table.put_account(Account(id=expected["account_id"], name="x", tree=(MASTER,)))
    ctx.table.put(
        hook("typed", expected["account_id"], "notifications", custom_data={"type": name})
    )
    await notifications.handle_event(notification(amqp_body(expected)), ctx)
    stored = [f for f in ctx.fired if "typed" in f.hook_ids]
    assert len(stored) == 1
    assert stored[0].payload == expected


async def test_callflow_webhook_fires_its_own_hook_with_data(ctx: RecordingContext) -> None:
    """The `webhook` event fires the Hook it carries with Data normalised, as Kazoo does."""
    expected = next(s for s in samples("notifications") if s["event_name"] == "webhook")
    body = amqp_body(expected)
    body["Hook"] = {**body["Hook"], "http_verb": "put", "custom_data": {"app": "x"}}
    await notifications.handle_event(notification(body), ctx)
    (fired,) = ctx.fired  # no stored hooks: only the ad-hoc one
    (adhoc,) = fired.hooks
    assert fired.payload == expected["data"]
    assert (adhoc.id, adhoc.account_id, adhoc.hook) == (
        "6e097cd291aed294d2018ecf4b3a6cb8",
        NOTIFY_ACCOUNT,
        "notifications",
    )
    assert (adhoc.uri, adhoc.http_verb, adhoc.format) == (
        "sip:192.168.0.1:11000",
        "put",
        "form-data",
    )
    assert adhoc.custom_data == {"app": "x"}


async def test_callflow_webhook_also_reaches_stored_webhook_hooks(ctx: RecordingContext) -> None:
    """Deviation: stored `webhook` and `all` hooks get the normalised envelope, as documented."""
    expected = next(s for s in samples("notifications") if s["event_name"] == "webhook")
    ctx.table.put(hook("typed", NOTIFY_ACCOUNT, "notifications", custom_data={"type": "webhook"}))
    ctx.table.put(
        hook("vm", NOTIFY_ACCOUNT, "notifications", custom_data={"type": "voicemail_new"})
    )
    ctx.table.put(hook("everything", NOTIFY_ACCOUNT, "all"))
    await notifications.handle_event(notification(amqp_body(expected)), ctx)
    adhoc, stored = ctx.fired
    assert adhoc.payload == expected["data"]
    assert stored.hook_ids == {"typed", "everything"}
    assert stored.payload == expected


async def test_callflow_webhook_account_falls_back_to_the_hook_owner(
    ctx: RecordingContext,
) -> None:
    """callflow's envelope has no Account-ID; stored hooks are found through the Hook's owner."""
    ctx.table.put(hook("typed", NOTIFY_ACCOUNT, "notifications", custom_data={"type": "webhook"}))
    body = {
        "Event-Category": "notification",
        "Event-Name": "webhook",
        "App-Name": "callflow",
        "App-Version": "4.0.0",
        "Msg-ID": "m",
        "Timestamp": 63724414024,
        "Hook": {
            "_id": "63724414024",
            "uri": "http://127.0.0.1:9/cf",
            "hook": "notifications",
            "pvt_account_id": NOTIFY_ACCOUNT,
        },
        "Data": {"Call-ID": "abc", "Nothing": None},
    }
    await notifications.handle_event(notification(body), ctx)
    adhoc, stored = ctx.fired
    assert adhoc.payload == {"call_id": "abc"}
    assert (adhoc.hooks[0].http_verb, adhoc.hooks[0].retries) == ("post", 2)
    assert stored.hook_ids == {"typed"}


@pytest.mark.parametrize(
    "hook_object",
    [
        None,
        "not an object",
        {"_id": "1", "pvt_account_id": NOTIFY_ACCOUNT},
        {"_id": "1", "uri": "http://127.0.0.1:9/"},
        {"uri": "http://127.0.0.1:9/", "pvt_account_id": NOTIFY_ACCOUNT},
    ],
)
async def test_unusable_callflow_hook_is_not_fired(ctx: RecordingContext, hook_object: Any) -> None:
    """A webhook event whose Hook lacks an id, owner or uri fires nothing and raises nothing."""
    body: dict[str, Any] = {**ENVELOPE, "Event-Category": "notification"}
    body |= {"Event-Name": "webhook", "Hook": hook_object, "Data": {"a": 1}}
    await notifications.handle_event(notification(body), ctx)
    assert ctx.fired == []


@pytest.mark.parametrize(
    ("body", "account_id"),
    [
        ({"account_id": "A", "Account-ID": "B"}, "A"),
        ({"account": {"_id": "A"}, "pvt_account_id": "B"}, "A"),
        ({"pvt_account_id": "A", "_id": "B"}, "A"),
        ({"_id": "A", "id": "B"}, "A"),
        ({"id": "A", "Account-ID": "B"}, "A"),
        ({"Account-ID": "A", "details": {"account_id": "B"}}, "A"),
        ({"details": {"account_id": "A"}, "Details": {"Account-ID": "B"}}, "A"),
        ({"Details": {"Account-ID": "A"}}, "A"),
        ({"details": {"custom_channel_vars": {"account_id": "A"}}}, "A"),
        ({"Details": {"Custom-Channel-Vars": {"Account-ID": "A"}}}, "A"),
        ({"account_id": None, "Account-ID": "A"}, "A"),
        ({"Voicemail-Box": "x"}, None),
    ],
)
def test_account_id_search_order(body: dict[str, Any], account_id: str | None) -> None:
    """kapi_notifications:account_id/1: the first defined path wins."""
    assert notifications.account_id_of(body) == account_id


@pytest.mark.parametrize(
    "body", [{"account_id": 5, "Account-ID": "A"}, {"Details": {"Account-ID": ["A"]}}]
)
def test_account_id_of_another_type_is_malformed(body: dict[str, Any]) -> None:
    """The first defined account id must be a string: anything else is MalformedMessage."""
    with pytest.raises(MalformedMessage, match="account id is not a string"):
        notifications.account_id_of(body)


@pytest.mark.parametrize(
    ("hook_event", "custom_data", "fires"),
    [
        ("notifications", ..., True),
        ("notifications", None, True),
        ("notifications", {"type": "voicemail_new"}, True),
        ("notifications", {"type": "all"}, True),
        ("notifications", {"type": "voicemail_full"}, False),
        ("notifications", {}, False),
        ("notifications", {"other": "voicemail_new"}, False),
        ("all", {"type": "voicemail_full"}, True),
    ],
)
async def test_type_matching(
    ctx: RecordingContext, hook_event: str, custom_data: Any, fires: bool
) -> None:
    """A notifications hook fires when custom_data.type is the event or `all`, or it has none."""
    doc = {} if custom_data is ... else {"custom_data": custom_data}
    ctx.table.put(hook("h", NOTIFY_ACCOUNT, hook_event, **doc))
    await notifications.handle_event(notification(voicemail_new()), ctx)
    assert len(ctx.fired) == (1 if fires else 0)


async def test_event_name_is_normalised_for_matching(ctx: RecordingContext) -> None:
    """An event name in another case or with dashes matches the normalised custom_data.type."""
    ctx.table.put(hook("h", NOTIFY_ACCOUNT, "notifications", custom_data={"type": "voicemail_new"}))
    await notifications.handle_event(
        notification(voicemail_new(**{"Event-Name": "Voicemail-New"})), ctx
    )
    assert ctx.only().hook_ids == {"h"}


async def test_payload_is_normalised(ctx: RecordingContext) -> None:
    """Keys are lower-cased and `-`→`_` recursively, lists of objects too, nulls dropped."""
    ctx.table.put(hook("h", NOTIFY_ACCOUNT, "notifications"))
    body = voicemail_new(
        **{
            "Voicemail-Transcription": None,
            "Notify": {"Custom-Channel-Vars": {"Account-ID": "x", "Gone": None}},
            "To": [{"Email-Address": "a@b"}, None, "c@d"],
            "ÀCCÉNT-Ÿ": 1,
        }
    )
    await notifications.handle_event(notification(body), ctx)
    payload = ctx.only().payload
    assert "voicemail_transcription" not in payload
    assert payload["notify"] == {"custom_channel_vars": {"account_id": "x"}}
    assert payload["to"] == [{"email_address": "a@b"}, None, "c@d"]
    assert payload["àccént_Ÿ"] == 1
    assert payload["event_category"] == "notification" and payload["msg_id"] == "123qwe"


async def test_ancestors_and_all_hooks_reach_notifications(ctx: RecordingContext) -> None:
    """A sub-account's notification reaches its `all` hooks and ancestors' include_subaccounts."""
    ctx.table.put(hook("own-all", SUB, "all"))
    ctx.table.put(hook("parent-sub", ACCOUNT, "notifications", include_subaccounts=True))
    ctx.table.put(hook("parent-own", ACCOUNT, "notifications"))
    ctx.table.put(hook("master-all-sub", MASTER, "all", include_subaccounts=True))
    ctx.table.put(hook("reseller-own", RESELLER, "all"))
    ctx.table.put(hook("other-sub", OTHER, "notifications", include_subaccounts=True))
    await notifications.handle_event(notification(voicemail_new(**{"Account-ID": SUB})), ctx)
    assert ctx.only().hook_ids == {"own-all", "parent-sub", "master-all-sub"}


@pytest.mark.parametrize(
    "body",
    [
        {"Event-Category": "notification", "Event-Name": "notify_update", "Status": "completed"},
        {"Event-Category": "notification", "Event-Name": "skel", "Account-ID": NOTIFY_ACCOUNT},
        {"Event-Category": "notification", "Event-Name": "bogus", "Account-ID": NOTIFY_ACCOUNT},
        {
            **ENVELOPE,
            "Event-Category": "notification",
            "Event-Name": "voicemail_new",
            "Account-ID": "x",
        },
        {
            **ENVELOPE,
            "Event-Category": "notification",
            "Event-Name": "webhook_disabled",
            "Hook-ID": "h",
        },
    ],
)
async def test_unknown_or_invalid_notifications_are_ignored(
    ctx: RecordingContext, body: dict[str, Any]
) -> None:
    """Unbound types and messages lacking their validator's required keys fire nothing."""
    ctx.table.put(hook("h", NOTIFY_ACCOUNT, "all"))
    await notifications.handle_event(notification(body), ctx)
    assert ctx.fired == []


async def test_unknown_account_fires_nothing(ctx: RecordingContext) -> None:
    """A notification for an account the table does not know fires no hook."""
    ctx.table.put(hook("h", MASTER, "all", include_subaccounts=True))
    await notifications.handle_event(notification(voicemail_new(**{"Account-ID": UNKNOWN})), ctx)
    assert ctx.fired == []


async def test_init_writes_metadata(ctx: RecordingContext) -> None:
    """init stores the module's metadata through the context."""
    await notifications.init(ctx)
    assert ctx.metadata == [notifications.METADATA]
