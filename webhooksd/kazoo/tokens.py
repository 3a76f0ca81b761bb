"""Verifying the auth tokens Kazoo issues (``kazoo_auth``: ``kz_auth_jwt``, ``kz_auth_keys``).

Crossbar's ``api_auth`` and ``user_auth`` answer with a JWT that ``kz_auth_jwt:encode/3`` signs
with RS256 and the system key: the header carries ``alg``, ``typ: JWT`` and ``kid`` (the key's
id, ``system_config/auth`` → ``system_key``); the claims are ``iss: "kazoo"``, ``account_id``,
``owner_id`` (a user's token), ``method`` (``cb_api_auth``, ``cb_user_auth``…), ``exp`` (absent
when Crossbar's ``token_auth_expiry`` is 0) and ``identity_sig``. ``kz_auth_jwt:do_verify/1``
accepts RS256, RS384 and RS512, checks the signature with the key the ``kid`` names, and then
``exp`` when there is one.

Pure: a token and a key in, the claims or the reason it failed out (a value, never an
exception). Finding the key is :mod:`webhooksd.kazoo.authkeys`'s job.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

#: the algorithms ``kz_auth_jwt`` signs and verifies with; nothing else (``none``, ``HS256``…)
ALGORITHMS = ("RS256", "RS384", "RS512")
#: the issuer ``kz_auth:ensure_issuer/1`` puts in every token Kazoo itself issues
ISSUER = "kazoo"

FailureReason = Literal["malformed", "algorithm", "unknown_key", "signature", "claims", "expired"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KazooClaims:
    """A verified Kazoo token: whose it is, and every claim it carried."""

    account_id: str
    owner_id: str | None
    expires_at: int | None
    claims: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TokenFailure:
    """Why a token is not accepted. Only ``expired`` is a genuine token (its signature
    verified); every other reason means it is not one of Kazoo's."""

    reason: FailureReason


def header(token: str) -> Mapping[str, Any] | None:
    """The token's header, unverified; None when it is not a JWT."""
    try:
        found = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return None
    return found if isinstance(found, Mapping) else None


def kazoo_key_id(token: str) -> str | None:
    """The ``kid`` of a token signed the way Kazoo signs (RS256/384/512 with a key id); None
    for anything else, such as webhooksd's own HS256 tokens."""
    found = header(token)
    if found is None or found.get("alg") not in ALGORITHMS:
        return None
    kid = found.get("kid")
    return kid if isinstance(kid, str) and kid else None


def public_key_from_pem(pem: bytes) -> RSAPublicKey:
    """The RSA public key of a PEM: kazoo_auth's ``private_key.pem`` (PKCS#1 ``RSA PRIVATE
    KEY``, as ``kz_auth_keys:to_pem/1`` writes it, or PKCS#8) or a public key. Raises
    ValueError for anything else."""
    if b"PRIVATE KEY" in pem:
        private = load_pem_private_key(pem, password=None)
        if not isinstance(private, RSAPrivateKey):
            raise ValueError("the PEM holds a private key that is not RSA")
        return private.public_key()
    public = load_pem_public_key(pem)
    if not isinstance(public, RSAPublicKey):
        raise ValueError("the PEM holds a public key that is not RSA")
    return public


def verify(
    token: str, key: RSAPublicKey | None, *, now: float | None = None
) -> KazooClaims | TokenFailure:
    """Check ``token`` as ``kz_auth_jwt`` does with ``key`` (the public key its ``kid`` names,
    None when no key is known by that id)."""
    found = header(token)
    if found is None:
        return TokenFailure("malformed")
    if found.get("alg") not in ALGORITHMS:
        return TokenFailure("algorithm")
    if key is None:
        return TokenFailure("unknown_key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            # exp is checked below against `now`, the others Kazoo does not check at all
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        return TokenFailure("signature")
    except jwt.InvalidTokenError:
        return TokenFailure("malformed")
    return _claims(claims, time.time() if now is None else now)


def _claims(claims: Mapping[str, Any], now: float) -> KazooClaims | TokenFailure:
    account_id, owner_id, exp = claims.get("account_id"), claims.get("owner_id"), claims.get("exp")
    if claims.get("iss") != ISSUER or not isinstance(account_id, str) or len(account_id) != 32:
        return TokenFailure("claims")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
        return TokenFailure("claims")
    # kz_auth_jwt:verify_expiration/1: valid while exp is in the future; no exp, no expiry
    if exp is not None and exp - now <= 0:
        return TokenFailure("expired")
    return KazooClaims(
        account_id=account_id,
        owner_id=owner_id if isinstance(owner_id, str) else None,
        expires_at=int(exp) if exp is not None else None,
        claims=dict(claims),
    )
