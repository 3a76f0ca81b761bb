"""Kazoo-shaped auth tokens for tests: a key stored as kazoo_auth stores it, and tokens
signed with it as Crossbar's ``create_auth_token`` signs them."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.couch import CouchServer
from webhooksd.kazoo.authkeys import AUTH_DB, KEY_ATTACHMENT

KID = "4f1ec1cf4fd1f2b2e8b5b36ea2e7c4a1"
ACCOUNT = "3b9f2f4b0c5d4a6e8f7a1b2c3d4e5f60"
OWNER = "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"


@cache
def rsa_key(n: int = 0) -> rsa.RSAPrivateKey:
    """A 2048-bit key (the size kazoo_auth generates); made once per test run per ``n``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def kazoo_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The key as ``kz_auth_keys:to_pem/1`` writes it: PKCS#1 ``RSA PRIVATE KEY``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def kazoo_token(
    *, key: rsa.RSAPrivateKey | None = None, kid: str = KID, alg: str = "RS256", **claims: Any
) -> str:
    """A token shaped as Crossbar's ``create_auth_token`` + ``kz_auth_jwt:encode/3`` make it."""
    body: dict[str, Any] = {
        "iss": "kazoo",
        "account_id": ACCOUNT,
        "owner_id": OWNER,
        "method": "cb_user_auth",
        "exp": int(time.time()) + 3600,
        "identity_sig": "c2lnbmF0dXJl",
        **claims,
    }
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None},
        key or rsa_key(),
        algorithm=alg,
        headers={"kid": kid, "typ": "JWT"},
    )


async def store_system_key(couch: CouchServer, kid: str, key: rsa.RSAPrivateKey) -> None:
    """Store the key as kazoo_auth does: `system_config/auth` names it, `system_auth/<kid>`
    holds `private_key.pem`."""
    await couch.put("system_config", {"_id": "auth", "default": {"system_key": kid}})
    rev = await couch.put(AUTH_DB, {"_id": kid, "pvt_type": "system_key"})
    await couch.put_attachment(
        AUTH_DB, kid, rev, KEY_ATTACHMENT, kazoo_pem(key), "application/x-pem-file"
    )
