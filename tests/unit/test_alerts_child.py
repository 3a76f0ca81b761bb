"""The alerts child against real parts: a loopback receiver, aiosmtpd, the SQLite store and
the hooks' real Sender (retries bounded, failures logged once an interval, the SSRF guard)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import orjson
import pytest
import structlog

from tests.conftest import Receiver
from tests.smtp import MailSink, start_sink
from tests.unit.conftest import ACCOUNT
from tests.waiting import eventually
from webhooksd.alerts.account import SETTINGS_KEY
from webhooksd.alerts.mail import SmtpMailer
from webhooksd.children.alerts import Alerts
from webhooksd.config import Settings, load
from webhooksd.delivery.sender import Sender
from webhooksd.records import Hook, HookDoc
from webhooksd.runtime.supervisor import ChildHandle
from webhooksd.store import Store


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[MailSink]:
    sink, server = await start_sink()
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


def _settings(sink: MailSink, **extra: Any) -> Settings:
    defaults: dict[str, Any] = {
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "smtp_security": "none",
        "smtp_from": "webhooksd@example.net",
        "allow_private_targets": True,
        "alert_attempts": 3,
    }
    return load(environ={}).replace(**{**defaults, **extra})


@asynccontextmanager
async def _running(settings: Settings, store: Store) -> AsyncIterator[Alerts]:
    async with Sender.open(settings) as sender:
        alerts = Alerts(
            settings=settings,
            store=store,
            poster=sender,
            mailer=SmtpMailer(settings),
            retry_base_s=0.01,
        )
        task = asyncio.create_task(alerts(ChildHandle("alerts")))
        try:
            yield alerts
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _hook(n: int = 1) -> HookDoc:
    return HookDoc(id=f"hook{n}", account_id=ACCOUNT, doc={"name": f"h{n}", "uri": "http://x/"})


def _warnings(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == "alert not sent" and e["log_level"] == "warning"]


def _count(receiver: Receiver, path: str = "/alerts") -> Callable[[], int]:
    return lambda: sum(r.path == path for r in receiver.requests)


async def test_post_retries_are_bounded_and_failure_warned_once(
    store: Store, receiver: Receiver, sink: MailSink
) -> None:
    """A receiver answering 503: three tries of one alert (one webhook-id), one warning; the
    next alert's failure within the interval is not warned again."""
    receiver.status = 503
    await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": [], "url": receiver.url + "/alerts"})
    with structlog.testing.capture_logs() as logs:
        async with _running(_settings(sink), store) as alerts:
            alerts.disabled(_hook(1), "too many failed attempts", 6)
            await eventually(partial(_warnings, logs), what="the failure warned")
            assert _count(receiver)() == 3
            assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
            assert "webhook-signature" not in receiver.requests[0].headers  # no secret set
            alerts.disabled(_hook(2), "too many failed attempts", 6)
            await eventually(lambda: _count(receiver)() == 6, what="the second alert's tries")
            await eventually(
                lambda: sum(e["event"] == "alert not sent" for e in logs) == 2,
                what="the second failure logged",
            )
    assert len(_warnings(logs)) == 1 and _warnings(logs)[0]["channel"] == "post"


async def test_smtp_temporary_refusal_retried_permanent_not(
    store: Store, receiver: Receiver, sink: MailSink
) -> None:
    """451 from the SMTP server is tried again (then accepted); 550 is given up at once."""
    await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": ["ops@example.com"]})
    sink.replies = ["451 4.3.0 try later", "250 OK", "550 5.1.1 no such user"]
    with structlog.testing.capture_logs() as logs:
        async with _running(_settings(sink), store) as alerts:
            alerts.disabled(_hook(1), "too many failed attempts", 6)
            (mail,) = await sink.wait_for(1)
            assert mail.recipients == ["ops@example.com"] and sink.tries == 2
            alerts.disabled(_hook(2), "too many failed attempts", 6)
            await eventually(partial(_warnings, logs), what="the refusal warned")
    assert sink.tries == 3 and "550" in _warnings(logs)[0]["error"]


async def test_alert_url_goes_through_the_ssrf_guard(
    store: Store, receiver: Receiver, sink: MailSink
) -> None:
    """Without allow_private_targets a loopback alert URL is refused, never connected to."""
    await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": [], "url": receiver.url + "/alerts"})
    with structlog.testing.capture_logs() as logs:
        async with _running(_settings(sink, allow_private_targets=False), store) as alerts:
            alerts.disabled(_hook(1), "too many failed attempts", 6)
            (warning,) = await eventually(partial(_warnings, logs), what="the refusal warned")
    assert warning["error"].startswith("ssrf_blocked") and receiver.requests == []


