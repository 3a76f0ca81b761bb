"""One redaction rule for hook documents, attempt records and logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog

from webhooksd.redaction import (
    REDACTED,
    redact_headers,
    redact_log_event,
    redact_url,
    restore_headers,
    restore_url,
)
from webhooksd.runtime import logs


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.example/x", "https://h.example/x"),
        ("https://u:p@h.example/x", f"https://u:{REDACTED}@h.example/x"),
        ("https://u@h.example/x", "https://u@h.example/x"),
        ("https://h.example/?a=1&password=p&b", f"https://h.example/?a=1&password={REDACTED}&b"),
        ("https://h.example/?access%5Ftoken=t", f"https://h.example/?access%5Ftoken={REDACTED}"),
        ("https://h.example/p@x?q=1", "https://h.example/p@x?q=1"),
        ("not a url ?secret=s", f"not a url ?secret={REDACTED}"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert restore_url(shown, url) == url
    assert restore_url("https://changed.example/", url) == "https://changed.example/"


def test_headers_keep_their_names_in_documents_and_restore() -> None:
    stored = {"X-Api-Key": "k1", "X-Tenant": "acme"}
    shown = redact_headers(stored, lower=False)
    assert shown == {"X-Api-Key": REDACTED, "X-Tenant": "acme"}
    assert restore_headers(shown, stored) == stored
    assert restore_headers({"X-Api-Key": "new"}, stored) == {"X-Api-Key": "new"}


def test_logs_redact_urls(capsys: pytest.CaptureFixture[str]) -> None:
    """The configured log pipeline redacts a URL in any field."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("info", "json")
    try:
        structlog.get_logger("t").warning(
            "delivery failed", uri="https://u:pw@h.example/?token=t1", routing_key="a.b"
        )
        line: dict[str, Any] = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level
    assert line["uri"] == f"https://u:{REDACTED}@h.example/?token={REDACTED}"
    assert line["routing_key"] == "a.b"
    assert "pw" not in str(line) and "t1" not in str(line)
    assert redact_log_event(None, "info", {"event": "x"}) == {"event": "x"}
