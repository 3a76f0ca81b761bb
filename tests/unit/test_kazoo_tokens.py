"""Kazoo-issued tokens (kazoo_auth's RS256 JWTs): the pure verifier and where its keys come
from (a PEM file, or kazoo_auth's system key in a real pouchdb-server)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.couch import CouchServer
from tests.kazootokens import ACCOUNT, KID, OWNER, kazoo_pem, kazoo_token, rsa_key, store_system_key
from webhooksd.kazoo.authkeys import (
    AUTH_DB,
    KEY_ATTACHMENT,
    CouchKeys,
    FileKey,
    KazooTokens,
)
from webhooksd.kazoo.couch import Couch
from webhooksd.kazoo.tokens import (
    KazooClaims,
    TokenFailure,
    kazoo_key_id,
    public_key_from_pem,
    verify,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segments(token: str) -> list[str]:
    return token.split(".")


PUBLIC = rsa_key().public_key()


def test_a_kazoo_token_verifies_with_its_key() -> None:
    """A genuine token yields its account, owner and expiry."""
    token = kazoo_token()
    assert kazoo_key_id(token) == KID
    checked = verify(token, PUBLIC)
    assert isinstance(checked, KazooClaims)
    assert (checked.account_id, checked.owner_id) == (ACCOUNT, OWNER)
    assert checked.expires_at is not None and checked.expires_at > time.time()
    assert checked.claims["method"] == "cb_user_auth"


@pytest.mark.parametrize("alg", ["RS384", "RS512"])
def test_the_other_rsa_algorithms_kazoo_accepts(alg: str) -> None:
    """kz_auth_jwt verifies RS384 and RS512 as well as RS256."""
    assert isinstance(verify(kazoo_token(alg=alg), PUBLIC), KazooClaims)


def test_an_expired_token_is_expired() -> None:
    """Past `exp` it is expired (a genuine token: the signature verified first)."""
    token = kazoo_token(exp=int(time.time()) - 1)
    assert verify(token, PUBLIC) == TokenFailure("expired")
    assert isinstance(verify(token, PUBLIC, now=time.time() - 60), KazooClaims)


def test_a_token_without_exp_does_not_expire() -> None:
    """Crossbar with token_auth_expiry 0 issues no `exp`; Kazoo then checks none."""
    checked = verify(kazoo_token(exp=None), PUBLIC, now=time.time() + 10 * 365 * 86400)
    assert isinstance(checked, KazooClaims)
    assert checked.expires_at is None


def test_an_altered_payload_fails_the_signature() -> None:
    """Another account id in the claims, the signature kept: refused."""
    header, payload, signature = _segments(kazoo_token())
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = _b64(json.dumps({**claims, "account_id": "f" * 32}).encode())
    assert verify(f"{header}.{forged}.{signature}", PUBLIC) == TokenFailure("signature")


def test_an_altered_signature_fails() -> None:
    """One byte of the signature changed: refused."""
    header, payload, signature = _segments(kazoo_token())
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    assert verify(f"{header}.{payload}.{_b64(bytes(raw))}", PUBLIC) == TokenFailure("signature")


def test_a_token_signed_with_another_key_fails() -> None:
    """The right kid but another private key: refused."""
    assert verify(kazoo_token(key=rsa_key(1)), PUBLIC) == TokenFailure("signature")


def test_an_unknown_kid_has_no_key() -> None:
    """No key by that id: refused without trying any other."""
    assert verify(kazoo_token(kid="0" * 32), None) == TokenFailure("unknown_key")


def test_alg_none_is_refused() -> None:
    """An unsigned token (`alg: none`) is never a Kazoo token."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    payload = _b64(json.dumps({"iss": "kazoo", "account_id": ACCOUNT}).encode())
    token = f"{header}.{payload}."
    assert kazoo_key_id(token) is None
    assert verify(token, PUBLIC) == TokenFailure("algorithm")


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The classic confusion: HMAC keyed with the (public) RSA key's PEM."""
    public_pem = PUBLIC.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = _b64(json.dumps({"iss": "kazoo", "account_id": ACCOUNT}).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    token = f"{header}.{payload}.{signature}"
    assert kazoo_key_id(token) is None
    assert verify(token, PUBLIC) == TokenFailure("algorithm")


def test_claims_kazoo_never_issues_are_refused() -> None:
    """Another issuer, or no 32-character account id: not Kazoo's token."""
    assert verify(kazoo_token(iss="https://accounts.google.com"), PUBLIC) == TokenFailure("claims")
    assert verify(kazoo_token(account_id=None), PUBLIC) == TokenFailure("claims")
    assert verify(kazoo_token(exp="tomorrow"), PUBLIC) == TokenFailure("claims")


def test_garbage_is_malformed() -> None:
    """Not a JWT at all."""
    assert verify("not.a.token", PUBLIC) == TokenFailure("malformed")
    assert verify("", PUBLIC) == TokenFailure("malformed")
    assert kazoo_key_id("abc") is None


def test_public_keys_come_from_every_pem_kazoo_or_an_operator_has() -> None:
    """kazoo_auth's PKCS#1 private key, a PKCS#8 one, a public key; an EC key is refused."""
    key = rsa_key()
    expected = key.public_key().public_numbers()
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for pem in (kazoo_pem(key), pkcs8, public):
        assert public_key_from_pem(pem).public_numbers() == expected
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="not RSA"):
        public_key_from_pem(ec_pem)


