"""A hook imported from Kazoo through the API: Kazoo's private fields are never shown and
survive an edit (so a later import still knows which Kazoo revision the hook came from)."""

from __future__ import annotations

from webhooksd.kazoo.import_hooks import KAZOO_REV
from webhooksd.records import HookDoc

from .conftest import Api

HOOK_ID = "1d" * 16


async def test_private_fields_are_hidden_and_kept(api: Api, token: str) -> None:
    """GET shows no `pvt_kazoo_rev`; a full POST of what GET returned keeps it stored."""
    await api.store.create_hook(
        HookDoc(
            id=HOOK_ID,
            account_id=api.master.id,
            doc={
                "name": "from kazoo",
                "uri": "https://receiver.example/kazoo",
                "hook": "channel_create",
                KAZOO_REV: "3-abc",
            },
        )
    )
    path = f"/v2/accounts/{api.master.id}/webhooks/{HOOK_ID}"
    status, got, _ = await api.call("GET", path, token=token)
    assert status == 200
    assert KAZOO_REV not in got["data"]
    status, saved, _ = await api.call(
        "POST", path, token=token, data={**got["data"], "name": "edited here"}
    )
    assert (status, saved["data"]["name"]) == (200, "edited here")
    assert KAZOO_REV not in saved["data"]
    stored = await api.store.get_hook(HOOK_ID)
    assert stored is not None
    assert stored.doc[KAZOO_REV] == "3-abc"
    assert stored.doc["name"] == "edited here"
