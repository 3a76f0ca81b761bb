"""The MonsterUI webhooks app's call sequence (reference monsterui-client §2), in order."""

from __future__ import annotations

from dataclasses import replace

from webhooksd.kazoo.ids import new_id
from webhooksd.kazoo.timeutil import GREGORIAN_OFFSET, now_ms
from webhooksd.records import AUTO_DISABLE_REASON, Account, AttemptRecord

from .conftest import Api

UI_METADATA = {"version": "4.3", "ui": "monster-ui", "origin": "webhooks"}


async def test_monsterui_sequence(api: Api) -> None:
    """Create, list, get, full-POST toggle, PATCH re-enable, attempts paging, re-enable all,
    delete: every answer has what the UI reads."""
    account, key = await api.sub_account("customer")
    await monsterui_sequence(api, account, await api.token(key))


async def monsterui_sequence(api: Api, account: Account, token: str) -> None:
    """The webhooks app's calls for ``account``, authenticated with ``token``."""
    base = f"/v2/accounts/{account.id}/webhooks"

    # catalogue for the hook picker (no account id)
    _, catalogue, _ = await api.call("GET", "/v2/webhooks", token=token)
    assert {"id", "name", "description"} <= set(catalogue["data"][0])

    # create (API 5): the form's payload, modifiers inside custom_data
    form = {
        "name": "Users",
        "hook": "object",
        "uri": "http://crm.example.com/users",
        "http_verb": "post",
        "retries": 3,
        "include_subaccounts": False,
        "format": "json",
        "custom_data": {"type": "user", "action": "doc_edited", "team": "blue"},
        "custom_request_headers": {"X-Crm": "1"},
        "group": "CRM",
        "ui_metadata": UI_METADATA,
    }
    status, body, _ = await api.call("PUT", base, token=token, data=form)
    assert status == 201
    hook_id, name = body["data"]["id"], body["data"]["name"]
    assert name == "Users"

    # list (API 1): summaries with group
    _, listing, _ = await api.call("GET", base, token=token)
    assert listing["data"] == [
        {
            "id": hook_id,
            "hook": "object",
            "name": "Users",
            "uri": form["uri"],
            "enabled": True,
            "group": "CRM",
        }
    ]

    # get (API 4) then toggle by POSTing the whole fetched doc (API 6)
    _, got, _ = await api.call("GET", f"{base}/{hook_id}", token=token)
    assert got["data"]["custom_request_headers"] == {"X-Crm": "1"}
    status, body, _ = await api.call(
        "POST", f"{base}/{hook_id}", token=token, data={**got["data"], "enabled": False}
    )
    assert (status, body["data"]["enabled"], body["data"]["id"]) == (200, False, hook_id)
    assert body["data"]["group"] == "CRM"

    # the server auto-disables it; the UI's "Re-enable this webhook" PATCHes (API 8)
    stored = await api.store.get_hook(hook_id)
    assert stored is not None
    await api.store.update_hook(replace(stored, disabled_reason=AUTO_DISABLE_REASON))
    _, listing, _ = await api.call("GET", base, token=token)
    assert listing["data"][0]["disable_reason"] == AUTO_DISABLE_REASON
    status, body, _ = await api.call(
        "PATCH", f"{base}/{hook_id}", token=token, data={"enabled": True}
    )
    assert (status, body["data"]["enabled"]) == (200, True)
    _, listing, _ = await api.call("GET", base, token=token)
    assert "disable_reason" not in listing["data"][0]

    # request log (API 2): a 7-day range, page_size=50, then next_start_key
    now = now_ms()
    await api.store.add_attempts(
        [
            AttemptRecord(
                id=new_id(),
                account_id=account.id,
                hook_id=hook_id,
                event_id=new_id()[:10],
                created_ms=now - i * 1000,
                result="failure",
                counts_as_failure=True,
                doc={
                    "hook_id": hook_id,
                    "result": "failure",
                    "method": "post",
                    "reason": "bad response code",
                    "resp_status_code": "500",
                    "retries_left": 1,
                },
            )
            for i in range(60)
        ]
    )
    to = now // 1000 + GREGORIAN_OFFSET
    query = f"created_from={to - 7 * 86400}&created_to={to}&page_size=50"
    _, page1, _ = await api.call("GET", f"{base}/{hook_id}/attempts?{query}", token=token)
    assert len(page1["data"]) == 50
    assert {"timestamp", "method", "result", "reason", "resp_status_code"} <= set(page1["data"][0])
    _, page2, _ = await api.call(
        "GET",
        f"{base}/{hook_id}/attempts?{query}&start_key={page1['next_start_key']}",
        token=token,
    )
    assert len(page2["data"]) == 10
    assert "next_start_key" not in page2
    stamps = [a["timestamp"] for a in page1["data"] + page2["data"]]
    assert stamps == sorted(stamps, reverse=True)
    _, everything, _ = await api.call(
        "GET",
        f"{base}/{hook_id}/attempts?created_from={to - 86400}&created_to={to}&paginate=false",
        token=token,
    )
    assert len(everything["data"]) == 60

    # "Re-enable all failing webhooks" (API 9)
    status, body, _ = await api.call("PATCH", base, token=token, data={"re-enable": True})
    assert (status, body["data"]) == (200, "hooks updated")

    # group registry on the account doc (API 10)
    _, acct, _ = await api.call("GET", f"/v2/accounts/{account.id}", token=token)
    doc = {**acct["data"], "ui_flags": {"webhooks": {"groups": {"CRM": 1}}}}
    status, body, _ = await api.call("POST", f"/v2/accounts/{account.id}", token=token, data=doc)
    assert status == 200
    assert body["data"]["ui_flags"] == {"webhooks": {"groups": {"CRM": 1}}}

    # delete (API 7): the toast reads data.name
    status, body, _ = await api.call("DELETE", f"{base}/{hook_id}", token=token, data={})
    assert (status, body["data"]["name"]) == (200, "Users")
    _, listing, _ = await api.call("GET", base, token=token)
    assert listing["data"] == []


