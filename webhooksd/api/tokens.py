"""Signed, expiring auth tokens (Kazoo 5's ``kz_auth_jwt``, JWT-shaped).

A token is ``base64url(header).base64url(claims).base64url(HMAC-SHA256)`` over the compact
claims ``{account_id, exp, iat}``. The secret lives in the store, so every instance accepts every
other's tokens. Checking a token is a value, not an exception.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Literal

import orjson

_HEADER = {"alg": "HS256", "typ": "JWT"}

TokenState = Literal["valid", "expired", "invalid"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenCheck:
    """What a supplied token turned out to be; ``account_id`` only when it is valid."""

    state: TokenState
    account_id: str | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signing_input: str) -> str:
    return _b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def issue(secret: str, account_id: str, ttl_s: int, *, now: float | None = None) -> str:
    """A token for ``account_id`` valid for ``ttl_s`` seconds."""
    issued = int(time.time() if now is None else now)
    claims = {"account_id": account_id, "exp": issued + ttl_s, "iat": issued}
    signing_input = f"{_b64(orjson.dumps(_HEADER))}.{_b64(orjson.dumps(claims))}"
    return f"{signing_input}.{_sign(secret, signing_input)}"


def check(secret: str, token: str, *, now: float | None = None) -> TokenCheck:
    """Verify the signature first: only a genuine token can be "expired" (Kazoo's 401);
    anything else is "invalid" and treated as no token at all."""
    parts = token.split(".")
    if len(parts) != 3:
        return TokenCheck(state="invalid")
    header, payload, signature = parts
    expected = _sign(secret, f"{header}.{payload}")
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return TokenCheck(state="invalid")
    try:
        claims = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        return TokenCheck(state="invalid")
    if not isinstance(claims, dict):
        return TokenCheck(state="invalid")
    account_id, exp = claims.get("account_id"), claims.get("exp")
    if not isinstance(account_id, str) or not isinstance(exp, int):
        return TokenCheck(state="invalid")
    if exp <= int(time.time() if now is None else now):
        return TokenCheck(state="expired")
    return TokenCheck(state="valid", account_id=account_id)
