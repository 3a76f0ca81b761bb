"""api_auth, tokens and the account endpoints hooks need (reference §1.4-1.5)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp.test_utils import TestClient, TestServer

from tests.waiting import eventually
from webhooksd.accounts.cache import AccountCache
from webhooksd.api import create_app
from webhooksd.api.deps import ACCOUNTS
from webhooksd.hooks.table import HookTable
from webhooksd.listeners.config import ConfigListener
from webhooksd.records import Hook
from webhooksd.runtime.metrics import Metrics
from webhooksd.runtime.supervisor import ChildHandle

from .conftest import Api


async def test_api_auth_shape(api: Api) -> None:
    """api_auth answers 201 with the token in the envelope and Kazoo's data keys."""
    status, body, _ = await api.call("PUT", "/v2/api_auth", data={"api_key": api.master_key})
    assert status == 201
    assert body["auth_token"].count(".") == 2
    assert body["data"] == {
        "account_id": api.master.id,
        "account_name": "master",
        "apps": [],
        "is_master_account": True,
        "is_reseller": True,
        "language": "en-us",
        "reseller_id": api.master.id,
    }


async def test_api_auth_refusals(api: Api) -> None:
    """A wrong key is 401; a missing key is 400 required."""
    status, body, _ = await api.call("PUT", "/v2/api_auth", data={"api_key": "0" * 64})
    assert (status, body["message"]) == (401, "invalid_credentials")
    status, body, _ = await api.call("PUT", "/v2/api_auth", data={})
    assert status == 400
    assert body["data"]["api_key"]["required"]["value"] == "api_key"


async def test_sub_account_auth_data(api: Api) -> None:
    """A sub-account is not master and its reseller is the master account."""
    account, key = await api.sub_account("tenant")
    _, body, _ = await api.call("PUT", "/v2/api_auth", data={"api_key": key})
    assert body["data"]["account_id"] == account.id
    assert body["data"]["is_master_account"] is False
    assert body["data"]["reseller_id"] == api.master.id


async def test_tokens_shared_between_instances(api: Api, token: str) -> None:
    """A second app on the same store accepts the first one's tokens (shared secret)."""
    deps = api.deps()
    async with TestClient(TestServer(create_app(deps))) as other:
        resp = await other.get(
            f"/v2/accounts/{api.master.id}/webhooks", headers={"X-Auth-Token": token}
        )
        assert resp.status == 200


async def test_token_of_deleted_account(api: Api, token: str) -> None:
    """The token of a deleted account no longer authenticates."""
    account, key = await api.sub_account("gone")
    gone = await api.token(key)
    status, _, _ = await api.call("DELETE", f"/v2/accounts/{account.id}", token=token)
    assert status == 200
    status, body, _ = await api.call("GET", f"/v2/accounts/{api.master.id}/webhooks", token=gone)
    assert (status, body["message"]) == (401, "invalid_credentials")


async def test_create_sub_account_returns_key(api: Api, token: str) -> None:
    """PUT /accounts/{P} creates a child (201, Location) whose api_key logs in."""
    status, body, headers = await api.call(
        "PUT",
        f"/v2/accounts/{api.master.id}",
        token=token,
        data={"name": "child", "realm": "child.example.com", "timezone": "UTC"},
    )
    assert status == 201
    child = body["data"]
    assert headers["Location"] == f"/v2/accounts/{child['id']}"
    assert child["realm"] == "child.example.com"
    assert child["timezone"] == "UTC"
    assert len(child["api_key"]) == 64
    child_token = await api.token(child["api_key"])
    status, body, _ = await api.call("GET", f"/v2/accounts/{child['id']}", token=child_token)
    assert status == 200
    assert "api_key" not in body["data"]
    stored = await api.store.get_account(child["id"])
    assert stored is not None
    assert stored.tree == (api.master.id,)


async def test_account_validation(api: Api, token: str) -> None:
    """An account needs a non-empty string name."""
    status, body, _ = await api.call("PUT", f"/v2/accounts/{api.master.id}", token=token, data={})
    assert status == 400
    assert "required" in body["data"]["name"]


