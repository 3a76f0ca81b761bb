"""Bulk re-enable of auto-disabled hooks (reference §3.10)."""

from __future__ import annotations

from dataclasses import replace

from webhooksd.kazoo.ids import new_id
from webhooksd.records import AUTO_DISABLE_REASON, HookDoc

from .conftest import Api


async def hook(api: Api, account_id: str, *, enabled: bool, auto: bool) -> HookDoc:
    doc = {"name": "n", "uri": "http://example.com/h", "hook": "sms", "enabled": enabled}
    stored = await api.store.create_hook(HookDoc(id=new_id(), account_id=account_id, doc=doc))
    if auto:
        stored = await api.store.update_hook(replace(stored, disabled_reason=AUTO_DISABLE_REASON))
    return stored


async def states(api: Api, *hooks: HookDoc) -> list[bool]:
    return [(await api.store.get_hook(h.id)).enabled for h in hooks]  # type: ignore[union-attr]


async def test_reenable_required(api: Api, token: str) -> None:
    """Without re-enable the collection PATCH is 400 with Kazoo's message."""
    status, body, _ = await api.call(
        "PATCH", f"/v2/accounts/{api.master.id}/webhooks", token=token, data={}
    )
    assert status == 400
    assert body["data"] == {
        "re-enable": {"required": {"message": "re-enable is required to patch collections"}}
    }


async def test_reenable_not_truthy(api: Api, token: str) -> None:
    """A re-enable value that is not true is 400 enum [true]."""
    status, body, _ = await api.call(
        "PATCH", f"/v2/accounts/{api.master.id}/webhooks", token=token, data={"re-enable": "nope"}
    )
    assert status == 400
    assert body["data"] == {
        "re-enable": {
            "enum": {"message": "value not found in enumerated list of values", "target": [True]}
        }
    }


async def test_only_auto_disabled_come_back(api: Api, token: str) -> None:
    """Only hooks the server disabled are re-enabled; manual ones stay off."""
    auto = await hook(api, api.master.id, enabled=False, auto=True)
    manual = await hook(api, api.master.id, enabled=False, auto=False)
    on = await hook(api, api.master.id, enabled=True, auto=False)
    status, body, _ = await api.call(
        "PATCH", f"/v2/accounts/{api.master.id}/webhooks", token=token, data={"re-enable": True}
    )
    assert (status, body["data"]) == (200, "hooks updated")
    assert "revision" not in body
    assert await states(api, auto, manual, on) == [True, False, True]


async def test_query_string_flag_and_descendants(api: Api, token: str) -> None:
    """``?re-enable=true`` works; the descendants path also reaches sub-accounts."""
    parent, _ = await api.sub_account("parent")
    child, _ = await api.sub_account("child", parent.id)
    mine = await hook(api, parent.id, enabled=False, auto=True)
    theirs = await hook(api, child.id, enabled=False, auto=True)
    await api.call("PATCH", f"/v2/accounts/{parent.id}/webhooks?re-enable=true", token=token)
    assert await states(api, mine, theirs) == [True, False]
    status, body, _ = await api.call(
        "PATCH",
        f"/v2/accounts/{parent.id}/descendants/webhooks",
        token=token,
        data={"re-enable": "true"},
    )
    assert (status, body["data"]) == (200, "hooks updated")
    assert await states(api, theirs) == [True]
