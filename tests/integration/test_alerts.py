"""Being told (issue 14): a real daemon disables a failing hook and the account gets an e-mail
through a real SMTP server (aiosmtpd on loopback) and a signed POST at a real receiver; after
a re-enable, the first delivery sends the recovery e-mail and POST; flapping is rate-limited.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest

from tests.conftest import AMQP_URL, Received, Receiver
from tests.integration.conftest import DaemonFactory, KazooPublisher, RunningDaemon
from tests.integration.kazoo_events import channel_create
from tests.smtp import Mail, MailSink, start_sink
from tests.waiting import eventually
from webhooksd.delivery.signing import sign
from webhooksd.records import AUTO_DISABLE_REASON

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OPS = ["ops@example.com", "oncall@example.org"]


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[MailSink]:
    sink, server = await start_sink()
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


def _alert_settings(sink: MailSink, **extra: Any) -> dict[str, Any]:
    return {
        "amqp_url": "memory://",
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "smtp_security": "none",
        "smtp_from": "webhooksd@example.net",
        "alert_interval_s": 1,
        # the disabler checks every expiry/4: 0.5 s; the breaker would hold the failures back
        "attempt_failure_count": 2,
        "attempt_failure_expiry_ms": 2000,
        "breaker_failures": 0,
        **extra,
    }


class Hook:
    """The hook's receiver answers ``status``; alerts at ``/alerts`` are answered 200."""

    def __init__(self, receiver: Receiver) -> None:
        self.status = 500
        receiver.decide = lambda r: 200 if r.path == "/alerts" else self.status


async def _setup(d: RunningDaemon, receiver: Receiver) -> str:
    account = d.master_id
    await d.api(
        "POST",
        f"/v2/accounts/{account}/webhooks/alerts",
        {"emails": OPS, "url": receiver.url + "/alerts", "secret": SECRET},
    )
    created = await d.api(
        "PUT",
        f"/v2/accounts/{account}/webhooks",
        {
            "name": "calls",
            "hook": "channel_create",
            "uri": receiver.url + "/hook",
            "format": "json",
            "retries": 0,
        },
    )
    hook_id: str = created["data"]["id"]
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="hook loaded")
    return hook_id


async def _publish(d: RunningDaemon) -> None:
    routing_key, body = channel_create(d.master_id)
    await d.api(
        "POST",
        "/v2/bus/publish",
        {"exchange": "callevt", "routing_key": routing_key, "payload": body},
    )


async def _enabled(d: RunningDaemon, hook_id: str) -> bool:
    got = await d.api("GET", f"/v2/accounts/{d.master_id}/webhooks/{hook_id}")
    return bool(got["data"]["enabled"])


async def _fail_until_disabled(d: RunningDaemon, hook_id: str) -> None:
    async def disabled() -> bool:
        if not await _enabled(d, hook_id):
            return True
        await _publish(d)
        return False

    await eventually(disabled, timeout=20, what="hook disabled by the server")


def _hook_requests(receiver: Receiver) -> int:
    return sum(r.path == "/hook" for r in receiver.requests)


async def _publish_and_deliver(d: RunningDaemon, receiver: Receiver) -> None:
    """Publish one event and wait until the hook's receiver got it."""
    before = _hook_requests(receiver)
    await _publish(d)

    def arrived() -> bool:
        return _hook_requests(receiver) > before

    await eventually(arrived, what="the event delivered")


def _alerts(receiver: Receiver) -> list[Received]:
    return [r for r in receiver.requests if r.path == "/alerts"]


async def _wait_alerts(receiver: Receiver, count: int) -> list[Received]:
    return await eventually(
        lambda: _alerts(receiver) if len(_alerts(receiver)) >= count else None,
        timeout=15,
        what=f"{count} alert POST(s)",
    )


def _verified(request: Received) -> dict[str, Any]:
    """The POST's event, after checking its Standard Webhooks signature."""
    msg_id, timestamp = request.headers["webhook-id"], int(request.headers["webhook-timestamp"])
    assert request.headers["webhook-signature"] == sign(SECRET, msg_id, timestamp, request.body)
    assert request.headers["Content-Type"] == "application/json"
    event: dict[str, Any] = json.loads(request.body)
    assert event["id"] == msg_id
    return event


def _body(mail: Mail) -> str:
    part = mail.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_disable_and_recovery_are_told(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, sink: MailSink
) -> None:
    """Failures disable the hook → e-mail and signed POST; re-enable and a 200 → recovery."""
    d = await daemons(sqlite_store_url, **_alert_settings(sink))
    hook = Hook(receiver)
    hook_id = await _setup(d, receiver)
    await _fail_until_disabled(d, hook_id)

    (mail,) = await sink.wait_for(1)
    assert mail.sender == "webhooksd@example.net" and sorted(mail.recipients) == sorted(OPS)
    assert mail.message["Subject"] == f'Webhook "calls" was disabled: {AUTO_DISABLE_REASON}'
    assert mail.message["X-Hook-ID"] == hook_id
    text = _body(mail)
    assert hook_id in text and d.master_id in text and "Failures: " in text
    (post,) = await _wait_alerts(receiver, 1)
    disabled = _verified(post)
    assert disabled["type"] == "webhook.disabled"
    assert disabled["account_id"] == d.master_id and disabled["hook_id"] == hook_id
    assert disabled["hook_name"] == "calls" and disabled["reason"] == AUTO_DISABLE_REASON
    assert disabled["failures"] >= 2 and disabled["suppressed"] == 0
    assert disabled["at"].endswith("Z")
    assert post.headers["X-Hook-ID"] == hook_id

    # still disabled, nothing more is told however long it stays so
    hook.status = 200
    await d.api("PATCH", f"/v2/accounts/{d.master_id}/webhooks?re-enable=true", {})
    await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="hook reloaded")
    await _publish(d)
    mails = await sink.wait_for(2)
    recovered_mail = mails[1]
    assert recovered_mail.message["Subject"] == 'Webhook "calls" delivers again'
    assert "Had been disabled" in _body(recovered_mail)
    posts = await _wait_alerts(receiver, 2)
    recovered = _verified(posts[1])
    assert recovered["type"] == "webhook.recovered" and recovered["hook_id"] == hook_id
    assert recovered["reason"] == AUTO_DISABLE_REASON
    assert recovered["disabled_at"] == disabled["at"]
    assert recovered["id"] != disabled["id"]

    # a second success is no second recovery: the marker was taken, nothing is awaited
    await _publish_and_deliver(d, receiver)
    assert not d.daemon.alerts.awaiting_recovery(hook_id)
    assert "alert_recovery:" + hook_id not in await d.daemon.store.get_settings("system")
    assert len(sink.mails) == 2 and len(_alerts(receiver)) == 2


