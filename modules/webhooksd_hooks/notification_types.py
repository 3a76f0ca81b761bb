"""The notification types the ``notifications`` hook binds (Kazoo ``kapi_notifications.erl``).

``api_definitions/0`` less ``skel`` and ``notify_update``, in Kazoo's order: each type's event
name, routing key on the ``notifications`` exchange, friendly name and description (the hook
type's ``type`` modifier shows them) and the keys its validator requires besides the envelope.
``voicemail_deleted`` is defined in Kazoo but not in ``api_definitions/0``, so it is not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationType:
    """One ``kapi_definition`` as the webhooks application uses it."""

    name: str
    routing_key: str
    friendly_name: str
    description: str
    #: ``set_required_headers``: a message lacking one is invalid (Kazoo's validator fails)
    required: tuple[str, ...]


def _t(
    name: str, routing_key: str, friendly_name: str, description: str, required: tuple[str, ...]
) -> NotificationType:
    return NotificationType(
        name=name,
        routing_key=routing_key,
        friendly_name=friendly_name,
        description=description,
        required=required,
    )


NOTIFICATION_TYPES: tuple[NotificationType, ...] = (
    _t(
        "bill_reminder",
        "notifications.account.reminder",
        "Bill Reminder",
        (
            "This event is triggered before a few days before the end of the month to remind "
            "account's owners of estimated service plan charges"
        ),
        ("Account-ID", "Due-Date", "Items", "Timestamp"),
    ),
    _t(
        "low_balance",
        "notifications.account.low_balance",
        "Account Low Balance",
        (
            "This event is triggered when an account is found with a balance below the "
            "notification threshold"
        ),
        ("Account-ID", "Current-Balance"),
    ),
    _t(
        "new_account",
        "notifications.account.new",
        "New Account",
        "This event is triggered when an end user creates a new account",
        ("Account-ID",),
    ),
    _t(
        "service_added",
        "notifications.account.service_added",
        "Service Added",
        "This event is triggered when an account's billable quantities change",
        ("Account-ID", "Audit-Log", "Items", "Timestamp"),
    ),
    _t(
        "topup",
        "notifications.account.topup",
        "Automatic Account Top-up",
        "This event is triggered when an account automatic top-up is attempted",
        ("Account-ID", "Amount", "Response", "Success", "Timestamp"),
    ),
    _t(
        "transaction",
        "notifications.account.transaction",
        "Transaction Completed",
        "This event is triggered when a transaction is attempted",
        ("Account-ID", "Amount", "Response", "Success", "Timestamp"),
    ),
    _t(
        "account_zone_change",
        "notifications.account.zone_change",
        "Account Zone Change",
        "This event is triggered when an end user requests the home zone of an account is changed",
        ("Account-ID", "Zones"),
    ),
    _t(
        "inbound_fax",
        "notifications.fax.inbound",
        "Successful Fax Reception",
        "This event is triggered when a fax is successfully received",
        ("Account-ID", "Fax-ID", "From-Realm", "From-User", "To-Realm", "To-User"),
    ),
    _t(
        "inbound_fax_error",
        "notifications.fax.inbound_error",
        "Fax Reception Error",
        "This event is triggered when receiving a fax fails",
        ("Account-ID", "From-Realm", "From-User", "To-Realm", "To-User"),
    ),
    _t(
        "outbound_fax",
        "notifications.fax.outbound",
        "Successful Fax Transmission",
        "This event is triggered when a fax is successfully transmitted",
        ("Account-ID", "Callee-ID-Number", "Caller-ID-Number", "Fax-ID", "Fax-JobId"),
    ),
    _t(
        "outbound_fax_error",
        "notifications.fax.outbound_error",
        "Fax Transmission Error",
        "This event is triggered when transmitting a fax fails",
        ("Fax-ID", "Fax-JobId"),
    ),
    _t(
        "outbound_smtp_fax_error",
        "notifications.fax.outbound_smtp_error",
        "Invalid Email-to-Fax Email",
        "This event is triggered when the received email-to-fax email is invalid",
        ("Account-ID", "Fax-From-Email", "Errors", "Timestamp"),
    ),
    _t(
        "cnam_request",
        "notifications.number.cnam_request",
        "CNAM Update",
        "This event is triggered when an end user would like the CNAM for a number changed",
        ("Account-ID", "Number", "Cnam"),
    ),
    _t(
        "port_request",
        "notifications.number.port_request",
        "Port Request",
        "This event is triggered when a port is submitted for processing",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "port_cancel",
        "notifications.number.port_cancel",
        "Port Cancel",
        "This event is triggered when a port request is canceled",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "port_comment",
        "notifications.number.port_comment",
        "Port Comment",
        "This event is triggered when a comment is left on a port request",
        ("Account-ID", "Comment", "Port-Request-ID"),
    ),
    _t(
        "port_pending",
        "notifications.number.port_pending",
        "Port Pending",
        "This event is triggered when a port request is accepted and submitted to a carrier",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "port_rejected",
        "notifications.number.port_rejected",
        "Port Rejected",
        "This event is triggered when a port request is rejected",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "port_scheduled",
        "notifications.number.port_scheduled",
        "Port Scheduled",
        "This event is triggered when a port is accepted by a carrier and scheduled",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "port_unconfirmed",
        "notifications.number.port_unconfirmed",
        "Port Unconfirmed",
        "This event is triggered when a port is created, prior to submitting",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "ported",
        "notifications.number.ported",
        "Ported",
        "This event is triggered when a port request for number is completed",
        ("Account-ID", "Port-Request-ID"),
    ),
    _t(
        "denied_emergency_bridge",
        "notifications.registration.denied_emergency_bridge",
        "Emergency Call Failed",
        "This event is triggered when a call to an number classified as emergency fails",
        ("Account-ID", "Call-ID"),
    ),
    _t(
        "emergency_bridge",
        "notifications.registration.emergency_bridge",
        "Emergency Call Placed",
        "This event is triggered when a call to an number classified as emergency is placed",
        ("Account-ID", "Call-ID"),
    ),
    _t(
        "deregister",
        "notifications.sip.deregister",
        "De-Registration",
        "This event is triggered when a device fails to re-register and the contact expires",
        ("Account-ID", "Realm", "Username"),
    ),
    _t(
        "first_occurrence",
        "notifications.sip.first_occurrence",
        "Account First Occurrence",
        (
            "This event is triggered when an end user registers the first device and/or places "
            "the first call on an account"
        ),
        ("Account-ID", "Occurrence"),
    ),
    _t(
        "missed_call",
        "notifications.sip.missed_call",
        "Missed Call",
        "This event is triggered when an corresponding missed call action in a callflow is invoked",
        ("Account-ID", "Call-Bridged", "Call-ID", "Message-Left"),
    ),
    _t(
        "register",
        "notifications.sip.register",
        "Registration",
        "This event is triggered when a device registers but is not currently registered",
        ("Account-ID", "Realm", "Username"),
    ),
    _t(
        "system_alert",
        "notifications.system.alert",
        "System Alert",
        "This event is triggered to alert the system administrators",
        ("Message", "Subject"),
    ),
    _t(
        "customer_update",
        "notifications.user.customer_update",
        "Customer Update",
        (
            "This event is triggered when the customer update API is used to deliver a message to "
            "the account"
        ),
        ("Account-ID",),
    ),
    _t(
        "new_user",
        "notifications.user.new",
        "New User",
        "This event is triggered when an end user creates a new user",
        ("Account-ID", "User-ID"),
    ),
    _t(
        "password_recovery",
        "notifications.user.password_recovery",
        "Password Recovery",
        "This event is triggered when an end user requests a password recovery link",
        ("Account-ID", "Email", "Password-Reset-Link"),
    ),
    _t(
        "voicemail_full",
        "notifications.voicemail.full",
        "Voicemail Box Full",
        (
            "This event is triggered any time an attempt to leave a voicemail message is blocked "
            "because the voicemail box is full"
        ),
        ("Account-ID", "Max-Message-Count", "Message-Count", "Voicemail-Box"),
    ),
    _t(
        "voicemail_new",
        "notifications.voicemail.new",
        "New Voicemail Message",
        "This event is triggered any time a voicemail message is left",
        (
            "Account-ID",
            "From-Realm",
            "From-User",
            "To-Realm",
            "To-User",
            "Voicemail-Box",
            "Voicemail-ID",
            "Voicemail-Timestamp",
        ),
    ),
    _t(
        "voicemail_saved",
        "notifications.voicemail.saved",
        "Voicemail Message Saved",
        (
            "This event is triggered any time a voicemail message is saved in the voicemail box "
            "'new' folder"
        ),
        (
            "Account-ID",
            "From-Realm",
            "From-User",
            "To-Realm",
            "To-User",
            "Voicemail-Box",
            "Voicemail-ID",
            "Voicemail-Timestamp",
        ),
    ),
    _t(
        "webhook",
        "notifications.webhook.callflow",
        "Callflow Webhook Triggered",
        "This event is triggered when a corresponding webhook action in a callflow is reached",
        ("Data", "Hook"),
    ),
    _t(
        "webhook_disabled",
        "notifications.webhook.disabled",
        "Webhook Disabled",
        "This event is triggered when a webhook is disabled",
        ("Account-ID", "Hook-ID"),
    ),
    _t(
        "cf_notification",
        "notifications.account.cf_notification",
        "Customer defined notification",
        (
            "This event is triggered when an customer want send own notification, as example from "
            "callflow"
        ),
        ("Account-ID", "Template-ID"),
    ),
    _t(
        "number_feature_manual_action",
        "notifications.account.number_feature_manual_action",
        "Number Feature Manual Action Required",
        (
            "This event is triggered when a number feature is activate/deactivated and a manual "
            "action is required"
        ),
        ("Account-ID", "Number", "Feature"),
    ),
)

#: the types by event name
BY_NAME: Mapping[str, NotificationType] = {t.name: t for t in NOTIFICATION_TYPES}
