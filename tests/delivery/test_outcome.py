"""Outcome classification, Retry-After and backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from webhooksd.delivery.outcome import backoff_ms, classify, retry_after


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "success"),
        (201, "success"),
        (204, "success"),
        (299, "success"),
        (301, "final"),
        (302, "final"),
        (400, "final"),
        (401, "final"),
        (404, "final"),
        (410, "gone"),
        (429, "retryable"),
        (500, "retryable"),
        (502, "retryable"),
        (503, "retryable"),
    ],
)
def test_classify(status: int, kind: str) -> None:
    """Any 2xx succeeds; 429 and 5xx retry; 410 disables; other codes are final."""
    assert classify(status) == kind


def test_retry_after_seconds_and_date() -> None:
    """Retry-After as delta-seconds or as an HTTP date; garbage is ignored."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after("7") == 7.0
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after("soon") is None and retry_after(None) is None


def test_backoff_grows_is_jittered_capped_and_honours_retry_after() -> None:
    """Each retry waits about twice the last, within [ceiling/2, ceiling], capped."""
    for attempt, ceiling in ((1, 2000), (2, 4000), (3, 8000), (10, 60000)):
        for _ in range(50):
            delay = backoff_ms(attempt, base_ms=2000, max_ms=60000, retry_after_s=None)
            assert ceiling / 2 <= delay <= ceiling
    assert backoff_ms(1, base_ms=2000, max_ms=60000, retry_after_s=20) >= 20000
    assert backoff_ms(1, base_ms=2000, max_ms=60000, retry_after_s=600) == 60000