async def test_gone_is_told_at_once(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, sink: MailSink
) -> None:
    """A 410 disables the hook on the spot, and the alert says so."""
    d = await daemons(sqlite_store_url, **_alert_settings(sink))
    hook = Hook(receiver)
    hook.status = 410
    hook_id = await _setup(d, receiver)
    await _publish(d)
    (post,) = await _wait_alerts(receiver, 1)
    event = _verified(post)
    assert event["type"] == "webhook.disabled" and event["hook_id"] == hook_id
    assert event["reason"] == "endpoint answered 410 Gone" and event["failures"] == 1
    (mail,) = await sink.wait_for(1)
    assert "410 Gone" in mail.message["Subject"]
    assert not await _enabled(d, hook_id)


async def test_flapping_is_rate_limited(
    daemons: DaemonFactory, sqlite_store_url: str, receiver: Receiver, sink: MailSink
) -> None:
    """Three disable/recover cycles inside one interval: the first alert at once, then one
    with the last state that counts the four it replaced; nothing is lost from the count."""
    d = await daemons(sqlite_store_url, **_alert_settings(sink, alert_interval_s=5))
    hook = Hook(receiver)
    hook_id = await _setup(d, receiver)
    for _ in range(3):
        hook.status = 410
        await _publish(d)
        await eventually(lambda: d.daemon.table.get(hook_id) is None, what="hook disabled")
        hook.status = 200
        await d.api("PATCH", f"/v2/accounts/{d.master_id}/webhooks?re-enable=true", {})
        await eventually(lambda: d.daemon.table.get(hook_id) is not None, what="hook back")
        await _publish_and_deliver(d, receiver)
        await eventually(lambda: not d.daemon.alerts.awaiting_recovery(hook_id), what="seen")

    def told() -> list[dict[str, Any]] | None:
        events = [_verified(r) for r in _alerts(receiver)]
        return events if sum(1 + e["suppressed"] for e in events) == 6 else None

    events = await eventually(told, timeout=20, what="all six alerts accounted for")
    assert len(events) < 6, events  # some were held back and replaced
    assert events[0]["type"] == "webhook.disabled" and events[0]["suppressed"] == 0
    assert events[-1]["type"] == "webhook.recovered"  # the account ends up told the truth
    mails = await sink.wait_for(len(events))
    assert len(mails) == len(events)
    assert "not sent" in _body(mails[-1])


async def test_two_instances_tell_once(
    daemons: DaemonFactory,
    pg_store_url: str,
    receiver: Receiver,
    sink: MailSink,
    kazoo: KazooPublisher,
) -> None:
    """Two instances on one broker and one PostgreSQL store, both delivering the hook's
    events: one disable alert (the instance that won the write) and one recovery alert (the
    instance that took the marker), by e-mail and by POST."""
    extra = {**_alert_settings(sink), "amqp_url": AMQP_URL}
    first, second = await daemons(pg_store_url, **extra), await daemons(pg_store_url, **extra)
    hook = Hook(receiver)
    hook_id = await _setup(first, receiver)
    await eventually(lambda: second.daemon.table.get(hook_id) is not None, what="loaded twice")

    async def disabled() -> bool:
        if not await _enabled(first, hook_id):
            return True
        await kazoo.publish("callevt", *channel_create(first.master_id))
        return False

    await eventually(disabled, timeout=20, what="hook disabled by the server")
    hook.status = 200
    await first.api("PATCH", f"/v2/accounts/{first.master_id}/webhooks?re-enable=true", {})
    for d in (first, second):
        await eventually(partial(d.daemon.table.get, hook_id), what="reloaded")

    async def recovered() -> bool:
        if len(_alerts(receiver)) >= 2:
            return True
        await kazoo.publish("callevt", *channel_create(first.master_id))
        return False

    # each instance reads the other's marker within its refresh period (10 s)
    await eventually(recovered, timeout=25, what="the recovery alert")
    for _ in range(4):
        await kazoo.publish("callevt", *channel_create(first.master_id))
    await eventually(
        lambda: not any(d.daemon.alerts.awaiting_recovery(hook_id) for d in (first, second)),
        timeout=15,
        what="both instances past the recovery",
    )
    mails = await sink.wait_for(2)
    types = [_verified(r)["type"] for r in _alerts(receiver)]
    assert types == ["webhook.disabled", "webhook.recovered"]
    assert len(mails) == 2
