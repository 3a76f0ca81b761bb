"""The response envelope, headers and request parsing (reference §1.2-1.4)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from webhooksd.api import create_app
from webhooksd.api.envelope import node_hash

from .conftest import Api

HOOK = {"name": "n", "uri": "http://example.com/h", "hook": "channel_create"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_success_envelope_keys(api: Api, token: str) -> None:
    """An authenticated success carries data, status, request_id, node, timestamp, version
    and the echoed auth_token."""
    status, body, headers = await api.call(
        "GET", f"/v2/accounts/{api.master.id}/webhooks", token=token
    )
    assert status == 200
    assert body["status"] == "success"
    assert body["data"] == []
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert headers["X-Request-ID"] == body["request_id"]
    assert body["node"] == node_hash("webhooksd@test")
    assert ISO.match(body["timestamp"])
    assert body["auth_token"] == token
    assert body["version"]
    assert body["page_size"] == 0
    assert "revision" in body


@pytest.mark.parametrize(
    ("method", "path", "data", "with_token", "status"),
    [
        ("GET", "/v2/accounts/{account}/webhooks", None, True, 200),
        ("PUT", "/v2/accounts/{account}/webhooks", HOOK, True, 201),
        ("GET", "/v2/webhooks", None, False, 200),
        ("PUT", "/v2/accounts/{account}/webhooks", {}, True, 400),
        ("GET", "/v2/accounts/{account}/webhooks", None, False, 401),
        ("GET", "/v2/accounts/{account}/webhooks/" + "0" * 32, None, True, 404),
        ("GET", "/v2/no_such_module", None, False, 404),
    ],
)
async def test_tokens_in_every_answer(
    api: Api, token: str, method: str, path: str, data: Any, with_token: bool, status: int
) -> None:
    """Crossbar's envelope always has ``tokens`` (``get_token_obj``): the request's cost and
    what is left; without rate limiting a caller has no bucket, reported as a full one."""
    got, body, _ = await api.call(
        method, path.format(account=api.master.id), token=token if with_token else None, data=data
    )
    assert got == status
    assert body["tokens"] == {"consumed": 1, "remaining": 100}


async def test_content_type_is_exact(api: Api, token: str) -> None:
    """Content-Type is exactly application/json (no charset) on success and error."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    _, _, headers = await api.call("PUT", path, token=token, data=HOOK)
    assert headers["Content-Type"] == "application/json"
    _, _, headers = await api.call("PUT", path, token=token, data={})
    assert headers["Content-Type"] == "application/json"
    _, _, headers = await api.call("GET", "/v2/webhooks")
    assert headers["Content-Type"] == "application/json"


async def test_request_id_is_echoed(api: Api) -> None:
    """A supplied X-Request-ID is used in the header and body."""
    _, body, headers = await api.call("GET", "/v2/webhooks", headers={"X-Request-ID": "abc-1"})
    assert body["request_id"] == "abc-1"
    assert headers["X-Request-ID"] == "abc-1"


async def test_version_only_when_authenticated(api: Api, token: str) -> None:
    """``version`` appears with a valid token and never without one (errors included)."""
    _, body, _ = await api.call("GET", "/v2/webhooks", token=token)
    assert "version" in body
    _, body, _ = await api.call("GET", "/v2/webhooks")
    assert "version" not in body
    assert "auth_token" not in body
    _, body, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/webhooks")
    assert "version" not in body
    _, body, _ = await api.call("DELETE", f"/v2/accounts/{api.master.id}/webhooks", token=token)
    assert body["status"] == "error"
    assert "version" in body


async def test_create_location_and_get_etag(api: Api, token: str) -> None:
    """PUT answers 201 with a Location path; GET carries an ETag of the revision."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    status, body, headers = await api.call("PUT", path, token=token, data=HOOK)
    assert status == 201
    hook_id = body["data"]["id"]
    assert headers["Location"] == f"{path}/{hook_id}"
    _, got, headers = await api.call("GET", f"{path}/{hook_id}", token=token)
    assert headers["ETag"] == f'"{got["revision"]}"'
    assert got["revision"].startswith("1-")


async def test_cors_everywhere_and_preflight(api: Api, token: str) -> None:
    """CORS headers are on successes, errors and the answered OPTIONS preflight."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    for method, tok in (("GET", token), ("GET", None), ("OPTIONS", None)):
        status, _, headers = await api.call(method, path, token=tok)
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert "X-Auth-Token" in headers["Access-Control-Allow-Headers"]
        assert headers["Access-Control-Max-Age"] == "86400"
        if method == "OPTIONS":
            assert status == 200
            assert "PATCH" in headers["Access-Control-Allow-Methods"]


