"""Building the request Kazoo receivers expect: per verb and format, headers, webhook-id and
the Standard Webhooks signature (verified with the standard library alone)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from webhooksd.delivery.request import OutboundRequest, build_request, webhook_id
from webhooksd.records import Hook

KEY = b"k" * 32
SECRET = "whsec_" + base64.b64encode(KEY).decode()
PAYLOAD = {"call_id": "c-1", "caller_id_name": "Zoë Smith", "nested": {"a": 1}}


def _hook(**doc: Any) -> Hook:
    return Hook(
        id=doc.pop("id", "h" * 32),
        account_id="a" * 32,
        name="n",
        uri=doc.pop("uri", "http://receiver.example/hook"),
        hook="channel_create",
        **doc,
    )


def _build(hook: Hook, payload: dict[str, Any] = PAYLOAD) -> OutboundRequest:
    return build_request(hook, payload, msg_id="msg_1", timestamp=1_700_000_000)


def test_get_puts_the_payload_in_the_query_only() -> None:
    """GET: no body, no content type, the payload appended after the URI's own query."""
    request = _build(_hook(http_verb="get", uri="http://r.example/p?x=1"))
    assert request.method == "GET" and request.body == b""
    assert "Content-Type" not in request.headers
    assert request.uri == "http://r.example/p?x=1"
    query = urlsplit(request.url).query
    assert query.startswith("x=1&call_id=c-1&")
    assert dict(parse_qsl(query))["nested[a]"] == "1"


@pytest.mark.parametrize("verb", ["post", "put"])
def test_form_data_body(verb: str) -> None:
    """POST/PUT form-data: Kazoo's querystring as an urlencoded body."""
    request = _build(_hook(http_verb=verb))
    assert request.method == verb.upper() and request.url == request.uri
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body == b"call_id=c-1&caller_id_name=Zo%C3%AB+Smith&nested[a]=1"


@pytest.mark.parametrize("verb", ["post", "put"])
def test_json_body(verb: str) -> None:
    """POST/PUT json: pretty-printed UTF-8 JSON with its content type."""
    request = _build(_hook(http_verb=verb, format="json"))
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == PAYLOAD
    assert "Zoë".encode() in request.body and b'\n  "call_id"' in request.body


def test_kazoo_headers_cannot_be_overridden() -> None:
    """X-Hook-ID, X-Account-ID, Content-Type and every webhook-* header are the daemon's."""
    hook = _hook(
        secret=SECRET,
        custom_request_headers={
            "x-hook-id": "spoof",
            "X-ACCOUNT-ID": "spoof",
            "content-type": "text/plain",
            "Webhook-Signature": "v1,forged",
            "webhook-anything": "x",
            "X-Tenant": "acme",
        },
    )
    headers = {k.lower(): v for k, v in _build(hook).headers.items()}
    assert headers["x-hook-id"] == hook.id and headers["x-account-id"] == hook.account_id
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["webhook-signature"] != "v1,forged" and "webhook-anything" not in headers
    assert headers["x-tenant"] == "acme"


def test_webhook_id_is_stable_per_event_and_hook() -> None:
    """The same (event, hook) gives the same webhook-id; another hook or event another."""
    first = webhook_id("call.CHANNEL_CREATE.x", "h1")
    assert first == webhook_id("call.CHANNEL_CREATE.x", "h1") and first.startswith("msg_")
    assert first != webhook_id("call.CHANNEL_CREATE.x", "h2")
    assert first != webhook_id("call.CHANNEL_CREATE.y", "h1")


@pytest.mark.parametrize(("verb", "fmt"), [("post", "json"), ("put", "form-data"), ("get", "")])
def test_signature_verifies_with_stdlib_hmac(verb: str, fmt: str) -> None:
    """webhook-signature is v1,base64(HMAC-SHA256(key, id.timestamp.body)) of the exact body."""
    hook = _hook(http_verb=verb, format=fmt or "form-data", secret=SECRET)
    request = _build(hook)
    headers = request.headers
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_no_secret_no_signature() -> None:
    """Without a secret only webhook-id and webhook-timestamp are sent."""
    headers = _build(_hook()).headers
    assert "webhook-signature" not in headers and headers["webhook-id"] == "msg_1"


def test_endpoint_key_survives_a_bad_port() -> None:
    """A URI whose port is no number still has an endpoint key (the sender refuses it)."""
    request = OutboundRequest(method="POST", uri="http://h:port/x", url="http://h:port/x")
    assert request.endpoint == "http://h:port"
    ok = OutboundRequest(method="POST", uri="HTTPS://Example.COM/x", url="")
    assert ok.endpoint == "https://example.com:443"