async def test_replace_and_patch_account(api: Api, token: str) -> None:
    """POST replaces the public fields; PATCH merges and null deletes."""
    account, _ = await api.sub_account("acct")
    path = f"/v2/accounts/{account.id}"
    status, body, _ = await api.call(
        "POST", path, token=token, data={"name": "renamed", "language": "fr-fr"}
    )
    assert status == 200
    assert (body["data"]["name"], body["data"]["language"]) == ("renamed", "fr-fr")
    status, body, _ = await api.call(
        "PATCH", path, token=token, data={"language": None, "note": "x"}
    )
    assert status == 200
    assert "language" not in body["data"]
    assert (body["data"]["name"], body["data"]["note"]) == ("renamed", "x")


async def test_children_and_descendants(api: Api, token: str) -> None:
    """children lists direct sub-accounts, descendants every one below."""
    parent, _ = await api.sub_account("parent")
    child, _ = await api.sub_account("child", parent.id)
    grandchild, _ = await api.sub_account("grandchild", child.id)
    _, body, _ = await api.call("GET", f"/v2/accounts/{parent.id}/children", token=token)
    assert [a["id"] for a in body["data"]] == [child.id]
    _, body, _ = await api.call("GET", f"/v2/accounts/{parent.id}/descendants", token=token)
    assert {a["id"] for a in body["data"]} == {child.id, grandchild.id}


async def test_delete_refusals(api: Api, token: str) -> None:
    """The master account cannot be deleted, nor an account that has sub-accounts."""
    status, _, _ = await api.call("DELETE", f"/v2/accounts/{api.master.id}", token=token)
    assert status == 403
    parent, _ = await api.sub_account("parent")
    await api.sub_account("child", parent.id)
    status, body, _ = await api.call("DELETE", f"/v2/accounts/{parent.id}", token=token)
    assert (status, body["message"]) == (400, "account_has_descendants")


async def test_sibling_cannot_read_account(api: Api) -> None:
    """Account endpoints follow the hierarchy too."""
    _, key = await api.sub_account("one")
    two, _ = await api.sub_account("two")
    status, _, _ = await api.call("GET", f"/v2/accounts/{two.id}", token=await api.token(key))
    assert status == 403


async def test_create_sub_account_with_a_kazoo_id(api: Api, token: str) -> None:
    """data.id keeps a Kazoo account id (fixture-style or hex) under its parent; the api_key
    logs in as that id; the same id again is Crossbar's 409 datastore_conflict."""
    path = f"/v2/accounts/{api.master.id}"
    for account_id in ("account0000000000000000000000002", "0f" * 16):
        status, body, headers = await api.call(
            "PUT", path, token=token, data={"name": f"k-{account_id[:4]}", "id": account_id}
        )
        assert status == 201, body
        assert body["data"]["id"] == account_id
        assert headers["Location"] == f"/v2/accounts/{account_id}"
        stored = await api.store.get_account(account_id)
        assert stored is not None and stored.tree == (api.master.id,)
        _, auth, _ = await api.call(
            "PUT", "/v2/api_auth", data={"api_key": body["data"]["api_key"]}
        )
        assert auth["data"]["account_id"] == account_id
    status, body, _ = await api.call(
        "PUT", path, token=token, data={"name": "again", "id": "0f" * 16}
    )
    assert (status, body["message"], body["data"]) == (
        409,
        "datastore_conflict",
        {"message": "conflicting documents"},
    )


async def test_create_sub_account_with_a_malformed_id(api: Api, token: str) -> None:
    """A malformed data.id is a Crossbar 400 naming the field; nothing is created."""
    path = f"/v2/accounts/{api.master.id}"
    before = len(await api.store.list_accounts())
    for bad in ("ABCDEF" + "0" * 26, "a" * 31, "a" * 33, "account/00/00/00000000000000000000"):
        status, body, _ = await api.call("PUT", path, token=token, data={"name": "x", "id": bad})
        assert (status, body["message"]) == (400, "validation error"), bad
        assert body["data"]["id"]["pattern"]["value"] == bad
    status, body, _ = await api.call("PUT", path, token=token, data={"name": "x", "id": 7})
    assert (status, body["data"]["id"]["type"]["target"]) == (400, "string")
    assert len(await api.store.list_accounts()) == before


