"""Clocks and Kazoo's time units.

Kazoo timestamps (``Timestamp``, ``pvt_created``, ``created_from``) are Gregorian seconds:
seconds since 0000-01-01, which is the Unix epoch plus 62167219200.
"""

from __future__ import annotations

import time

GREGORIAN_OFFSET = 62_167_219_200


def now_ms() -> int:
    """Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


def unix_to_gregorian(unix_seconds: float) -> int:
    return int(unix_seconds) + GREGORIAN_OFFSET


def gregorian_to_unix(gregorian_seconds: int) -> int:
    return gregorian_seconds - GREGORIAN_OFFSET


def now_gregorian() -> int:
    return unix_to_gregorian(time.time())
