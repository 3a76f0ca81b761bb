"""A real SMTP server on loopback (aiosmtpd) that keeps every message it is handed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class MailSink:
    """aiosmtpd's handler: ``handle_DATA`` stores the message and wakes ``wait_for``."""

    host: str = "127.0.0.1"
    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    #: the SMTP reply to DATA (a 4xx or 5xx makes the client fail)…
    reply: str = "250 Message accepted for delivery"
    #: …unless these are left: the next message gets the first
    replies: list[str] = field(default_factory=list)
    #: messages offered, accepted or not
    tries: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.tries += 1
        reply = self.replies.pop(0) if self.replies else self.reply
        if not reply.startswith("250"):
            return reply
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = Mail(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], parsed)
        async with self.arrived:
            self.mails.append(mail)
            self.arrived.notify_all()
        return reply

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Mail]:
        """Wait until at least ``count`` messages arrived; return them all."""
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.mails) >= count), timeout)
        return list(self.mails)


async def start_sink(login: tuple[str, str] | None = None) -> tuple[MailSink, asyncio.Server]:
    """An aiosmtpd server in this event loop on a free loopback port; with ``login``, one that
    requires AUTH with that user and password (over plain text: it is loopback)."""
    sink = MailSink()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and login == (
            data.login.decode(),
            data.password.decode(),
        )
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

    def protocol() -> SMTP:
        if login is None:
            return SMTP(sink, hostname="sink.test")
        with warnings.catch_warnings():
            # aiosmtpd warns of AUTH without TLS; on loopback in a test that is the point
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SMTP(
                sink,
                hostname="sink.test",
                authenticator=authenticate,
                auth_required=True,
                auth_require_tls=False,
            )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    return sink, server
