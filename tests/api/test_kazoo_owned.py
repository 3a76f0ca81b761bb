"""Beside Kazoo (``kazoo_couch_url`` set) accounts are Kazoo's: account writes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

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