async def test_disabled_account_stops_at_once(api: Api, token: str) -> None:
    """After its parent disables it, the account's token, its API key and the token of its
    sub-account all stop (Kazoo: a disabled parent blocks the sub-accounts), including on a
    second instance that had the accounts cached; only an ancestor re-enables it."""
    tenant, key = await api.sub_account("tenant")
    child, child_key = await api.sub_account("child", parent=tenant.id)
    own, child_token = await api.token(key), await api.token(child_key)
    hooks = f"/v2/accounts/{tenant.id}/webhooks"
    status, _, _ = await api.call(
        "PATCH", f"/v2/accounts/{tenant.id}", token=own, data={"enabled": False}
    )
    assert status == 403, "an account may not switch itself off"
    deps = api.deps()
    async with TestClient(TestServer(create_app(deps))) as other:
        resp = await other.get(hooks, headers={"X-Auth-Token": own})
        assert resp.status == 200  # cached there now
        status, _, _ = await api.call(
            "PATCH", f"/v2/accounts/{tenant.id}", token=token, data={"enabled": False}
        )
        assert status == 200
        for credentials, path in ((own, hooks), (child_token, f"/v2/accounts/{child.id}/webhooks")):
            status, body, _ = await api.call("GET", path, token=credentials)
            assert (status, body["message"]) == (401, "invalid_credentials")
        status, _, _ = await api.call(
            "PATCH", f"/v2/accounts/{tenant.id}", token=own, data={"enabled": True}
        )
        assert status == 401
        status, _, _ = await api.call("PUT", "/v2/api_auth", data={"api_key": key})
        assert status == 401
        # the second instance forgets the account when the change reaches it on the bus
        # (the daemon's config listener); without a listener here, it forgets it by hand
        other.app[ACCOUNTS].forget(tenant.id)
        resp = await other.get(hooks, headers={"X-Auth-Token": own})
        assert resp.status == 401
    status, _, _ = await api.call(
        "PATCH", f"/v2/accounts/{tenant.id}", token=token, data={"enabled": True}
    )
    assert status == 200
    status, _, _ = await api.call("GET", hooks, token=own)
    assert status == 200


async def test_realm_taken_is_a_clear_400(api: Api, token: str) -> None:
    """A realm another account has, in any case, is refused at create and at edit with
    Kazoo's 400 ``unique`` on ``realm``; keeping one's own realm is fine."""
    base = f"/v2/accounts/{api.master.id}"
    status, body, _ = await api.call(
        "PUT", base, token=token, data={"name": "first", "realm": "pbx.example.com"}
    )
    assert status == 201, body
    first_id = body["data"]["id"]
    for method, path, data in (
        ("PUT", base, {"name": "second", "realm": "PBX.example.com"}),
        ("PATCH", f"/v2/accounts/{api.master.id}", {"realm": "pbx.EXAMPLE.com"}),
    ):
        status, body, _ = await api.call(method, path, token=token, data=data)
        assert (status, body["message"]) == (400, "validation error"), body
        assert body["data"]["realm"]["unique"]["cause"] == data["realm"]
    status, _, _ = await api.call(
        "PATCH", f"/v2/accounts/{first_id}", token=token, data={"name": "first, renamed"}
    )
    assert status == 200


async def test_disable_reaches_a_second_instance_on_the_bus(api: Api, token: str) -> None:
    """Two instances on one store and bus: when the first disables an account, the second
    (which had it cached, with a long TTL) refuses its token as soon as the change notice
    reaches its config listener, and its hook table stops the account's own hooks."""
    tenant, key = await api.sub_account("tenant")
    own = await api.token(key)
    table = HookTable()
    table.put_account(tenant)
    table.put(Hook(id="h" * 32, account_id=tenant.id, name="n", uri="http://x/", hook="all"))
    deps = api.deps(accounts=AccountCache(api.store, ttl_s=3600))
    app = create_app(deps)
    listener = ConfigListener(
        bus=api.bus,
        metrics=Metrics(),
        store=api.store,
        table=table,
        known_hooks={"all"},
        drain_timeout_s=1,
        on_account_change=app[ACCOUNTS].forget,
    )
    handle = ChildHandle("config")
    task = asyncio.create_task(listener(handle))
    try:
        await asyncio.wait_for(handle.wait_ready(), 5)
        async with TestClient(TestServer(app)) as other:
            hooks = f"/v2/accounts/{tenant.id}/webhooks"

            async def status_there() -> int:
                resp = await other.get(hooks, headers={"X-Auth-Token": own})
                return resp.status

            assert await status_there() == 200
            assert table.find("channel_create", tenant.id) != []
            status, _, _ = await api.call(
                "PATCH", f"/v2/accounts/{tenant.id}", token=token, data={"enabled": False}
            )
            assert status == 200

            async def refused() -> bool:
                return await status_there() == 401

            await eventually(refused, what="the second instance refuses the token")
            assert table.find("channel_create", tenant.id) == []
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
