"""Kazoo's ``pqc_cb_webhooks`` sequences A (samples), C (bad URL) and D (envelope), run
against the app as pqc sends them (reference §5)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from webhooksd.api import ApiDeps, create_app
from webhooksd.runtime.metrics import Metrics

from .conftest import Api


def pqc_headers(token: str) -> dict[str, str]:
    return {
        "X-Auth-Token": token,
        "X-Request-ID": "pqc-1",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


async def pqc(
    api: Api, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any, Any]:
    resp = await api.client.request(method, path, headers=pqc_headers(token), json=body)
    return resp.status, await resp.json(), resp.headers


async def create_account(api: Api, token: str, master_id: str) -> str:
    status, body, headers = await pqc(
        api, "PUT", f"/v2/accounts/{master_id}", token, {"data": {"name": "account_for_webhooks"}}
    )
    assert status == 201
    assert headers["Content-Type"] == "application/json"
    return str(body["data"]["id"])


async def cleanup(api: Api, token: str, master_id: str) -> None:
    status, body, _ = await pqc(
        api,
        "GET",
        f"/v2/accounts/{master_id}/search?t=account&q=name&v=account_for_webhooks",
        token,
    )
    assert status == 200
    account_id = body["data"][0]["id"]
    status, _, _ = await pqc(api, "DELETE", f"/v2/accounts/{account_id}", token)
    assert status == 200


async def login(api: Api) -> tuple[str, str]:
    status, body, _ = await pqc(
        api, "PUT", "/v2/api_auth", "", {"data": {"api_key": api.master_key}}
    )
    assert status == 201
    return str(body["auth_token"]), str(body["data"]["account_id"])


async def test_seq_samples(api: Api) -> None:
    """Scenario A: catalogue, sample names, every sample set, a new account has no hooks."""
    token, master_id = await login(api)
    status, body, _ = await pqc(api, "GET", "/v2/webhooks", token)
    assert status == 200
    assert isinstance(body["data"], list) and body["data"]
    status, body, _ = await pqc(api, "GET", "/v2/webhooks/samples", token)
    assert status == 200
    names = body["data"]
    assert names and all(isinstance(n, str) for n in names)
    for name in names:
        status, sample, headers = await pqc(api, "GET", f"/v2/webhooks/samples/{name}", token)
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        assert sample["page_size"] == len(sample["data"]) > 0
    account_id = await create_account(api, token, master_id)
    status, body, _ = await pqc(api, "GET", f"/v2/accounts/{account_id}/webhooks", token)
    assert (status, body["data"]) == (200, [])
    await cleanup(api, token, master_id)
    assert await api.store.get_account(account_id) is None


async def test_seq_url(api: Api) -> None:
    """Scenario C: Kazoo's bad_url_webhook is refused with the exact 400 body."""
    token, master_id = await login(api)
    strict = api.settings.replace(allow_private_targets=False)
    assert not strict.allow_private_targets
    account_id = await create_account(api, token, master_id)
    bad = {
        "data": {
            "enabled": True,
            "format": "form-data",
            "http_verb": "post",
            "include_internal_legs": True,
            "retries": 2,
            "pvt_type": "webhook",
            "uri": "https://localhost:345/webhook",
            "name": "pqc_cb_webhooks",
            "hook": "channel_destroy",
        }
    }
    # the shared app allows loopback targets for the delivery tests; pqc's check is the
    # strict one, so run it against an app with Kazoo's blacklist
    deps = ApiDeps(
        settings=strict,
        store=api.store,
        bus=api.bus,
        metrics=Metrics(),
        tester=api.tester,
        readiness=dict,
    )
    async with TestClient(TestServer(create_app(deps))) as client:
        resp = await client.put(
            f"/v2/accounts/{account_id}/webhooks", headers=pqc_headers(token), json=bad
        )
        body = await resp.json()
    assert resp.status == 400
    assert {k: body[k] for k in ("data", "error", "message", "status")} == {
        "data": {
            "uri": {
                "error": {"message": "invalid client URL", "value": "https://localhost:345/webhook"}
            }
        },
        "error": "400",
        "message": "validation error",
        "status": "error",
    }
    await cleanup(api, token, master_id)


async def test_seq_resp_envelope(api: Api) -> None:
    """Scenario D: version with a token, none for a request with no headers at all."""
    token, _ = await login(api)
    status, body, _ = await pqc(api, "GET", "/v2/webhooks", token)
    assert status == 200
    assert "version" in body
    resp = await api.client.get(
        "/v2/webhooks", skip_auto_headers=["Accept", "Accept-Encoding", "User-Agent"]
    )
    assert resp.status == 200
    assert "version" not in await resp.json()