async def test_a_key_from_a_pem_file_verifies_any_kid(tmp_path: Path) -> None:
    """`kazoo_auth_public_key_file`: the file's key checks every Kazoo token."""
    path = tmp_path / "kazoo.pem"
    path.write_bytes(kazoo_pem(rsa_key()))
    verifier = KazooTokens(FileKey.load(str(path)))
    assert isinstance(await verifier.check(kazoo_token(kid="anything")), KazooClaims)
    assert await verifier.check(kazoo_token(key=rsa_key(1))) == TokenFailure("signature")
    assert await verifier.check("our.own.token") is None


class Clock:
    """A clock the test moves (the key cache's interval, without waiting for it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_system_key_from_system_auth(couch_server: CouchServer) -> None:
    """The key kazoo_auth keeps in CouchDB verifies its tokens; unknown kids cost no read,
    and the key is read again once per interval."""
    await store_system_key(couch_server, KID, rsa_key())
    clock = Clock()
    async with Couch.open(couch_server.url) as couch:
        keys = CouchKeys(couch, refresh_s=60, clock=clock)
        verifier = KazooTokens(keys)
        assert isinstance(await verifier.check(kazoo_token()), KazooClaims)
        assert keys.reads == 2  # system_config/auth, then the attachment
        for n in range(200):  # a hostile caller inventing kids
            checked = await verifier.check(kazoo_token(kid=f"{n:032x}"))
            assert checked == TokenFailure("unknown_key")
        assert isinstance(await verifier.check(kazoo_token()), KazooClaims)
        assert keys.reads == 2

        clock.now += 61
        assert await verifier.check(kazoo_token(kid="e" * 32)) == TokenFailure("unknown_key")
        assert keys.reads == 3  # only the system key's id, once
        assert isinstance(await verifier.check(kazoo_token()), KazooClaims)
        assert keys.reads == 4


async def test_a_rotated_system_key_is_followed(couch_server: CouchServer) -> None:
    """A new system key id in `system_config/auth` is used after the interval; tokens of the
    old one stop verifying."""
    await store_system_key(couch_server, KID, rsa_key())
    clock = Clock()
    async with Couch.open(couch_server.url) as couch:
        verifier = KazooTokens(CouchKeys(couch, refresh_s=60, clock=clock))
        assert isinstance(await verifier.check(kazoo_token()), KazooClaims)
        new_kid = "9" * 32
        auth = await couch.get_doc("system_config", "auth")
        assert auth is not None
        await couch_server.put("system_config", {**auth, "default": {"system_key": new_kid}})
        rev = await couch_server.put(AUTH_DB, {"_id": new_kid, "pvt_type": "system_key"})
        await couch_server.put_attachment(
            AUTH_DB, new_kid, rev, KEY_ATTACHMENT, kazoo_pem(rsa_key(1)), "application/x-pem-file"
        )
        clock.now += 61
        fresh = kazoo_token(key=rsa_key(1), kid=new_kid)
        assert isinstance(await verifier.check(fresh), KazooClaims)
        assert await verifier.check(kazoo_token()) == TokenFailure("unknown_key")


async def test_the_last_key_keeps_serving_while_couchdb_is_down(
    couch_server: CouchServer,
) -> None:
    """An outage after the key was read: tokens still verify; before any read they cannot."""
    await store_system_key(couch_server, KID, rsa_key())
    clock = Clock()
    async with Couch.open(couch_server.url) as couch:
        keys = CouchKeys(couch, refresh_s=60, clock=clock)
        verifier = KazooTokens(keys)
        assert isinstance(await verifier.check(kazoo_token()), KazooClaims)
        await couch_server.stop()
        clock.now += 61
        assert isinstance(await verifier.check(kazoo_token()), KazooClaims)
        cold = KazooTokens(CouchKeys(couch, refresh_s=60, clock=clock))
        assert await cold.check(kazoo_token()) == TokenFailure("unknown_key")


async def test_a_kid_without_a_key_document_is_unknown(couch_server: CouchServer) -> None:
    """`system_config/auth` names a key that `system_auth` does not hold (kazoo_auth would
    generate one; nothing is written here): refused."""
    await couch_server.put("system_config", {"_id": "auth", "default": {"system_key": KID}})
    await couch_server.put(AUTH_DB, {"_id": "other", "pvt_type": "system_key"})
    async with Couch.open(couch_server.url) as couch:
        verifier = KazooTokens(CouchKeys(couch, refresh_s=60))
        assert await verifier.check(kazoo_token()) == TokenFailure("unknown_key")
        assert await couch.get_doc(AUTH_DB, KID) is None
