"""Standard Webhooks signatures, checked with an independent HMAC computation."""

from __future__ import annotations

import base64
import hashlib
import hmac

from webhooksd.delivery.signing import sign

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def _expected(key: bytes, msg_id: str, ts: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_signature_matches_the_spec() -> None:
    """v1,<base64 HMAC-SHA256(base64-decoded key, id.timestamp.body)>."""
    assert sign(SECRET, "msg_1", 1700000000, b'{"a":1}') == _expected(
        KEY, "msg_1", 1700000000, b'{"a":1}'
    )


def test_the_specification_example() -> None:
    """The Standard Webhooks specification's published test vector (the one its reference
    libraries' tests sign, e.g. the Python library's test_sign_function): a receiver using
    any of those libraries verifies what webhooksd signs."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_changed_body_changes_the_signature() -> None:
    """A tampered body does not verify."""
    assert sign(SECRET, "msg_1", 1, b"a") != sign(SECRET, "msg_1", 1, b"b")


def test_rotation_gives_one_signature_per_secret() -> None:
    """Space-separated secrets (a rotation) give space-separated signatures."""
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    sigs = sign(f"{SECRET} {other}", "m", 2, b"").split(" ")
    assert sigs == [_expected(KEY, "m", 2, b""), _expected(b"x" * 32, "m", 2, b"")]


def test_plain_secret_is_used_as_bytes() -> None:
    """A secret without the whsec_ prefix is the raw key."""
    assert sign("plain-secret-of-24-chars!", "m", 3, b"b") == _expected(
        b"plain-secret-of-24-chars!", "m", 3, b"b"
    )
