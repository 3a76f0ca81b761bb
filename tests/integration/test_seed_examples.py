"""The curl examples of Kazoo's webhooks API documentation, replayed against the daemon."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.integration.conftest import DaemonFactory, RunningDaemon


async def _curl(
    d: RunningDaemon,
    method: str,
    path: str,
    body: str | None = None,
    content_type: str | None = "application/json",
) -> tuple[int, Any]:
    """As curl sends it: the token header, the body bytes as written, the given type."""
    headers = {"X-Auth-Token": d.token}
    if content_type:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, d.base + path, data=body.encode() if body else None, headers=headers
        ) as resp,
    ):
        assert resp.headers["Content-Type"] == "application/json"
        return resp.status, orjson.loads(await resp.read())


async def test_documented_curl_examples(daemons: DaemonFactory, sqlite_store_url: str) -> None:
    """List hook types, create, get, edit, patch, list, delete and list attempts exactly as
    the documentation's curl lines do (curl -d sends form-urlencoded unless told)."""
    d = await daemons(sqlite_store_url, amqp_url="memory://")
    a = f"/v2/accounts/{d.master_id}"
    status, body = await _curl(d, "GET", "/v2/webhooks")
    assert status == 200 and {"channel_create", "object"} <= {h["id"] for h in body["data"]}
    created = (
        '{"data":{"name":"New Calls", "uri":"http://my.example.com/calls/new.php", '
        '"http_verb":"post", "hook":"channel_create", "retries":3}}'
    )
    status, body = await _curl(d, "PUT", f"{a}/webhooks", created)
    assert status == 201 and body["data"]["retries"] == 3
    hook_id = body["data"]["id"]
    status, body = await _curl(d, "GET", f"{a}/webhooks/{hook_id}", content_type=None)
    assert status == 200 and body["data"]["name"] == "New Calls"
    edited = created.replace("new.php", "new_calls.php")
    status, body = await _curl(d, "POST", f"{a}/webhooks/{hook_id}", edited)
    assert status == 200 and body["data"]["uri"].endswith("new_calls.php")
    # curl's default -d type: the body is read as JSON when it is not a form
    status, body = await _curl(
        d,
        "PATCH",
        f"{a}/webhooks/{hook_id}",
        '{"data":{"enabled":true}}',
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200 and body["data"]["enabled"] is True
    status, body = await _curl(d, "GET", f"{a}/webhooks", content_type=None)
    assert status == 200 and [h["id"] for h in body["data"]] == [hook_id]
    status, body = await _curl(d, "DELETE", f"{a}/webhooks/{hook_id}", content_type=None)
    assert status == 200 and body["data"]["_read_only"] == {"deleted": True}
    status, body = await _curl(d, "GET", f"{a}/webhooks/attempts", content_type=None)
    assert status == 200 and body["data"] == []
