"""Beside Kazoo (``kazoo_couch_url`` set) accounts are Kazoo's: account writes are refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from webhooksd.api import create_app
from webhooksd.config import Settings

from .conftest import Api


@pytest.fixture(name="settings")
def fixture_settings(tmp_path: Path) -> Settings:
    """The API's test settings with the Kazoo mirror switched on (nothing needs to answer
    there: the API only reads the setting)."""
    return Settings(
        store_url=f"sqlite:///{tmp_path}/api.sqlite3",
        node_name="webhooksd@test",
        allow_private_targets=True,
        kazoo_couch_url="http://127.0.0.1:9/",
    )


async def test_account_writes_refused_while_mirrored(api: Api, token: str) -> None:
    """Create, replace, patch and delete are 403 forbidden naming Kazoo; reads still work."""
    child, _ = await api.sub_account("kazoo-child")
    writes = [
        ("PUT", f"/v2/accounts/{api.master.id}", {"name": "new"}),
        ("POST", f"/v2/accounts/{child.id}", {"name": "renamed"}),
        ("PATCH", f"/v2/accounts/{child.id}", {"name": "renamed"}),
        ("PATCH", f"/v2/accounts/{child.id}", {"enabled": False}),
        ("PATCH", f"/v2/accounts/{child.id}", {"realm": "elsewhere.example"}),
        ("DELETE", f"/v2/accounts/{child.id}", None),
    ]
    for method, path, data in writes:
        status, body, _ = await api.call(method, path, token=token, data=data)
        assert (status, body["message"]) == (403, "forbidden"), (method, body)
        assert body["data"]["cause"] == "kazoo_accounts"
        assert "Kazoo" in body["data"]["message"]
    stored = await api.store.get_account(child.id)
    assert stored is not None and stored.name == "kazoo-child"
    status, body, _ = await api.call("GET", f"/v2/accounts/{child.id}", token=token)
    assert (status, body["data"]["name"]) == (200, "kazoo-child")
    assert len(await api.store.list_accounts()) == 2


async def test_other_fields_of_a_mirrored_account_may_be_saved(api: Api, token: str) -> None:
    """MonsterUI's webhooks app saves its group registry on the account document: fields
    Kazoo's mirror does not own are saved; the private Kazoo revision is kept, never shown."""
    child, _ = await api.sub_account("kazoo-child")
    mirrored = replace(child, doc={"pvt_kazoo_rev": "7-abc", "timezone": "UTC"}, revision=7)
    assert await api.store.put_mirrored_accounts([(mirrored, None)]) == [child.id]
    path = f"/v2/accounts/{child.id}"
    status, body, _ = await api.call("GET", path, token=token)
    assert status == 200 and "pvt_kazoo_rev" not in body["data"]
    doc = {**body["data"], "ui_flags": {"webhooks": {"groups": {"CRM": 1}}}}
    status, body, _ = await api.call("POST", path, token=token, data=doc)
    assert status == 200, body
    assert body["data"]["ui_flags"] == {"webhooks": {"groups": {"CRM": 1}}}
    stored = await api.store.get_account(child.id)
    assert stored is not None and stored.doc["pvt_kazoo_rev"] == "7-abc"


async def test_readyz_shows_advisory_checks(api: Api) -> None:
    """An advisory check (the mirror's CouchDB once loaded) shows in /readyz and makes it
    "degraded" but still 200; a readiness check of the same name decides the status."""
    readiness = {"store": True, "kazoo_accounts": True}
    advisories = {"kazoo_accounts": True}
    deps = api.deps(readiness=lambda: readiness, advisories=lambda: advisories)
    async with TestClient(TestServer(create_app(deps))) as client:

        async def readyz() -> tuple[int, dict[str, object]]:
            resp = await client.get("/readyz")
            return resp.status, await resp.json()

        assert await readyz() == (200, {"status": "ready", "checks": readiness})
        advisories["kazoo_accounts"] = False
        status, body = await readyz()
        assert (status, body["status"], body["checks"]) == (
            200,
            "degraded",
            {"store": True, "kazoo_accounts": False},
        )
        readiness["kazoo_accounts"] = False
        status, body = await readyz()
        assert (status, body["status"]) == (503, "not ready")
