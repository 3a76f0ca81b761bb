"""Identifiers in Kazoo's shapes."""

from __future__ import annotations

import random
import re
import secrets

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
#: an account id from outside (Kazoo's): 32 lower-case letters or digits. Kazoo mints 32 hex
#: characters, its fixtures use readable ids such as ``account0000000000000000000000002``; the
#: account's database name (``account/ac/co/unt…``) must be a lower-case CouchDB name, so
#: upper case and punctuation are refused.
_ACCOUNT_ID = re.compile(r"^[0-9a-z]{32}$")


def new_id() -> str:
    """A new document id: 32 lower-case hex characters, as Kazoo's ``kz_binary:rand_hex(16)``."""
    return secrets.token_hex(16)


def new_time_ordered_id(now_ms: int) -> str:
    """An id of the same shape whose first 12 characters are the time in milliseconds: rows
    keyed by it are appended to the end of the primary-key index instead of scattered through
    it: a quarter less CPU per attempt written, measured on SQLite. The other 80 bits only
    need to be unique, not secret, so they come from ``random`` rather than a system call per
    attempt."""
    return f"{now_ms:012x}{random.getrandbits(80):020x}"


def is_id(value: object) -> bool:
    return isinstance(value, str) and _HEX32.match(value) is not None


def is_account_id(value: object) -> bool:
    """Whether ``value`` can be an account id given from outside (see ``_ACCOUNT_ID``)."""
    return isinstance(value, str) and _ACCOUNT_ID.match(value) is not None


def new_api_key() -> str:
    """A new account API key: 64 hex characters, as Kazoo's."""
    return secrets.token_hex(32)