async def test_recovery_sent_once_and_stale_markers_dropped(
    store: Store, receiver: Receiver, sink: MailSink
) -> None:
    """Two instances see the hook deliver again: one recovery alert. A deleted hook's marker
    is dropped by the next read of the markers."""
    await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": [], "url": receiver.url + "/alerts"})
    hook = _hook(1)
    await store.create_hook(hook)
    settings = _settings(sink, alert_interval_s=1)
    async with _running(settings, store) as one, _running(settings, store) as two:
        one.disabled(hook, "too many failed attempts", 6)
        await eventually(_count(receiver), what="the disable alert")
        await two.refresh()
        assert two.awaiting_recovery(hook.id) and one.awaiting_recovery(hook.id)
        compiled = Hook.from_doc(hook)
        one.delivered(compiled)
        two.delivered(compiled)
        await eventually(lambda: _count(receiver)() == 2, timeout=10, what="the recovery alert")
        await one.refresh()
        assert not one.awaiting_recovery(hook.id) and not two.awaiting_recovery(hook.id)
        bodies = [r.body for r in receiver.requests]
        assert b"webhook.recovered" in bodies[1]

        gone = _hook(2)
        await store.set_setting("system", "alert_recovery:" + gone.id, {"account_id": ACCOUNT})
        await one.refresh()
        assert not one.awaiting_recovery(gone.id)
        assert "alert_recovery:" + gone.id not in await store.get_settings("system")
    assert _count(receiver)() == 2


async def test_smtp_auth_uses_the_configured_login(store: Store) -> None:
    """smtp_user/smtp_password log in; a wrong password is a permanent failure, warned."""
    sink, server = await start_sink(login=("alerts", "s3cret"))
    try:
        await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": ["ops@example.com"]})
        good = _settings(sink, smtp_user="alerts", smtp_password="s3cret")
        async with _running(good, store) as alerts:
            alerts.disabled(_hook(1), "too many failed attempts", 6)
            (mail,) = await sink.wait_for(1)
        assert mail.recipients == ["ops@example.com"]
        with structlog.testing.capture_logs() as logs:
            async with _running(_settings(sink, smtp_user="alerts"), store) as alerts:
                alerts.disabled(_hook(2), "too many failed attempts", 6)
                (warning,) = await eventually(partial(_warnings, logs), what="refusal warned")
        assert warning["error"].startswith("535") and len(sink.mails) == 1
    finally:
        server.close()
        await server.wait_closed()


async def test_a_success_while_still_disabled_is_no_recovery(
    store: Store, receiver: Receiver, sink: MailSink
) -> None:
    """An attempt in flight when the hook was disabled succeeds after: nothing is told until
    the hook is enabled again and delivers."""
    await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": [], "url": receiver.url + "/alerts"})
    created = await store.create_hook(_hook(1))
    hook = await store.update_hook(replace(created, doc={**created.doc, "enabled": False}))
    async with _running(_settings(sink, alert_interval_s=1), store) as alerts:
        alerts.disabled(hook, "too many failed attempts", 6)
        alerts.delivered(Hook.from_doc(created))
        await eventually(_count(receiver), what="the disable alert")
        await eventually(partial(alerts.awaiting_recovery, hook.id), what="still awaited")
        assert "alert_recovery:hook1" in await store.get_settings("system")
        await store.update_hook(replace(hook, doc={**hook.doc, "enabled": True}))
        alerts.delivered(Hook.from_doc(created))
        await eventually(lambda: _count(receiver)() == 2, timeout=10, what="the recovery")
    types = [orjson.loads(r.body)["type"] for r in receiver.requests]
    assert types == ["webhook.disabled", "webhook.recovered"]


async def test_a_hook_name_cannot_add_mail_headers(store: Store, sink: MailSink) -> None:
    """A name with a line break ends up on the subject line, not as a header of its own."""
    await store.set_setting(ACCOUNT, SETTINGS_KEY, {"emails": ["ops@example.com"]})
    hook = replace(_hook(1), doc={"name": "calls\r\nBcc: thief@evil.example"})
    async with _running(_settings(sink), store) as alerts:
        alerts.disabled(hook, "too many failed attempts", 6)
        (mail,) = await sink.wait_for(1)
    assert mail.recipients == ["ops@example.com"] and mail.message["Bcc"] is None
    assert mail.message["Subject"].startswith('Webhook "calls Bcc: thief@evil.example" was')