async def test_form_urlencoded_falls_back_to_json(api: Api, token: str) -> None:
    """``curl -d '{"data":…}'`` (form content type, JSON body) is read as JSON."""
    status, body, _ = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}/webhooks",
        token=token,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        raw=b'{"data":{"name":"n","uri":"http://example.com/h","hook":"channel_create"}}',
    )
    assert status == 201
    assert body["data"]["name"] == "n"


async def test_missing_content_type_is_json(api: Api, token: str) -> None:
    """A body without Content-Type is parsed as JSON."""
    resp = await api.client.put(
        f"/v2/accounts/{api.master.id}/webhooks",
        data=b'{"data":{"name":"n","uri":"http://example.com/h","hook":"sms"}}',
        headers={"X-Auth-Token": token},
        skip_auto_headers=["Content-Type"],
    )
    assert resp.status == 201


async def test_unsupported_content_type(api: Api, token: str) -> None:
    """A content type Crossbar does not accept is 415."""
    status, _, _ = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}/webhooks",
        token=token,
        headers={"Content-Type": "application/xml"},
        raw=b"<data/>",
    )
    assert status == 415


async def test_private_keys_dropped(api: Api, token: str) -> None:
    """``pvt_*`` and ``_*`` keys in data are ignored."""
    status, body, _ = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}/webhooks",
        token=token,
        data={**HOOK, "pvt_type": "webhook", "_rev": "9-x", "ui_metadata": {"v": 1}},
    )
    assert status == 201
    assert "pvt_type" not in body["data"]
    assert "_rev" not in body["data"]
    assert body["data"]["ui_metadata"] == {"v": 1}


async def test_auth_token_from_query_envelope_and_bearer(api: Api, token: str) -> None:
    """The token is read from the query string, the envelope and Authorization: Bearer."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    status, _, _ = await api.call("GET", f"{path}?auth_token={token}")
    assert status == 200
    status, _, _ = await api.call("GET", path, headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    status, _, _ = await api.call("PUT", path, json={"data": HOOK, "auth_token": token})
    assert status == 201


async def test_verb_tunnelling(api: Api, token: str) -> None:
    """A POST with ``verb=PUT`` creates, and with ``verb=DELETE`` deletes."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    status, body, _ = await api.call("POST", f"{path}?verb=PUT", token=token, data=HOOK)
    assert status == 201
    hook_id = body["data"]["id"]
    status, body, _ = await api.call(
        "POST", f"{path}/{hook_id}", token=token, json={"data": {}, "verb": "DELETE"}
    )
    assert status == 200
    assert body["data"]["_read_only"] == {"deleted": True}


async def test_param_lookup_order(api: Api, token: str) -> None:
    """A parameter in data wins over the query string (page_size here)."""
    path = f"/v2/accounts/{api.master.id}/webhooks"
    for _ in range(3):
        await api.call("PUT", path, token=token, data=HOOK)
    _, body, _ = await api.call("GET", f"{path}?page_size=2", token=token)
    assert body["page_size"] == 2
    resp = await api.client.get(
        f"{path}?page_size=2",
        headers={"X-Auth-Token": token},
        json={"data": {"page_size": 1}},
    )
    assert (await resp.json())["page_size"] == 1


async def test_trailing_slash_ignored(api: Api, token: str) -> None:
    """A trailing ``/`` names the same resource."""
    status, _, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/webhooks/", token=token)
    assert status == 200


@pytest.fixture(name="limited")
async def fixture_limited(api: Api) -> AsyncIterator[TestClient[Any, Any]]:
    """A second app on the same store with a 1 request/s budget per token."""
    deps = api.deps(settings=api.settings.replace(rate_limit_per_s=1))
    async with TestClient(TestServer(create_app(deps))) as client:
        yield client


async def test_rate_limited(limited: TestClient[Any, Any], token: str) -> None:
    """Past the bucket (2 * rate) a token gets 429 too_many_requests, and tokens show it."""
    statuses, remaining = [], []
    for _ in range(4):
        resp = await limited.get("/v2/webhooks", headers={"X-Auth-Token": token})
        body = await resp.json()
        statuses.append(resp.status)
        remaining.append(body["tokens"]["remaining"])
    assert statuses[:2] == [200, 200]
    assert remaining[0] > remaining[1]
    assert statuses[-1] == 429
    assert body["message"] == "too_many_requests"
    assert body["data"] == {"message": "too many requests"}
    assert body["tokens"] == {"consumed": 1, "remaining": 0}  # the cost, as Crossbar reports it
    other = await limited.get("/v2/webhooks")  # another caller has its own bucket
    assert other.status == 200
