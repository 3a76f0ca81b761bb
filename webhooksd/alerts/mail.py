"""Alert e-mails: composed here, sent through the daemon's SMTP server (``smtp_*``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib

from webhooksd.alerts.events import DISABLED, Alert, iso
from webhooksd.config import Settings


@dataclass(frozen=True, slots=True, kw_only=True)
class MailResult:
    """How one send went; ``error`` says why it failed, ``retryable`` whether to try again."""

    ok: bool
    error: str = ""
    retryable: bool = False


class Mailer(Protocol):
    """Protocol: hand one message to a mail server."""

    @property
    def configured(self) -> bool:
        """Whether there is a server to send through at all."""

    async def send(self, message: EmailMessage) -> MailResult: ...


def subject(alert: Alert) -> str:
    # a hook's name is the tenant's text: no line break may reach a header
    name = " ".join((alert.hook_name or alert.hook_id).split())
    if alert.type == DISABLED:
        return f'Webhook "{name}" was disabled: {alert.reason}'
    return f'Webhook "{name}" delivers again'


def text(alert: Alert) -> str:
    lines = [
        f"Account:  {alert.account_id}",
        f"Webhook:  {alert.hook_name} ({alert.hook_id})",
    ]
    if alert.type == DISABLED:
        lines[:0] = [
            "The server switched this webhook off; it sends nothing until it is enabled "
            "again (PATCH /v2/accounts/{account}/webhooks?re-enable=true, or the UI).",
            "",
        ]
        lines += [
            f"Reason:   {alert.reason}",
            f"Failures: {alert.failures}",
            f"Disabled: {iso(alert.at_ms)}",
        ]
    else:
        lines[:0] = ["This webhook was enabled again and has delivered an event.", ""]
        lines += [
            f"Had been disabled: {iso(alert.disabled_at_ms or alert.at_ms)} ({alert.reason})",
            f"Delivered again:   {iso(alert.at_ms)}",
        ]
    if alert.suppressed:
        lines += [
            "",
            f"{alert.suppressed} earlier alert(s) of this webhook were not sent: at most one "
            "is sent per interval.",
        ]
    return "\n".join(lines) + "\n"


def compose(alert: Alert, *, sender: str, to: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject(alert)
    message["Date"] = formatdate(alert.at_ms / 1000, usegmt=True)
    # the From domain: the default would ask DNS for this host's name on every message
    message["Message-ID"] = make_msgid(alert.id, domain=sender.rpartition("@")[2] or None)
    message["X-Webhooksd-Alert"] = alert.type
    message["X-Account-ID"] = alert.account_id
    message["X-Hook-ID"] = alert.hook_id
    message.set_content(text(alert))
    return message


class SmtpMailer:
    """One SMTP connection per message: alerts are rare, and a kept connection would be
    dropped by the server long before the next one."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def configured(self) -> bool:
        return bool(self._settings.smtp_host)

    async def send(self, message: EmailMessage) -> MailResult:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_password if s.smtp_user else None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.smtp_timeout_ms / 1000,
            )
        except aiosmtplib.SMTPResponseException as exc:
            # 4xx is a temporary refusal (try again), 5xx a permanent one
            return MailResult(
                ok=False, error=f"{exc.code} {exc.message}", retryable=400 <= exc.code < 500
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return MailResult(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=True)
        return MailResult(ok=True)