#: what MonsterUI's current webhooks app (``monster-ui-webhooks`` ``app.js``, after MWEH-6's
#: rename to ``custom_request_headers``) and a Kazoo 5 client put in a hook document
MONSTERUI_HOOK = {
    "name": "Voicemails",
    "hook": "notifications",
    "uri": "http://crm.example.com/vm",
    "http_verb": "post",
    "retries": 3,
    "include_subaccounts": False,
    "format": "json",
    # the modifier choice (the catalogue's object-shaped modifier) plus a custom row
    "custom_data": {"type": "voicemail_new", "team": "blue"},
    "custom_request_headers": {"X-Crm": "1", "X-Tenant": "acme", "Accept": "application/json"},
    "group": "CRM",
    "ui_metadata": UI_METADATA,
    # the hook document's own modifiers (webhooks_util:maybe_fire_hook/2), both shapes
    "modifiers": {"call_direction": "inbound", "caller_id_number": ["+15555550100", "+1555"]},
    "version": "v2",
}


async def test_monsterui_fields_round_trip_unchanged(api: Api) -> None:
    """PUT, GET, POST of the fetched document, and PATCHes of other fields return and keep
    ``custom_request_headers``, ``group``, ``ui_metadata``, ``custom_data`` with its modifier
    choice and both shapes of ``modifiers`` exactly as sent; the catalogue offers both
    shapes of modifier (``items`` a list, ``items`` an object)."""
    account, key = await api.sub_account("monster")
    token = await api.token(key)
    base = f"/v2/accounts/{account.id}/webhooks"
    _, catalogue, _ = await api.call("GET", "/v2/webhooks", token=token)
    shapes = {
        item["id"]: type(item["modifiers"]["type"]["items"]).__name__
        for item in catalogue["data"]
        if item["id"] in ("object", "notifications")
    }
    assert shapes == {"object": "list", "notifications": "dict"}

    status, body, _ = await api.call("PUT", base, token=token, data=MONSTERUI_HOOK)
    assert status == 201, body
    hook_id = body["data"]["id"]
    defaults = {"enabled": True, "include_internal_legs": True}
    expected = {**MONSTERUI_HOOK, **defaults, "id": hook_id}
    assert body["data"] == expected
    _, got, _ = await api.call("GET", f"{base}/{hook_id}", token=token)
    assert got["data"] == expected
    status, body, _ = await api.call("POST", f"{base}/{hook_id}", token=token, data=got["data"])
    assert (status, body["data"]) == (200, expected)
    for patch in ({"name": "Voicemails 2"}, {"group": "Support"}, {"enabled": False}):
        status, body, _ = await api.call("PATCH", f"{base}/{hook_id}", token=token, data=patch)
        assert status == 200, body
        expected = {**expected, **patch}
        assert body["data"] == expected
    stored = await api.store.get_hook(hook_id)
    assert stored is not None
    assert {k: stored.doc[k] for k in MONSTERUI_HOOK if k not in ("name", "group")} == {
        k: v for k, v in MONSTERUI_HOOK.items() if k not in ("name", "group")
    }
